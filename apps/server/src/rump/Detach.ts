/**
 * rump_server without -s: the server runs as a detached daemon and the
 * command exits 0 only once the socket accepts clients, so scripts can
 * connect as soon as it returns (as NetBSD's does with rump_daemonize).
 *
 * The daemon is this program again with -s, in a session of its own, its
 * stdin and stdout on /dev/null. It reports readiness by writing its URL
 * to descriptor 3 (SYSPROXY_READY_FD, a pipe to us). Its stderr goes to a
 * file that is unlinked at once: if the daemon dies before it is ready,
 * its one-line reason there becomes ours and we exit 1.
 */
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import type * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { StartupError } from "../AppErrors.ts"
import { RUMP_SERVER } from "./RumpServerArgs.ts"

export interface Daemon {
  readonly pid: number
  readonly url: string
}

/** Set in the daemon's environment: it is the detached server, whose parent has printed the warnings already. */
export const DETACHED_ENV = "SYSPROXY_DETACHED"

/**
 * Why the daemon ended before it was ready, from its stderr: its own
 * one-line reason (`rump_server: ...`, the last thing it prints on a
 * failure), else how it ended. Anything else there (Node's report of a
 * crash, its "Node.js v24" trailer) is no reason to show.
 */
export const daemonFailure = (stderr: string, code: number | null, signal: NodeJS.Signals | null): string => {
  const last = stderr.split("\n").filter((l) => l.trim().length > 0).pop()
  const prefix = `${RUMP_SERVER}: `
  return last !== undefined && last.startsWith(prefix)
    ? last.slice(prefix.length)
    : `the server ended (${signal ?? `exit ${code}`}) before it was ready`
}

const readAll = (fd: number): string => {
  const size = Fs.fstatSync(fd).size
  const bytes = Buffer.alloc(size)
  Fs.readSync(fd, bytes, 0, size, 0)
  return bytes.toString("utf8")
}

/** A file for the daemon's stderr, unlinked at once (so nothing is left behind), open while the scope is. */
const unlinkedFile = Effect.acquireRelease(
  Effect.try({
    try: () => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), `${RUMP_SERVER}-`))
      try {
        return Fs.openSync(Path.join(dir, "stderr"), "w+", 0o600)
      } finally {
        Fs.rmSync(dir, { recursive: true, force: true })
      }
    },
    catch: (e) =>
      new StartupError({ message: `cannot start the server: ${e instanceof Error ? e.message : String(e)}` })
  }),
  (fd) => Effect.sync(() => Fs.closeSync(fd))
)

/** Starts `entry -s argv...` as a daemon and waits until it is ready (or gone). */
export const detach = (entry: string, argv: ReadonlyArray<string>): Effect.Effect<Daemon, StartupError> =>
  Effect.scoped(Effect.flatMap(unlinkedFile, (errFd) =>
    Effect.callback<Daemon, StartupError>((resume) => {
      const child = ChildProcess.spawn(process.execPath, [...process.execArgv, entry, "-s", ...argv], {
        detached: true,
        stdio: ["ignore", "ignore", errFd, "pipe"],
        env: { ...process.env, SYSPROXY_READY_FD: "3", [DETACHED_ENV]: "1" }
      })
      const ready = child.stdio[3] as Net.Socket
      let settled = false
      let line = ""
      const settle = (outcome: Effect.Effect<Daemon, StartupError>) => {
        if (settled) return
        settled = true
        ready.destroy()
        child.removeAllListeners()
        resume(outcome)
      }
      ready.setEncoding("utf8").on("data", (s: string) => {
        line += s
        const nl = line.indexOf("\n")
        if (nl < 0 || child.pid === undefined) return
        // the daemon lives on by itself
        child.unref()
        settle(Effect.succeed({ pid: child.pid, url: line.slice(0, nl) }))
      })
      ready.on("error", () => {})
      child.once("error", (e) => settle(Effect.fail(new StartupError({ message: `cannot start the server: ${e.message}` }))))
      child.once("exit", (code, signal) =>
        settle(Effect.fail(new StartupError({ message: daemonFailure(readAll(errFd), code, signal) }))))
      return Effect.sync(() => {
        if (!settled) child.kill("SIGKILL")
      })
    })))
