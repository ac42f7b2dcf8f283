/**
 * `sysproxy` as a real child process: main.ts on Node 24 (the one running
 * vitest) with the workspace sources, its output collected until it exits.
 */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"

const MAIN = new URL("../../src/main.ts", import.meta.url).pathname

export interface Exited {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** The environment without RUMP_SERVER, plus `extra`. */
const envWith = (extra: Record<string, string>): NodeJS.ProcessEnv => {
  const { RUMP_SERVER: _, ...rest } = process.env
  return { ...rest, ...extra }
}

export const spawnCtl = (args: ReadonlyArray<string>, env: Record<string, string> = {}): Effect.Effect<Exited> =>
  Effect.callback<Exited>((resume) => {
    const child = ChildProcess.spawn(process.execPath, ["--conditions=@sysproxy/source", MAIN, ...args], {
      env: envWith(env),
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s))
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s))
    child.once("close", (code) => resume(Effect.succeed({ code, stdout, stderr })))
    return Effect.sync(() => void child.kill("SIGKILL"))
  })
