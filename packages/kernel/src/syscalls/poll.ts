/**
 * The poll family: poll, __pollts50, __select50 and __pselect50 (NetBSD's
 * sys_select.c). Every call scans its descriptors through FileOps.poll; when
 * nothing is ready and there is time left it sleeps on the poll queues of
 * the files it scanned (a pipe wakes its queue on every read, write and
 * close), then scans again. A timeout of zero only scans; no timeout (a
 * NULL pointer, or INFTIM for poll) waits for ever. lwpExit ends the wait
 * with EINTR. The signal masks of pollts and pselect are copied in (EFAULT
 * for a bad pointer) and otherwise ignored: signals are the client's.
 *
 * What is ready:
 * - regular files and directories: always readable and writable;
 * - pipes: as pipe_poll (see ipc/Pipe.ts), POLLHUP once the other end is gone;
 * - the console (fds 0-2 of a guest): writable, never readable, as
 *   rumpcons_poll answers (poll on it for POLLIN waits until the timeout);
 * - /dev/null and /dev/zero: readable and writable;
 * - anything with no poll (a fifo node): never.
 */
import { Duration, Effect } from "effect"
import { fieldOffset } from "@sysproxy/protocol"
import { Errno, fdSet, pollEvents, Structs, SYS } from "@sysproxy/protocol/netbsd"
import type { File } from "../fd/File.ts"
import type { FileTable } from "../fd/FileTable.ts"
import { WaitQueue } from "../proc/Sleep.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { copyin, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"
import { monotonicNs } from "../kern/Clocks.ts"

const { POLLRDNORM, POLLRDBAND, POLLWRNORM, POLLERR, POLLHUP, POLLNVAL, INFTIM } = pollEvents

const NS_PER_SEC = 1_000_000_000n
const NS_PER_MS = 1_000_000n
/** setTimeout's longest delay; a longer wait sleeps several times. */
const MAX_TIMER_MS = 2 ** 31 - 1
/** sigset_t: four 32-bit words. */
const SIGSET_SIZE = 16
/** A descriptor table's size before it first grows (NDFILE). */
const NDFILE = 20
/** pollcommon refuses more entries than the table's size plus this. */
const POLL_SLACK = 1000

const POLLFD_SIZE = Structs.pollfd.size
const PFD_FD = fieldOffset(Structs.pollfd, "fd")
const PFD_EVENTS = fieldOffset(Structs.pollfd, "events")
const PFD_REVENTS = fieldOffset(Structs.pollfd, "revents")

const viewOf = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * The size NetBSD's table would have (dt_nfiles): at least NDFILE, and
 * room for the highest open descriptor. select only looks at that many
 * descriptors ("forgiving; slightly wrong"), and poll takes at most 1000
 * entries more.
 */
const tableSize = (table: FileTable): number => Math.max(NDFILE, (table.openFds().at(-1) ?? -1) + 1)

// timeouts

/** A timeout in nanoseconds; undefined waits for ever. */
type Timeout = bigint | undefined

/** itimespecfix: tv_nsec outside [0, 1e9) or a negative tv_sec is EINVAL. */
const checkTimeout = (sec: bigint, nsec: bigint): Effect.Effect<bigint, SysErr> =>
  nsec < 0n || nsec >= NS_PER_SEC || sec < 0n ? sysErr(Errno.EINVAL) : Effect.succeed(sec * NS_PER_SEC + nsec)

/** A struct timespec timeout pointer (NULL: for ever); copied in at once, checked when the scan starts. */
const timespecAt = (ctx: SyscallContext, addr: bigint): Effect.Effect<readonly [bigint, bigint] | undefined, SysErr> =>
  addr === 0n ? Effect.succeed(undefined) : Effect.map(copyin(ctx, addr, Structs.timespec.size), (bytes) => {
    const view = viewOf(bytes)
    return [
      view.getBigInt64(fieldOffset(Structs.timespec, "tv_sec"), true),
      view.getBigInt64(fieldOffset(Structs.timespec, "tv_nsec"), true)
    ] as const
  })

/** A struct timeval timeout pointer, as a timespec (TIMEVAL_TO_TIMESPEC). */
const timevalAt = (ctx: SyscallContext, addr: bigint): Effect.Effect<readonly [bigint, bigint] | undefined, SysErr> =>
  addr === 0n ? Effect.succeed(undefined) : Effect.map(copyin(ctx, addr, Structs.timeval.size), (bytes) => {
    const view = viewOf(bytes)
    return [
      view.getBigInt64(fieldOffset(Structs.timeval, "tv_sec"), true),
      BigInt(view.getInt32(fieldOffset(Structs.timeval, "tv_usec"), true)) * 1000n
    ] as const
  })

const timeoutOf = (ts: readonly [bigint, bigint] | undefined): Effect.Effect<Timeout, SysErr> =>
  ts === undefined ? Effect.succeed(undefined) : checkTimeout(ts[0], ts[1])

