/**
 * The kqueue family (kern_event.c): kqueue, kqueue1 and __kevent50
 * (compat_50_kevent is a compat call, which a rump kernel without its
 * compat module answers with SIGSYS and ENOSYS: compat.ts).
 * The kqueue itself is kqueue/.
 *
 * kevent(fd, changelist, nchanges, eventlist, nevents, timeout), as kevent1:
 * - EBADF unless fd is an open kqueue; the timeout is copied in first
 *   (EFAULT), and checked only when there are events to wait for (EINVAL
 *   for tv_nsec out of range or a negative time; a non-zero time under a
 *   tick is one tick; zero only looks).
 * - the changes are registered in order, copied in 8 at a time. A change
 *   that fails is reported as an EV_ERROR event (data: the errno) in the
 *   next slot of eventlist while there is room; without room the call
 *   fails with that errno. When any change failed, the count of those
 *   reports is the result and no events are collected.
 * - then up to nevents events are collected (kqueue/Scan.ts) and their
 *   count returned.
 */
import { Effect } from "effect"
import { Errno, openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { decodeKevent, encodeKevents, evFlags, KEVENT_SIZE } from "../abi/Kevent.ts"
import { decodeTimespec, NS_PER_SEC, type RawTimespec, TIMESPEC_SIZE } from "../abi/Timespec.ts"
import { releaseFile } from "../fd/FileTable.ts"
import { TICK_NS } from "../kern/Clocks.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { copyin, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import { type KQueue, kqueueOf, openKqueue } from "../kqueue/KQueue.ts"
import { register } from "../kqueue/Register.ts"
import { KQ_NEVENTS, scan } from "../kqueue/Scan.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

/** kqueue1(flags): O_CLOEXEC marks the descriptor; O_NONBLOCK and O_NOSIGPIPE go into the file's flags; others are ignored. */
const makeKqueue = (ctx: SyscallContext, flags: number): Effect.Effect<number, SysErr> =>
  Effect.suspend(() => {
    const table = ctx.proc.fds
    const fd = table.lowestFree()
    if (fd === undefined) return sysErr(Errno.EMFILE)
    table.install(fd, openKqueue(ctx.kernel, table, flags), (flags & openFlags.O_CLOEXEC) !== 0)
    return Effect.succeed(fd)
  })

/** inittimeleft (itimespecfix): EINVAL for a bad time; a non-zero time under one tick is one tick. */
const timeoutNs = (ts: RawTimespec): Effect.Effect<bigint, SysErr> => {
  if (ts.nsec < 0n || ts.nsec >= NS_PER_SEC || ts.sec < 0n) return sysErr(Errno.EINVAL)
  const nsec = ts.sec === 0n && ts.nsec !== 0n && ts.nsec < TICK_NS ? TICK_NS : ts.nsec
  return Effect.succeed(ts.sec * NS_PER_SEC + nsec)
}

/** kevent1, with the timeout read the way the syscall's struct timespec has it. */
const kevent1: (
  ctx: SyscallContext,
  fetchTimeout: (addr: bigint) => Effect.Effect<RawTimespec, SysErr>
) => Effect.Effect<number, SysErr> = Effect.fnUntraced(
  function*(ctx, fetchTimeout) {
    const file = ctx.proc.fds.get(ctx.args.int(0))?.file
    const kq = file === undefined ? undefined : kqueueOf(file)
    if (file === undefined || kq === undefined) return yield* sysErr(Errno.EBADF)
    // held for the call (fd_getfile): a close meanwhile does not pull the kqueue away
    file.refs++
    return yield* Effect.ensuring(collect(ctx, kq, fetchTimeout), releaseFile(file))
  })

const collect: (
  ctx: SyscallContext,
  kq: KQueue,
  fetchTimeout: (addr: bigint) => Effect.Effect<RawTimespec, SysErr>
) => Effect.Effect<number, SysErr> = Effect.fnUntraced(
  function*(ctx, kq, fetchTimeout) {
    const timeoutp = ctx.args.ptr(5)
    const timeout = timeoutp === 0n ? undefined : yield* fetchTimeout(timeoutp)
    const changelist = ctx.args.ptr(1)
    const nchanges = ctx.args.size(2)
    const eventlist = ctx.args.ptr(3)
    let nevents = ctx.args.size(4)
    let nerrors = 0
    for (let i = 0; i < nchanges; i += KQ_NEVENTS) {
      const n = Math.min(KQ_NEVENTS, nchanges - i)
      const bytes = yield* copyin(ctx, changelist + BigInt(i * KEVENT_SIZE), n * KEVENT_SIZE)
      for (let j = 0; j < n; j++) {
        const kev = decodeKevent(bytes, j)
        kev.flags &= ~evFlags.EV_SYSFLAGS
        const error = register(ctx, kq, kev)
        if (error === 0) continue
        if (nevents === 0) return yield* sysErr(error)
        kev.flags = evFlags.EV_ERROR
        kev.data = BigInt(error)
        yield* copyout(ctx, eventlist + BigInt(nerrors * KEVENT_SIZE), encodeKevents([kev]))
        nevents--
        nerrors++
      }
    }
    if (nerrors > 0) return nerrors
    if (nevents === 0) return 0
    const wait = timeout === undefined ? undefined : yield* timeoutNs(timeout)
    return yield* scan(
      ctx.lwp,
      kq,
      nevents,
      wait,
      (events, at) => copyout(ctx, eventlist + BigInt(at * KEVENT_SIZE), encodeKevents(events))
    )
  })

const timespecAt = (ctx: SyscallContext) => (addr: bigint) =>
  Effect.map(copyin(ctx, addr, TIMESPEC_SIZE), (bytes) => decodeTimespec(bytes))

/** kqueue() */
const kqueue: SyscallImpl = (ctx) => makeKqueue(ctx, 0)

/** kqueue1(flags) */
const kqueue1: SyscallImpl = (ctx) => makeKqueue(ctx, ctx.args.int(0))

/** __kevent50(fd, changelist, nchanges, eventlist, nevents, timeout) */
const kevent: SyscallImpl = (ctx) => kevent1(ctx, timespecAt(ctx))

export const family: SyscallFamily = [
  [SYS.kqueue, kqueue],
  [SYS.kqueue1, kqueue1],
  [SYS.__kevent50, kevent]
]
