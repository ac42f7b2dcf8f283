/**
 * C programs built on the interop client library (interop/c/rumpsp.c),
 * compiled with the system gcc into a temporary directory, and run as
 * processes against a server (RUMP_SERVER); for tests written with
 * @effect/vitest.
 */
import { Effect, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

const C_DIR = Path.join(import.meta.dirname, "..", "..", "c")

export interface Outcome {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `file args...` to its end (killed after `timeoutMs`). */
export const runProcess = (
  file: string,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  timeoutMs = 30_000
): Effect.Effect<Outcome> =>
  Effect.callback<Outcome>((resume) => {
    const child = ChildProcess.execFile(
      file,
      [...args],
      { env: { ...process.env, ...env }, timeout: timeoutMs, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === "number" ? error.code : null
        resume(Effect.succeed({ code, stdout: String(stdout), stderr: String(stderr) }))
      }
    )
    return Effect.sync(() => void child.kill("SIGKILL"))
  })

/** Compiles interop/c/<name>.c with the client library; the binary lives as long as the scope. */
export const compileProgram = (name: string): Effect.Effect<string, never, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* Effect.acquireRelease(
      Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "sp-c-"))),
      (d) => Effect.sync(() => Fs.rmSync(d, { recursive: true, force: true }))
    )
    const binary = Path.join(dir, name)
    const cc = yield* runProcess("gcc", [
      "-Wall",
      "-Werror",
      "-pthread",
      "-O2",
      "-o",
      binary,
      Path.join(C_DIR, `${name}.c`),
      Path.join(C_DIR, "rumpsp.c")
    ], {}, 60_000)
    if (cc.code !== 0) return yield* Effect.die(new Error(`gcc ${name}: ${cc.stderr}`))
    return binary
  })

export interface Running {
  readonly stdout: () => string
  readonly stderr: () => string
  readonly kill: (signal: NodeJS.Signals) => void
  readonly ended: Effect.Effect<Outcome>
}

/** Starts `file args...` and leaves it running (SIGKILLed when the scope closes). */
export const startProcess = (
  file: string,
  args: ReadonlyArray<string>,
  env: Record<string, string> = {}
): Effect.Effect<Running, never, Scope.Scope> =>
  Effect.gen(function*() {
    let stdout = ""
    let stderr = ""
    let outcome: Outcome | undefined
    const waiting = new Set<() => void>()
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const c = ChildProcess.spawn(file, [...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] })
        c.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s))
        c.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s))
        c.once("close", (code) => {
          outcome = { code, stdout, stderr }
          for (const w of waiting) w()
        })
        return c
      }),
      (c) => Effect.sync(() => c.exitCode === null && c.signalCode === null && c.kill("SIGKILL"))
    )
    return {
      stdout: () => stdout,
      stderr: () => stderr,
      kill: (signal) => void child.kill(signal),
      ended: Effect.callback<Outcome>((resume) => {
        if (outcome !== undefined) return resume(Effect.succeed(outcome))
        const done = () => resume(Effect.succeed(outcome!))
        waiting.add(done)
        return Effect.sync(() => void waiting.delete(done))
      })
    }
  })
