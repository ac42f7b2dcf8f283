/**
 * The time family: clock_gettime, gettimeofday, nanosleep, clock_nanosleep.
 */
import { Effect } from "effect"
import { clockIds, Errno, SYS, timerFlags } from "@sysproxy/protocol/netbsd"
import { decodeTimespec, encodeTimespecNs, TIMESPEC_SIZE } from "../abi/Timespec.ts"
import { encodeTimevalNs, TIMEZONE_SIZE } from "../abi/Timeval.ts"
import { sysErr } from "../kern/SysErr.ts"
import { copyin, copyout } from "../kern/SyscallContext.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"
import { clockNow, monotonicNs, realtimeNs } from "../kern/Clocks.ts"
import { nanosleep } from "./time/Nanosleep.ts"

/** __clock_gettime50(clock_id, tp) */
const clockGettime: SyscallImpl = (ctx) =>
  clockNow(ctx, ctx.args.int(0)).pipe(Effect.flatMap((ns) => copyout(ctx, ctx.args.ptr(1), encodeTimespecNs(ns))))

/** __gettimeofday50(tp, tzp): either pointer may be NULL; the time zone is all zeros (NetBSD keeps none). */
const gettimeofday: SyscallImpl = (ctx) =>
  Effect.gen(function*() {
    const tp = ctx.args.ptr(0)
    const tzp = ctx.args.ptr(1)
    if (tp !== 0n) yield* copyout(ctx, tp, encodeTimevalNs(realtimeNs()))
    if (tzp !== 0n) yield* copyout(ctx, tzp, new Uint8Array(TIMEZONE_SIZE))
  })

/**
 * __nanosleep50(rqtp, rmtp): on CLOCK_MONOTONIC. The time left goes to
 * rmtp (when given) on success and on EINTR; a failing copyout wins.
 */
const nanosleep50: SyscallImpl = (ctx) =>
  Effect.gen(function*() {
    const rqt = decodeTimespec(yield* copyin(ctx, ctx.args.ptr(0), TIMESPEC_SIZE))
    const rmtp = ctx.args.ptr(1)
    const outcome = yield* nanosleep(ctx, rqt, false, monotonicNs)
    if (rmtp !== 0n) yield* copyout(ctx, rmtp, encodeTimespecNs(outcome.remainingNs))
    if (outcome.errno !== 0) return yield* sysErr(outcome.errno)
  })

/** The clocks clock_nanosleep sleeps on. */
const sleepClocks: ReadonlyMap<number, () => bigint> = new Map([
  [clockIds.CLOCK_REALTIME, realtimeNs],
  [clockIds.CLOCK_MONOTONIC, monotonicNs]
])

/**
 * clock_nanosleep(clock_id, flags, rqtp, rmtp): a NOERR syscall, so the
 * errno is its return value (retval[0]) and the call itself never fails,
 * as in sys_clock_nanosleep. With TIMER_ABSTIME nothing is written to rmtp.
 */
const clockNanosleep: SyscallImpl = (ctx) =>
  Effect.gen(function*() {
    const clock = sleepClocks.get(ctx.args.int(0))
    const absolute = (ctx.args.int(1) & timerFlags.TIMER_ABSTIME) !== 0
    const rqt = decodeTimespec(yield* copyin(ctx, ctx.args.ptr(2), TIMESPEC_SIZE))
    if (clock === undefined) return Errno.EINVAL
    const rmtp = ctx.args.ptr(3)
    const outcome = yield* nanosleep(ctx, rqt, absolute, clock)
    if (rmtp !== 0n && !absolute) yield* copyout(ctx, rmtp, encodeTimespecNs(outcome.remainingNs))
    return outcome.errno
  }).pipe(Effect.catch((e) => Effect.succeed(e.errno)))

export const family: SyscallFamily = [
  [SYS.__clock_gettime50, clockGettime],
  [SYS.__gettimeofday50, gettimeofday],
  [SYS.__nanosleep50, nanosleep50],
  [SYS.clock_nanosleep, clockNanosleep]
]
