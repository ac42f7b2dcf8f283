/**
 * Host I/O behind a syscall (a host file mapping's reads, writes and
 * fsyncs): the host's failure is the caller's EIO, not a kernel defect.
 * File data is read and written synchronously (FileData has no error
 * channel), so host code throws HostIoError and the syscall layer turns
 * exactly that into EIO; anything else thrown stays a defect.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Data, Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"

export class HostIoError extends Data.TaggedError("HostIoError")<{
  readonly hostPath: string
  readonly cause: unknown
}> {}

/** Runs `f` (host I/O) and throws its failure as a HostIoError for `hostPath`. */
export const onHost = <A>(hostPath: string, f: () => A): A => {
  try {
    return f()
  } catch (cause) {
    throw new HostIoError({ hostPath, cause })
  }
}

/** What a syscall answers for a value thrown by file data: EIO for the host's failure, a defect otherwise. */
export const hostFailure = (e: unknown): Effect.Effect<never, SysErr> =>
  e instanceof HostIoError ? sysErr(Errno.EIO) : Effect.die(e)

/** Runs host I/O that may throw HostIoError, as an Effect failing with EIO for it. */
export const hostIo = <A>(f: () => A): Effect.Effect<A, SysErr> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f())
    } catch (e) {
      return hostFailure(e)
    }
  })