/** The signal mask argument: copied in when given, for its EFAULT. */
const maskAt = (ctx: SyscallContext, addr: bigint): Effect.Effect<void, SysErr> =>
  addr === 0n ? Effect.void : Effect.asVoid(copyin(ctx, addr, SIGSET_SIZE))

// scanning and sleeping

interface Scan<A> {
  /** EBADF from select's scan; 0 otherwise. */
  readonly errno: number
  /** How many are ready (the syscall's result). */
  readonly ready: number
  readonly result: A
  /** Where to sleep until something may have changed. */
  readonly queues: ReadonlyArray<WaitQueue>
}

const pollOf = (file: File, events: number): number => file.ops.poll?.(file, events) ?? 0

const queueOf = (file: File, queues: Array<WaitQueue>): void => {
  const q = file.ops.pollQueue?.(file)
  if (q !== undefined) queues.push(q)
}

/**
 * sel_do_scan: scans until something is ready or the time runs out (then
 * the last, empty scan is the result); EINTR when the lwp is ordered out.
 * The scan runs again as the lwp goes to sleep, so a change in between is
 * never missed.
 */
const scanning: <A>(ctx: SyscallContext, timeout: Timeout, scan: () => Scan<A>) => Effect.Effect<readonly [number, A], SysErr> =
  Effect.fnUntraced(function*<A>(ctx: SyscallContext, timeout: Timeout, scan: () => Scan<A>) {
    const deadline = timeout === undefined ? undefined : monotonicNs() + timeout
    for (;;) {
      const s = scan()
      if (s.errno !== 0) return yield* sysErr(s.errno)
      if (s.ready > 0) return [s.ready, s.result] as const
      let wait: Duration.Duration | undefined
      if (deadline !== undefined) {
        const left = deadline - monotonicNs()
        if (left <= 0n) return [0, s.result] as const
        const ms = (left + NS_PER_MS - 1n) / NS_PER_MS
        wait = Duration.millis(ms > BigInt(MAX_TIMER_MS) ? MAX_TIMER_MS : Number(ms))
      }
      const why = yield* WaitQueue.sleepAny(s.queues, ctx.lwp, wait, () => {
        const again = scan()
        return again.errno !== 0 || again.ready > 0
      })
      if (why === "interrupted") return yield* sysErr(Errno.EINTR)
    }
  })

// poll

/** pollscan: revents for each entry (POLLNVAL for a closed descriptor, nothing for a negative one). */
const pollScan = (table: FileTable, fds: ReadonlyArray<number>, events: ReadonlyArray<number>) => (): Scan<Array<number>> => {
  const revents: Array<number> = []
  const queues: Array<WaitQueue> = []
  let ready = 0
  fds.forEach((fd, i) => {
    let r = 0
    if (fd >= 0) {
      const file = table.get(fd)?.file
      if (file === undefined) r = POLLNVAL
      else {
        r = pollOf(file, (events[i] ?? 0) | POLLERR | POLLHUP) & 0xffff
        queueOf(file, queues)
      }
    }
    if (r !== 0) ready++
    revents.push(r)
  })
  return { errno: 0, ready, result: revents, queues }
}

/** pollcommon: EINVAL for too many entries; the array goes back with revents filled in, unless the call fails. */
const pollCommon: (
  ctx: SyscallContext,
  addr: bigint,
  nfds: number,
  timeout: Effect.Effect<Timeout, SysErr>
) => Effect.Effect<number, SysErr> = Effect.fnUntraced(
  function*(ctx, addr, nfds, timeout) {
    if (nfds > POLL_SLACK + tableSize(ctx.proc.fds)) return yield* sysErr(Errno.EINVAL)
    const bytes = nfds === 0 ? new Uint8Array(0) : yield* copyin(ctx, addr, nfds * POLLFD_SIZE)
    const view = viewOf(bytes)
    const fds: Array<number> = []
    const events: Array<number> = []
    for (let i = 0; i < nfds; i++) {
      fds.push(view.getInt32(i * POLLFD_SIZE + PFD_FD, true))
      events.push(view.getUint16(i * POLLFD_SIZE + PFD_EVENTS, true))
    }
    const t = yield* timeout
    const [ready, revents] = yield* scanning(ctx, t, pollScan(ctx.proc.fds, fds, events))
    if (nfds > 0) {
      const out = bytes.slice()
      const outView = viewOf(out)
      revents.forEach((r, i) => outView.setUint16(i * POLLFD_SIZE + PFD_REVENTS, r, true))
      yield* copyout(ctx, addr, out)
    }
    return ready
  })

