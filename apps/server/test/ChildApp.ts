/**
 * The app as a real child process: Node 24 (the one running vitest) on the
 * TypeScript sources, with the workspace packages resolved to their sources
 * too. Output is collected; the process is killed if the test's scope
 * closes while it still runs.
 */
import { Effect, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import type { Readable } from "node:stream"

const ENTRIES = {
  "sysproxy-server": Path.join(import.meta.dirname, "..", "src", "main.ts"),
  rump_server: Path.join(import.meta.dirname, "..", "src", "rump_server.ts")
} as const

export interface SpawnOptions {
  readonly program?: keyof typeof ENTRIES
  /** A pipe on descriptor 3 (for --ready-fd 3); what arrives on it is `readyOutput()`. */
  readonly readyPipe?: boolean
}

export interface Ended {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

export interface ChildApp {
  readonly pid: number
  readonly stdout: () => string
  readonly stderr: () => string
  /** Waits until stdout matches, for at most `timeoutMs`; dies with the output so far if it never does. */
  readonly waitForStdout: (pattern: RegExp, timeoutMs?: number) => Effect.Effect<void>
  /** Waits until the ready pipe has had a whole line, and gives it. */
  readonly readyLine: (timeoutMs?: number) => Effect.Effect<string>
  readonly kill: (signal: NodeJS.Signals) => Effect.Effect<void>
  /** Waits for the exit, for at most `timeoutMs`. */
  readonly ended: (timeoutMs?: number) => Effect.Effect<Ended>
}

/** The environment without RUMP_SERVER or any SYSPROXY_* variable, plus `extra`. */
const cleanEnv = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) {
    if (k !== "RUMP_SERVER" && !k.startsWith("SYSPROXY_")) env[k] = v
  }
  return { ...env, ...extra }
}

export const spawnApp = (
  args: ReadonlyArray<string>,
  env: Record<string, string> = {},
  options: SpawnOptions = {}
): Effect.Effect<ChildApp, never, Scope.Scope> =>
  Effect.gen(function*() {
    let out = ""
    let err = ""
    let ready = ""
    let ended: Ended | undefined
    const waiting = new Set<() => void>()
    const wake = () => {
      for (const w of waiting) w()
    }
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const entry = ENTRIES[options.program ?? "sysproxy-server"]
        const c = ChildProcess.spawn(process.execPath, ["--conditions=@sysproxy/source", entry, ...args], {
          env: cleanEnv(env),
          stdio: options.readyPipe === true ? ["ignore", "pipe", "pipe", "pipe"] : ["ignore", "pipe", "pipe"]
        })
        const readyPipe = c.stdio[3] as Readable | null | undefined
        readyPipe?.setEncoding("utf8").on("data", (s: string) => {
          ready += s
          wake()
        })
        c.stdout?.setEncoding("utf8").on("data", (s: string) => {
          out += s
          wake()
        })
        c.stderr?.setEncoding("utf8").on("data", (s: string) => {
          err += s
          wake()
        })
        c.once("close", (code, signal) => {
          ended = { code, signal }
          wake()
        })
        return c
      }),
      (c) => Effect.sync(() => ended === undefined && c.kill("SIGKILL"))
    )

    const until = <A>(check: () => A | undefined, what: string, timeoutMs: number): Effect.Effect<A> =>
      Effect.callback<A>((resume) => {
        const poll = () => {
          const value = check()
          if (value === undefined) return
          clearTimeout(timer)
          waiting.delete(poll)
          resume(Effect.succeed(value))
        }
        const timer = setTimeout(() => {
          waiting.delete(poll)
          resume(Effect.die(new Error(`timed out waiting for ${what}\nstdout: ${out}\nstderr: ${err}`)))
        }, timeoutMs)
        waiting.add(poll)
        poll()
        return Effect.sync(() => {
          clearTimeout(timer)
          waiting.delete(poll)
        })
      })

    return {
      pid: child.pid ?? -1,
      stdout: () => out,
      stderr: () => err,
      waitForStdout: (pattern, timeoutMs = 60_000) =>
        until(() => (pattern.test(out) ? true : ended !== undefined ? false : undefined), `${pattern}`, timeoutMs)
          .pipe(
            Effect.flatMap((found) =>
              found ? Effect.void : Effect.die(new Error(`exited before ${pattern}\nstdout: ${out}\nstderr: ${err}`))
            )
          ),
      readyLine: (timeoutMs = 60_000) =>
        until(() => (ready.includes("\n") ? ready.slice(0, ready.indexOf("\n")) : undefined), "the ready line", timeoutMs),
      kill: (signal) => Effect.sync(() => void child.kill(signal)),
      ended: (timeoutMs = 60_000) => until(() => ended, "the exit", timeoutMs)
    } satisfies ChildApp
  })

/** A fresh temporary directory, removed when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "sp-app-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)
