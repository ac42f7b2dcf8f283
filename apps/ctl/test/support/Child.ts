/**
 * `sysproxy` as a real child process: main.ts on Node 24 (the one running
 * vitest) with the workspace sources, its output collected until it exits.
 */
import { Deferred, Effect, Schedule, type Scope } from "effect"
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
  /** Completes once its stdout so far matches `pattern` (fails if it exits first). */
  readonly waitForStdout: (pattern: RegExp) => Effect.Effect<string>
  /** Completes when it has exited, with its code (null if a signal killed it) and output. */
  readonly exited: Effect.Effect<Exited>
}

/** The environment without RUMP_SERVER, plus `extra`. */
const envWith = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const { RUMP_SERVER: _, ...rest } = process.env
  return { ...rest, ...extra }
}

/** Starts `sysproxy ...args` with stdin a pipe (or `command` instead of node on main.ts: a pty wrapper); killed (SIGKILL) when the scope closes if still running. */
export const startCtl = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  options: { readonly pty?: boolean } = {}
): Effect.Effect<RunningCtl, never, Scope.Scope> =>
  Effect.gen(function*() {
    const exited = yield* Deferred.make<Exited>()
    const seen = { stdout: "" }
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const argv = [process.execPath, "--conditions=@sysproxy/source", MAIN, ...args]
        // script(1) gives the program a pseudo-terminal as stdin and stdout, and relays our pipes to it
        const [command, ...rest] = options.pty === true
          ? ["script", "-qfec", argv.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" "), "/dev/null"]
          : argv
        const c = ChildProcess.spawn(command!, rest, {
          env: envWith(env),
          stdio: ["pipe", "pipe", "pipe"]
        })
        let stdout = ""
        let stderr = ""
        c.stdout.setEncoding("utf8").on("data", (s: string) => {
          stdout += s
          seen.stdout = stdout
        })
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
      waitForStdout: (pattern) =>
        Effect.suspend(() =>
          pattern.test(seen.stdout)
            ? Effect.succeed(seen.stdout)
            : Deferred.isDone(exited).pipe(
              Effect.flatMap((done) =>
                done ? Effect.die(new Error(`exited before stdout matched ${pattern}: ${seen.stdout}`)) : Effect.fail("not yet" as const)
              )
            )
        ).pipe(Effect.retry(Schedule.spaced("20 millis")), Effect.orDie),
      exited: Deferred.await(exited)
    }
  })

/** Whether script(1) is here to give a child a pseudo-terminal. */
export const HAS_SCRIPT = ChildProcess.spawnSync("script", ["--version"]).status === 0

/** Runs `sysproxy ...args` with stdin empty, until it exits. */
export const spawnCtl = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Effect.Effect<Exited> =>
  Effect.scoped(
    Effect.flatMap(startCtl(args, env), (ctl) =>
      Effect.andThen(Effect.sync(() => ctl.stdin.end()), ctl.exited))
  )