/** poll(fds, nfds, timeout): timeout in milliseconds, INFTIM (-1) for ever, any other negative value EINVAL. */
const poll: SyscallImpl = (ctx) => {
  const ms = ctx.args.int(2)
  // sys_poll makes a timespec of it: C division truncates, so -1500 is { -1, -500000000 }
  const timeout = ms === INFTIM
    ? Effect.succeed(undefined)
    : checkTimeout(BigInt(Math.trunc(ms / 1000)), BigInt(ms % 1000) * NS_PER_MS)
  return pollCommon(ctx, ctx.args.ptr(0), ctx.args.uint(1), timeout)
}

/** __pollts50(fds, nfds, ts, mask) */
const pollts: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const ts = yield* timespecAt(ctx, ctx.args.ptr(2))
    yield* maskAt(ctx, ctx.args.ptr(3))
    return yield* pollCommon(ctx, ctx.args.ptr(0), ctx.args.uint(1), timeoutOf(ts))
  })

// select

/** What each of the three sets asks fo_poll about (sel_flag). */
const SEL_FLAG = [POLLRDNORM | POLLHUP | POLLERR, POLLWRNORM | POLLHUP | POLLERR, POLLRDBAND] as const

const bitSet = (bits: Uint8Array, fd: number): boolean => ((bits[fd >> 3] ?? 0) & (1 << (fd & 7))) !== 0

/**
 * selscan: for each set in turn, each descriptor whose bit is set (EBADF
 * when it is not open) is ready when fo_poll answers anything at all.
 * fd_set is an array of 32-bit little-endian words: descriptor n is bit
 * n % 8 of byte n / 8.
 */
const selectScan = (table: FileTable, nd: number, sets: ReadonlyArray<Uint8Array>, ni: number) =>
(): Scan<Array<Uint8Array>> => {
  const out = sets.map(() => new Uint8Array(ni))
  const queues: Array<WaitQueue> = []
  let ready = 0
  for (let msk = 0; msk < 3; msk++) {
    const bits = sets[msk]
    const result = out[msk]
    if (bits === undefined || result === undefined) continue
    for (let fd = 0; fd < nd; fd++) {
      if (!bitSet(bits, fd)) continue
      const file = table.get(fd)?.file
      if (file === undefined) return { errno: Errno.EBADF, ready: 0, result: out, queues }
      if (pollOf(file, SEL_FLAG[msk] ?? 0) !== 0) {
        result[fd >> 3] = (result[fd >> 3] ?? 0) | (1 << (fd & 7))
        ready++
      }
      queueOf(file, queues)
    }
  }
  return { errno: 0, ready, result: out, queues }
}

/**
 * selcommon: EINVAL for a negative nd; nd beyond the table's size counts
 * as the table's size. Each given set is copied in (howmany(nd, NFDBITS)
 * words; a NULL set asks nothing) and, when the call succeeds (a timeout
 * too), copied back holding the ready descriptors.
 */
const selectCommon: (
  ctx: SyscallContext,
  ndArg: number,
  ptrs: readonly [bigint, bigint, bigint],
  timeout: Effect.Effect<Timeout, SysErr>
) => Effect.Effect<number, SysErr> = Effect.fnUntraced(
  function*(ctx, ndArg, ptrs, timeout) {
    if (ndArg < 0) return yield* sysErr(Errno.EINVAL)
    const nd = Math.min(ndArg, tableSize(ctx.proc.fds))
    const ni = Math.ceil(nd / fdSet.NFDBITS) * (fdSet.NFDBITS / 8)
    const sets: Array<Uint8Array> = []
    for (const p of ptrs) sets.push(p === 0n || ni === 0 ? new Uint8Array(ni) : yield* copyin(ctx, p, ni))
    const t = yield* timeout
    const [ready, out] = yield* scanning(ctx, t, selectScan(ctx.proc.fds, nd, sets, ni))
    for (let i = 0; i < 3; i++) {
      const p = ptrs[i] ?? 0n
      const bits = out[i]
      if (p !== 0n && ni > 0 && bits !== undefined) yield* copyout(ctx, p, bits)
    }
    return ready
  })

/** __select50(nd, in, ou, ex, tv) */
const select: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const tv = yield* timevalAt(ctx, ctx.args.ptr(4))
    return yield* selectCommon(ctx, ctx.args.int(0), [ctx.args.ptr(1), ctx.args.ptr(2), ctx.args.ptr(3)], timeoutOf(tv))
  })

/** __pselect50(nd, in, ou, ex, ts, mask) */
const pselect: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const ts = yield* timespecAt(ctx, ctx.args.ptr(4))
    yield* maskAt(ctx, ctx.args.ptr(5))
    return yield* selectCommon(ctx, ctx.args.int(0), [ctx.args.ptr(1), ctx.args.ptr(2), ctx.args.ptr(3)], timeoutOf(ts))
  })

export const family: SyscallFamily = [
  [SYS.poll, poll],
  [SYS.__pollts50, pollts],
  [SYS.__select50, select],
  [SYS.__pselect50, pselect]
]
