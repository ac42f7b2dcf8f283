/**
 * The kernel's clocks (NetBSD's clock_gettime1, settime1, adjtime1,
 * clock_getres1). CLOCK_MONOTONIC is the host's monotonic clock and never
 * changes. CLOCK_REALTIME is the kernel's own: the host's wall clock plus
 * an offset that settimeofday and clock_settime set and adjtime slews, so
 * setting the time changes what every process of this kernel sees (and
 * what stat and pipe times show), and never the host's clock.
 */
import { Effect } from "effect"
import { clockIds, Errno } from "@sysproxy/protocol/netbsd"
import * as NodeProcess from "node:process"
import type { Timespec } from "../abi/Timespec.ts"
import { sysErr, type SysErr } from "./SysErr.ts"
import type { SyscallContext } from "./SyscallContext.ts"

const NS_PER_SEC = 1_000_000_000n
const NS_PER_US = 1000n
const NS_PER_MS = 1_000_000n
const MAX_STEP = 1_000_000_000n

/** hz: a rump kernel's clock ticks 100 times a second. */
export const HZ = 100
/** One tick, which clock_getres reports for CLOCK_REALTIME and CLOCK_MONOTONIC. */
export const TICK_NS = NS_PER_SEC / BigInt(HZ)

/**
 * The host's wall clock with nanosecond resolution: the wall clock at an
 * anchor plus the monotonic time since. When the host's clock has stepped
 * more than a second away from that, the anchor moves, so a step of the
 * host's clock shows through.
 */
let anchorWall = BigInt(Date.now()) * NS_PER_MS
let anchorMono = NodeProcess.hrtime.bigint()

const hostRealtimeNs = (): bigint => {
  const now = anchorWall + (NodeProcess.hrtime.bigint() - anchorMono)
  const wall = BigInt(Date.now()) * NS_PER_MS
  if (now - wall > MAX_STEP || wall - now > MAX_STEP) {
    anchorWall = wall
    anchorMono = NodeProcess.hrtime.bigint()
    return wall
  }
  return now
}

/** CLOCK_MONOTONIC: the host's monotonic clock. */
export const monotonicNs = (): bigint => NodeProcess.hrtime.bigint()

/**
 * adjtime's slew per second (ntp_update_second): 5 ms while more than a
 * second is left, 500 us while more than 500 us is, then the rest.
 */
const slewRate = (leftUs: bigint): bigint =>
  leftUs > 1_000_000n
    ? 5000n
    : leftUs < -1_000_000n
    ? -5000n
    : leftUs > 500n
    ? 500n
    : leftUs < -500n
    ? -500n
    : leftUs

/** Whole seconds of slewing at `rate` it takes to bring `left` to `limit` or below (in magnitude). */
const secondsAbove = (left: bigint, limit: bigint, rate: bigint): bigint => {
  const magnitude = left < 0n ? -left : left
  return magnitude <= limit ? 0n : (magnitude - limit + rate - 1n) / rate
}

/** One kernel's CLOCK_REALTIME. */
export class KernelClock {
  /** Added to the host's wall clock. */
  private offsetNs = 0n
  /** time_adjtime: microseconds adjtime has still to slew, as of `slewSince`. */
  private adjustUs = 0n
  /** Monotonic time the current second of slewing began. */
  private slewSince = 0n
  /** Boot time on this clock: it moves with every settime, as NetBSD's boottime does. */
  private bootNs: bigint

  constructor() {
    this.bootNs = hostRealtimeNs()
  }

  /** Folds the whole seconds of slewing since `slewSince` into the offset. */
  private settle(mono: bigint): void {
    if (this.adjustUs === 0n) return
    let seconds = (mono - this.slewSince) / NS_PER_SEC
    if (seconds <= 0n) return
    this.slewSince += seconds * NS_PER_SEC
    const step = (limit: bigint, rate: bigint) => {
      const n = secondsAbove(this.adjustUs, limit, rate)
      const k = n < seconds ? n : seconds
      const signed = this.adjustUs < 0n ? -rate : rate
      this.adjustUs -= k * signed
      this.offsetNs += k * signed * NS_PER_US
      seconds -= k
    }
    step(1_000_000n, 5000n)
    step(500n, 500n)
    if (seconds > 0n && this.adjustUs !== 0n) {
      this.offsetNs += this.adjustUs * NS_PER_US
      this.adjustUs = 0n
    }
  }

