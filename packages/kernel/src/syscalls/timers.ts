/**
 * The timer family (kern_time.c): the interval timers (__setitimer50,
 * __getitimer50) and the POSIX timers (timer_create, timer_delete,
 * __timer_settime50, __timer_gettime50, timer_getoverrun). The timers
 * themselves are timers/PTimer.ts.
 *
 * - which/clock ids: ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF,
 *   ITIMER_MONOTONIC (0 to 3, the clock ids of the same numbers); anything
 *   else EINVAL.
 * - A time under one tick (10 ms) but not 0 is rounded up to one tick
 *   (itimerfix, itimespecfix); tv_usec/tv_nsec out of range is EINVAL, a
 *   negative tv_sec EINVAL for setitimer and ETIMEDOUT for timer_settime.
 * - timer ids 2 to 31 name a slot for the POSIX calls (2, ITIMER_PROF's,
 *   included, as in NetBSD); an empty slot, or a process that never had a
 *   timer, is EINVAL. timer_create gives the lowest free slot from 3 up,
 *   EAGAIN when all 29 are taken.
 * - timer_settime's ovalue is the timer's time as kept: absolute for a
 *   CLOCK_REALTIME or CLOCK_MONOTONIC one (NetBSD 7 reports it so).
 */
import { Effect } from "effect"
import { fieldOffset } from "@sysproxy/protocol"
import { clockIds, Errno, itimer, sigev, signals, Structs, SYS, timerFlags } from "@sysproxy/protocol/netbsd"
import { decodeTimespec, encodeTimespecNs, NS_PER_SEC } from "../abi/Timespec.ts"
import { decodeTimeval, encodeTimevalNs } from "../abi/Timeval.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { copyin, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import {
  allocTimers,
  armTimer,
  clockNs,
  FIRST_POSIX_TIMER,
  freeTimer,
  isVirtual,
  PTimer,
  type SigEvent,
  TIMER_MAX,
  timerLeft,
  timersOf
} from "../timers/PTimer.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

const ITIMERVAL_SIZE = Structs.itimerval.size
const ITIMERSPEC_SIZE = Structs.itimerspec.size
const IT_INTERVAL = fieldOffset(Structs.itimerval, "it_interval")
const IT_VALUE = fieldOffset(Structs.itimerval, "it_value")
const ITS_INTERVAL = fieldOffset(Structs.itimerspec, "it_interval")
const ITS_VALUE = fieldOffset(Structs.itimerspec, "it_value")

/** struct sigevent: { int sigev_notify; int sigev_signo; union sigval sigev_value; two pointers }, 32 bytes. */
const SIGEVENT_SIZE = 32
const SIGEV_NOTIFY = 0
const SIGEV_SIGNO = 4
const SIGEV_VALUE = 8

const NS_PER_US = 1000n
/** One tick: what a shorter non-zero time is rounded up to. */
const TICK_US = 10_000n
const TICK_NS = TICK_US * NS_PER_US

/** The signal a timer sends when not told otherwise, by clock. */
const defaultSignal = (clock: number): number =>
  clock === clockIds.CLOCK_VIRTUAL ? signals.SIGVTALRM : clock === clockIds.CLOCK_PROF ? signals.SIGPROF : signals.SIGALRM

const validClock = (id: number): boolean => id >>> 0 <= itimer.ITIMER_MONOTONIC

/** itimerfix: EINVAL, ETIMEDOUT, or the time in nanoseconds (a non-zero time under a tick is one tick). */
const itimerfix = (sec: bigint, usec: bigint): bigint | number => {
  if (usec < 0n || usec >= 1_000_000n) return Errno.EINVAL
  if (sec < 0n) return Errno.ETIMEDOUT
  const u = sec === 0n && usec !== 0n && usec < TICK_US ? TICK_US : usec
  return sec * NS_PER_SEC + u * NS_PER_US
}

/** itimespecfix, the same for a timespec. */
const itimespecfix = (sec: bigint, nsec: bigint): bigint | number => {
  if (nsec < 0n || nsec >= NS_PER_SEC) return Errno.EINVAL
  if (sec < 0n) return Errno.ETIMEDOUT
  const n = sec === 0n && nsec !== 0n && nsec < TICK_NS ? TICK_NS : nsec
  return sec * NS_PER_SEC + n
}

