/**
 * The time family: clock_gettime, gettimeofday, nanosleep, clock_nanosleep,
 * and the settable clock: settimeofday, clock_settime, adjtime and
 * clock_getres (kern_time.c). Setting the time is the superuser's and
 * changes this kernel's CLOCK_REALTIME only (kern/Clocks.ts).
 */
import { Effect } from "effect"
import { clockIds, Errno, SYS, timerFlags } from "@sysproxy/protocol/netbsd"
import { decodeTimespec, encodeTimespecNs, TIMESPEC_SIZE } from "../abi/Timespec.ts"
import { decodeTimeval, encodeTimevalNs, TIMEVAL_SIZE, TIMEZONE_SIZE } from "../abi/Timeval.ts"
import { requireRoot } from "../kauth/Cred.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { copyin, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"
import { clockNow, clockResolution, monotonicNs } from "../kern/Clocks.ts"
import { nanosleep } from "./time/Nanosleep.ts"
import { adjustment, encodeAdjustment } from "./time/Adjtime.ts"

const NS_PER_SEC = 1_000_000_000n

/** KAUTH_SYSTEM_TIME: setting the time is the superuser's. */
const mayChangeTime = (ctx: SyscallContext): Effect.Effect<void, SysErr> => requireRoot(ctx.proc)

/** __clock_gettime50(clock_id, tp) */
const clockGettime: SyscallImpl = (ctx) =>
  clockNow(ctx, ctx.args.int(0)).pipe(Effect.flatMap((ns) => copyout(ctx, ctx.args.ptr(1), encodeTimespecNs(ns))))

/** __gettimeofday50(tp, tzp): either pointer may be NULL; the time zone is all zeros (NetBSD keeps none). */
const gettimeofday: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const tp = ctx.args.ptr(0)
    const tzp = ctx.args.ptr(1)
    if (tp !== 0n) yield* copyout(ctx, tp, encodeTimevalNs(ctx.kernel.clock.realtimeNs()))
    if (tzp !== 0n) yield* copyout(ctx, tzp, new Uint8Array(TIMEZONE_SIZE))
  })

/** settime1: the superuser sets CLOCK_REALTIME (the time given is not checked further, as in NetBSD 7). */
const settime = (ctx: SyscallContext, ns: bigint): Effect.Effect<void, SysErr> =>
  Effect.andThen(mayChangeTime(ctx), Effect.sync(() => ctx.kernel.clock.set(ns)))

/**
 * __settimeofday50(tv, tzp): a NULL tv changes nothing, for anyone; the
 * time zone is ignored (NetBSD keeps none). The copyin comes before the
 * permission check.
 */
const settimeofday: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const tvp = ctx.args.ptr(0)
    if (tvp === 0n) return
    const tv = decodeTimeval(yield* copyin(ctx, tvp, TIMEVAL_SIZE))
    yield* settime(ctx, tv.sec * NS_PER_SEC + BigInt(tv.usec) * 1000n)
  })

/** __clock_settime50(clock_id, tp): CLOCK_REALTIME only; CLOCK_MONOTONIC (read-only) and others EINVAL. */
const clockSettime: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const ts = decodeTimespec(yield* copyin(ctx, ctx.args.ptr(1), TIMESPEC_SIZE))
    if (ctx.args.int(0) !== clockIds.CLOCK_REALTIME) return yield* sysErr(Errno.EINVAL)
    yield* settime(ctx, ts.sec * NS_PER_SEC + ts.nsec)
  })

/** __clock_getres50(clock_id, tp): one tick (10 ms) for CLOCK_REALTIME and CLOCK_MONOTONIC; tp may be NULL. */
const clockGetres: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const res = yield* clockResolution(ctx.args.int(0))
    const tp = ctx.args.ptr(1)
    if (tp !== 0n) yield* copyout(ctx, tp, encodeTimespecNs(res))
  })

/**
 * __adjtime50(delta, olddelta): the superuser's only, even just to read.
 * The time still to slew goes to olddelta (when given) and a new delta
 * replaces it (when given).
 */
const adjtime: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    yield* mayChangeTime(ctx)
    const deltap = ctx.args.ptr(0)
    const delta = deltap === 0n ? undefined : adjustment(yield* copyin(ctx, deltap, TIMEVAL_SIZE))
    const old = ctx.kernel.clock.adjust(delta)
    const oldp = ctx.args.ptr(1)
    if (oldp !== 0n) yield* copyout(ctx, oldp, encodeAdjustment(old))
  })

/**
 * __nanosleep50(rqtp, rmtp): on CLOCK_MONOTONIC. The time left goes to
 * rmtp (when given) on success and on EINTR; a failing copyout wins.
 */
const nanosleep50: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const rqt = decodeTimespec(yield* copyin(ctx, ctx.args.ptr(0), TIMESPEC_SIZE))
    const rmtp = ctx.args.ptr(1)
    const outcome = yield* nanosleep(ctx, rqt, false, monotonicNs)
    if (rmtp !== 0n) yield* copyout(ctx, rmtp, encodeTimespecNs(outcome.remainingNs))
    if (outcome.errno !== 0) return yield* sysErr(outcome.errno)
  })

/** The clock clock_nanosleep sleeps on. */
const sleepClock = (ctx: SyscallContext, id: number): (() => bigint) | undefined =>
  id === clockIds.CLOCK_REALTIME
    ? () => ctx.kernel.clock.realtimeNs()
    : id === clockIds.CLOCK_MONOTONIC
    ? monotonicNs
    : undefined

/**
 * clock_nanosleep(clock_id, flags, rqtp, rmtp): a NOERR syscall, so the
 * errno is its return value (retval[0]) and the call itself never fails,
 * as in sys_clock_nanosleep. With TIMER_ABSTIME nothing is written to rmtp.
 */
const clockNanosleep: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const clock = sleepClock(ctx, ctx.args.int(0))
    const absolute = (ctx.args.int(1) & timerFlags.TIMER_ABSTIME) !== 0
    const rqt = decodeTimespec(yield* copyin(ctx, ctx.args.ptr(2), TIMESPEC_SIZE))
    if (clock === undefined) return Errno.EINVAL
    const rmtp = ctx.args.ptr(3)
    const outcome = yield* nanosleep(ctx, rqt, absolute, clock)
    if (rmtp !== 0n && !absolute) yield* copyout(ctx, rmtp, encodeTimespecNs(outcome.remainingNs))
    return outcome.errno
  }, Effect.catch((e) => Effect.succeed(e.errno)))

export const family: SyscallFamily = [
  [SYS.__clock_gettime50, clockGettime],
  [SYS.__gettimeofday50, gettimeofday],
  [SYS.__settimeofday50, settimeofday],
  [SYS.__clock_settime50, clockSettime],
  [SYS.__clock_getres50, clockGetres],
  [SYS.__adjtime50, adjtime],
  [SYS.__nanosleep50, nanosleep50],
  [SYS.clock_nanosleep, clockNanosleep]
]
