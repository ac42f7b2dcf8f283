/**
 * serverMain.ts as a child process (Node 24, sources resolved through the
 * @sysproxy/source condition), killed when the scope closes if still alive.
 */
import { Effect, type Scope } from "effect"
import * as ChildProcess from "node:child_process"

const MAIN = new URL("./serverMain.ts", import.meta.url).pathname

export interface ServerProcess {
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
}

/** Starts the server on `path` and waits for its "ready" line. */
export const spawnServer = (path: string): Effect.Effect<ServerProcess, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const child = yield* Effect.acquireRelease(
      Effect.sync(() =>
        ChildProcess.spawn(process.execPath, ["--conditions=@sysproxy/source", MAIN, path], {
          stdio: ["ignore", "pipe", "pipe"]
        })
      ),
      (c) => Effect.sync(() => c.exitCode === null && c.signalCode === null && c.kill("SIGKILL"))
    )
    yield* Effect.callback<void, Error>((resume) => {
      let out = ""
      let err = ""
      child.stdout.setEncoding("utf8").on("data", (s: string) => {
        out += s
        if (out.includes("ready\n")) resume(Effect.void)
      })
      child.stderr.setEncoding("utf8").on("data", (s: string) => {
        err += s
      })
      child.once("exit", (code) => resume(Effect.fail(new Error(`server exited (${code}) before it was ready: ${err}`))))
    })
    return { kill: (signal) => Effect.sync(() => void child.kill(signal)) }
  })
