/**
 * What a connection tells an observer (metrics) as it works, and the span a
 * syscall runs in when tracing is on. The connection calls these as plain
 * functions on its hot path, so an observer must be cheap: count, do not
 * allocate effects.
 */
import { type ErrorCodeName } from "@sysproxy/protocol"
import { SyscallByNumber } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"

export interface ServerObserver {
  /** A syscall was answered with `errno`; `startedAt` is the performance.now() of when a worker took it. */
  readonly syscallAnswered: (sysnum: number, errno: number, startedAt: number) => void
  /** A frame from a client could not be decoded; `field` is where the decoder gave up. */
  readonly undecodableFrame: (field: string) => void
  /** An ERROR frame went to a client. */
  readonly errorReplied: (code: ErrorCodeName) => void
}

/** A syscall's name from the NetBSD table, or "unknown" for a number the table does not have. */
export const syscallName = (sysnum: number): string => SyscallByNumber.get(sysnum)?.name ?? "unknown"

/** Runs one syscall as a span "syscall <name>" with its number, the caller's pid and the errno it ended with. */
export const syscallSpan = <A extends { readonly error: number }, E, R>(
  call: Effect.Effect<A, E, R>,
  sysnum: number,
  pid: number
) =>
  call.pipe(
    Effect.tap((result) => Effect.annotateCurrentSpan("errno", result.error)),
    Effect.withSpan(`syscall ${syscallName(sysnum)}`, { attributes: { "syscall.number": sysnum, pid } })
  )