/** A struct itimerval or itimerspec (interval, value) from nanoseconds. */
const encodePair = (
  size: number,
  encode: (ns: bigint) => Uint8Array,
  at: readonly [number, number],
  interval: bigint,
  value: bigint
): Uint8Array => {
  const bytes = new Uint8Array(size)
  bytes.set(encode(interval), at[0])
  bytes.set(encode(value), at[1])
  return bytes
}

const itimerval = (interval: bigint, value: bigint) =>
  encodePair(ITIMERVAL_SIZE, encodeTimevalNs, [IT_INTERVAL, IT_VALUE], interval, value)

const itimerspec = (interval: bigint, value: bigint) =>
  encodePair(ITIMERSPEC_SIZE, encodeTimespecNs, [ITS_INTERVAL, ITS_VALUE], interval, value)

// interval timers

/** dogetitimer: zeros for a timer never set. */
const getitimerOf = (ctx: SyscallContext, which: number): Uint8Array => {
  const pt = timersOf(ctx.proc)?.slots[which]
  if (pt === undefined) return itimerval(0n, 0n)
  const { interval, value } = timerLeft(ctx.kernel, pt)
  return itimerval(interval, value)
}

/** __getitimer50(which, itv) */
const getitimer: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const which = ctx.args.int(0)
    if (!validClock(which)) return yield* sysErr(Errno.EINVAL)
    yield* copyout(ctx, ctx.args.ptr(1), getitimerOf(ctx, which))
  })

/** dosetitimer: the timer `which` set (allocated on first use) to go off `value` from now. */
const dosetitimer = (ctx: SyscallContext, which: number, bytes: Uint8Array): Effect.Effect<void, SysErr> => {
  const iv = decodeTimeval(bytes, IT_INTERVAL)
  const vv = decodeTimeval(bytes, IT_VALUE)
  const value = itimerfix(vv.sec, BigInt(vv.usec))
  const interval = itimerfix(iv.sec, BigInt(iv.usec))
  if (typeof value === "number" || typeof interval === "number") return sysErr(Errno.EINVAL)
  const existing = timersOf(ctx.proc)
  if (value === 0n && existing?.slots[which] === undefined) return Effect.void
  const timers = existing ?? allocTimers(ctx.proc)
  let pt = timers.slots[which]
  if (pt === undefined) {
    pt = new PTimer(ctx.kernel, ctx.proc, which, { notify: sigev.SIGEV_SIGNAL, signo: defaultSignal(which), value: BigInt(which) })
    timers.slots[which] = pt
  }
  pt.interval = interval
  pt.value = value
  if (value !== 0n && (which === itimer.ITIMER_REAL || which === itimer.ITIMER_MONOTONIC)) {
    pt.value += clockNs(ctx.kernel, which)
  }
  armTimer(ctx.kernel, pt)
  return Effect.void
}

/**
 * __setitimer50(which, itv, oitv): the old setting goes to oitv first
 * (when given); a NULL itv only reads.
 */
const setitimer: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const which = ctx.args.int(0)
    if (!validClock(which)) return yield* sysErr(Errno.EINVAL)
    const itvp = ctx.args.ptr(1)
    const itv = itvp === 0n ? undefined : yield* copyin(ctx, itvp, ITIMERVAL_SIZE)
    const oitvp = ctx.args.ptr(2)
    if (oitvp !== 0n) yield* copyout(ctx, oitvp, getitimerOf(ctx, which))
    if (itv !== undefined) yield* dosetitimer(ctx, which, itv)
  })

// POSIX timers

/** The timer `id` names, or EINVAL. */
const timerAt = (ctx: SyscallContext, id: number): Effect.Effect<PTimer, SysErr> => {
  const pt = id >= 2 && id < TIMER_MAX ? timersOf(ctx.proc)?.slots[id] : undefined
  return pt === undefined ? sysErr(Errno.EINVAL) : Effect.succeed(pt)
}

/** The struct sigevent given to timer_create: EINVAL for an unknown notification or a bad signal. */
const sigeventAt = (ctx: SyscallContext, addr: bigint): Effect.Effect<SigEvent, SysErr> =>
  Effect.flatMap(copyin(ctx, addr, SIGEVENT_SIZE), (bytes) => {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const ev = {
      notify: view.getInt32(SIGEV_NOTIFY, true),
      signo: view.getInt32(SIGEV_SIGNO, true),
      value: view.getBigInt64(SIGEV_VALUE, true)
    }
    if (ev.notify < sigev.SIGEV_NONE || ev.notify > sigev.SIGEV_SA) return sysErr(Errno.EINVAL)
    if (ev.notify === sigev.SIGEV_SIGNAL && (ev.signo <= 0 || ev.signo >= signals.NSIG)) return sysErr(Errno.EINVAL)
    return Effect.succeed(ev)
  })