  /** The part of the current second's slew already applied (the clock runs a little fast or slow meanwhile). */
  private partialSlew(mono: bigint): bigint {
    if (this.adjustUs === 0n) return 0n
    return (slewRate(this.adjustUs) * NS_PER_US * (mono - this.slewSince)) / NS_PER_SEC
  }

  /** CLOCK_REALTIME now, in nanoseconds since the epoch. */
  realtimeNs(): bigint {
    const mono = monotonicNs()
    this.settle(mono)
    return hostRealtimeNs() + this.offsetNs + this.partialSlew(mono)
  }

  /** CLOCK_REALTIME now as a timespec (file and pipe time stamps). */
  realtime(): Timespec {
    const ns = this.realtimeNs()
    return { sec: ns / NS_PER_SEC, nsec: Number(ns % NS_PER_SEC) }
  }

  /** settime1: the clock shows `ns` from now on, and boot time moves by as much. */
  set(ns: bigint): void {
    const delta = ns - this.realtimeNs()
    this.offsetNs += delta
    this.bootNs += delta
  }

  /**
   * adjtime1: the microseconds still to slew (olddelta), and, when `deltaUs`
   * is given, a new amount to slew from now on in place of what was left.
   */
  adjust(deltaUs: bigint | undefined): bigint {
    const mono = monotonicNs()
    this.settle(mono)
    const left = this.adjustUs
    if (deltaUs !== undefined) {
      this.offsetNs += this.partialSlew(mono)
      this.adjustUs = deltaUs
      this.slewSince = mono
    }
    return left
  }

  /** kern.boottime. */
  get boottime(): { readonly sec: bigint; readonly nsec: number } {
    const ns = this.bootNs
    return { sec: ns / NS_PER_SEC, nsec: Number(ns % NS_PER_SEC) }
  }
}

/**
 * The CPU-time clocks. The kernel does not account CPU per process or lwp,
 * so both report the server's own CPU time: it only moves forward, and it
 * does not move while the whole server sleeps.
 */
const cpuNs = (): bigint => {
  const u = NodeProcess.cpuUsage()
  return BigInt(u.user + u.system) * 1000n
}

/** The pid or lid or-ed into a CPU-time clock id (CPUCLOCK_ID_MASK); 0 is the caller. */
const CPUCLOCK_ID_MASK = ~(clockIds.CLOCK_THREAD_CPUTIME_ID | clockIds.CLOCK_PROCESS_CPUTIME_ID)

/** clock_gettime1: EINVAL for an unknown clock, ESRCH for a CPU clock of no such process or lwp. */
export const clockNow = (ctx: SyscallContext, id: number): Effect.Effect<bigint, SysErr> => {
  if ((id & clockIds.CLOCK_PROCESS_CPUTIME_ID) !== 0) {
    const pid = id & CPUCLOCK_ID_MASK
    const p = pid === 0 ? ctx.proc : ctx.kernel.procs.get(pid)
    return p === undefined || p.released ? sysErr(Errno.ESRCH) : Effect.sync(cpuNs)
  }
  if ((id & clockIds.CLOCK_THREAD_CPUTIME_ID) !== 0) {
    const lid = id & CPUCLOCK_ID_MASK
    const found = lid === 0 || [...ctx.proc.lwps].some((l) => l.lid === lid)
    return found ? Effect.sync(cpuNs) : sysErr(Errno.ESRCH)
  }
  switch (id) {
    case clockIds.CLOCK_REALTIME:
      return Effect.sync(() => ctx.kernel.clock.realtimeNs())
    case clockIds.CLOCK_MONOTONIC:
      return Effect.sync(monotonicNs)
    default:
      return sysErr(Errno.EINVAL)
  }
}

/** clock_getres1: one tick for CLOCK_REALTIME and CLOCK_MONOTONIC, EINVAL for any other clock. */
export const clockResolution = (id: number): Effect.Effect<bigint, SysErr> =>
  id === clockIds.CLOCK_REALTIME || id === clockIds.CLOCK_MONOTONIC ? Effect.succeed(TICK_NS) : sysErr(Errno.EINVAL)
