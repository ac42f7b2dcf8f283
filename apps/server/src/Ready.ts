/**
 * Telling a supervisor the server accepts clients, besides the "listening on
 * URL" log line:
 *
 * - `--ready-fd N` (s6 and the like; our own rump_server uses it to detach):
 *   the URL and a newline are written to descriptor N, which is closed.
 * - systemd's NOTIFY_SOCKET: `READY=1` goes to that unix datagram socket.
 *   Node cannot send unix datagrams, so the message is sent by systemd's
 *   own `systemd-notify` (found on PATH wherever NOTIFY_SOCKET is set), with
 *   MAINPID naming this process. Because the sender is another process,
 *   the unit needs `NotifyAccess=all`; systemd-notify waits until systemd
 *   has taken the message (its barrier), so it is not lost when the helper
 *   exits. Without systemd-notify, a warning is logged and the unit should
 *   use Type=exec instead.
 */
import { Config, Effect, Option } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import { UsageError } from "./AppErrors.ts"

/** How long systemd-notify may take before we give up on it. */
const NOTIFY_TIMEOUT_MS = 30_000

/** A usage error unless `fd` is an open descriptor (checked before the server starts). */
export const checkReadyFd = (fd: Option.Option<number>): Effect.Effect<void, UsageError> =>
  Option.match(fd, {
    onNone: () => Effect.void,
    onSome: (n) =>
      Effect.try({
        try: () => void Fs.fstatSync(n),
        catch: () => new UsageError({ message: `--ready-fd ${n}: not an open file descriptor` })
      })
  })

const writeReadyFd = (fd: number, url: string) =>
  Effect.try({
    try: () => {
      Fs.writeSync(fd, `${url}\n`)
      Fs.closeSync(fd)
    },
    catch: (e) => e
  }).pipe(
    Effect.catch((e) => Effect.logWarning(`cannot write the ready line to descriptor ${fd}: ${String(e)}`))
  )

/** Why systemd-notify did not do it, for the warning; undefined when it did. */
type NotifyFailure = { readonly missing: true } | { readonly missing: false; readonly detail: string } | undefined

/** Runs systemd-notify with `args`; its failure is logged, never fatal. */
const systemdNotify = (args: ReadonlyArray<string>) =>
  Effect.callback<NotifyFailure>((resume) => {
    const child = ChildProcess.execFile(
      "systemd-notify",
      [...args],
      { timeout: NOTIFY_TIMEOUT_MS },
      (error, _stdout, stderr) => {
        resume(Effect.succeed(
          error === null
            ? undefined
            : error.code === "ENOENT"
            ? { missing: true }
            : { missing: false, detail: `${error.message.split("\n")[0]} ${stderr}`.trim() }
        ))
      }
    )
    return Effect.sync(() => void child.kill())
  }).pipe(
    Effect.flatMap((failure) =>
      failure === undefined
        ? Effect.logDebug("told systemd we are ready")
        : failure.missing
        ? Effect.logWarning(
          "NOTIFY_SOCKET is set but systemd-notify is not on PATH, so systemd is not told we are ready; use Type=exec"
        )
        : Effect.logWarning(
          `NOTIFY_SOCKET is set but systemd-notify failed (${failure.detail}); ` +
            "the unit needs NotifyAccess=all, or Type=exec without notifications"
        )
    )
  )

/** Sends every ready notification asked for; the systemd one in the background. */
export const announceReady = (url: string, readyFd: Option.Option<number>) =>
  Effect.gen(function*() {
    if (Option.isSome(readyFd)) yield* writeReadyFd(readyFd.value, url)
    const notifySocket = yield* Config.option(Config.String("NOTIFY_SOCKET")).pipe(Effect.orElseSucceed(Option.none))
    if (Option.isSome(notifySocket) && notifySocket.value.length > 0) {
      yield* systemdNotify(["--ready", `--status=listening on ${url}`, `--pid=${process.pid}`]).pipe(Effect.forkScoped)
    }
  })