/**
 * timer_create(clock_id, evp, timerid): a NULL evp means SIGEV_SIGNAL with
 * the clock's signal (SIGALRM, SIGVTALRM, SIGPROF) and the timer id as its
 * value. The timer stays made when the id cannot be copied out (EFAULT).
 */
const timerCreate: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const clock = ctx.args.int(0)
    if (!validClock(clock)) return yield* sysErr(Errno.EINVAL)
    const timers = allocTimers(ctx.proc)
    const evp = ctx.args.ptr(1)
    const given = evp === 0n ? undefined : yield* sigeventAt(ctx, evp)
    let id = FIRST_POSIX_TIMER
    while (id < TIMER_MAX && timers.slots[id] !== undefined) id++
    if (id === TIMER_MAX) return yield* sysErr(Errno.EAGAIN)
    const ev = given ?? { notify: sigev.SIGEV_SIGNAL, signo: defaultSignal(clock), value: BigInt(id) }
    timers.slots[id] = new PTimer(ctx.kernel, ctx.proc, clock, ev)
    const out = new Uint8Array(4)
    new DataView(out.buffer).setInt32(0, id, true)
    yield* copyout(ctx, ctx.args.ptr(2), out)
  })

/** timer_delete(timerid) */
const timerDelete: SyscallImpl = (ctx) =>
  Effect.map(timerAt(ctx, ctx.args.int(0)), (pt) => freeTimer(ctx.kernel, allocTimers(pt.proc), ctx.args.int(0)))

/**
 * __timer_settime50(timerid, flags, value, ovalue): relative to now unless
 * TIMER_ABSTIME; a virtual timer given an absolute time keeps what is left
 * of it from the time of day (at least 1 ns). The old setting goes to
 * ovalue after the timer is set.
 */
const timerSettime: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const bytes = yield* copyin(ctx, ctx.args.ptr(2), ITIMERSPEC_SIZE)
    const id = ctx.args.int(0)
    if (id < 2 || id >= TIMER_MAX || timersOf(ctx.proc) === undefined) return yield* sysErr(Errno.EINVAL)
    const v = decodeTimespec(bytes, ITS_VALUE)
    const i = decodeTimespec(bytes, ITS_INTERVAL)
    const value = itimespecfix(v.sec, v.nsec)
    if (typeof value === "number") return yield* sysErr(value)
    const interval = itimespecfix(i.sec, i.nsec)
    if (typeof interval === "number") return yield* sysErr(interval)
    const pt = yield* timerAt(ctx, id)
    const old = itimerspec(pt.interval, pt.value)
    const absolute = (ctx.args.int(1) & timerFlags.TIMER_ABSTIME) !== 0
    pt.interval = interval
    pt.value = value
    if (value !== 0n) {
      if (!isVirtual(pt.clock)) {
        if (!absolute) pt.value += clockNs(ctx.kernel, pt.clock)
      } else if (absolute) {
        const rest = value - ctx.kernel.clock.realtimeNs()
        pt.value = rest > 0n ? rest : 1n
      }
    }
    armTimer(ctx.kernel, pt)
    const ovalue = ctx.args.ptr(3)
    if (ovalue !== 0n) yield* copyout(ctx, ovalue, old)
  })

/** __timer_gettime50(timerid, value): the interval and the time left. */
const timerGettime: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const pt = yield* timerAt(ctx, ctx.args.int(0))
    const { interval, value } = timerLeft(ctx.kernel, pt)
    yield* copyout(ctx, ctx.args.ptr(1), itimerspec(interval, value))
  })

/** timer_getoverrun(timerid): the expirations the last signal stood for beyond the first. */
const timerGetoverrun: SyscallImpl = (ctx) => Effect.map(timerAt(ctx, ctx.args.int(0)), (pt) => pt.poverruns)

export const family: SyscallFamily = [
  [SYS.__getitimer50, getitimer],
  [SYS.__setitimer50, setitimer],
  [SYS.timer_create, timerCreate],
  [SYS.timer_delete, timerDelete],
  [SYS.__timer_settime50, timerSettime],
  [SYS.__timer_gettime50, timerGettime],
  [SYS.timer_getoverrun, timerGetoverrun]
]
