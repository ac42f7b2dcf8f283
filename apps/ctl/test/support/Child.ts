/**
 * `sysproxy` as a real child process: main.ts on Node 24 (the one running
 * vitest) with the workspace sources, its output collected until it exits.
 */
import { Deferred, Effect, type Scope } from "effect"
import * as ChildProcess from "node:child_process"

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname

export interface Exited {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

export interface RunningCtl {
  /** Its stdin, kept open until the test ends it (or the process exits). */
  readonly stdin: NodeJS.WritableStream
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Completes when it has exited, with its code (null if a signal killed it) and output. */
  readonly exited: Effect.Effect<Exited>
}

/** The environment without RUMP_SERVER, plus `extra`. */
const envWith = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const { RUMP_SERVER: _, ...rest } = process.env
  return { ...rest, ...extra }
}

/** Starts `sysproxy ...args` with stdin a pipe; killed (SIGKILL) when the scope closes if still running. */
export const startCtl = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {}
): Effect.Effect<RunningCtl, never, Scope.Scope> =>
  Effect.gen(function*() {
    const exited = yield* Deferred.make<Exited>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const c = ChildProcess.spawn(process.execPath, ["--conditions=@sysproxy/source", MAIN, ...args], {
          env: envWith(env),
          stdio: ["pipe", "pipe", "pipe"]
        })
        let stdout = ""
        let stderr = ""
        c.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s))
        c.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s))
        // a write to a stdin the child has closed is not the test's failure
        c.stdin.on("error", () => undefined)
        c.once("close", (code) => Deferred.doneUnsafe(exited, Effect.succeed({ code, stdout, stderr })))
        return c
      }),
      (c) => Effect.sync(() => c.exitCode === null && c.signalCode === null && c.kill("SIGKILL"))
    )
    return {
      stdin: child.stdin,
      kill: (signal) => Effect.sync(() => void child.kill(signal)),
      exited: Deferred.await(exited)
    }
  })

/** Runs `sysproxy ...args` with stdin empty, until it exits. */
export const spawnCtl = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Effect.Effect<Exited> =>
  Effect.scoped(
    Effect.flatMap(startCtl(args, env), (ctl) =>
      Effect.andThen(Effect.sync(() => ctl.stdin.end()), ctl.exited))
  )
