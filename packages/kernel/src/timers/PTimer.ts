/**
 * A process's timers (NetBSD's struct ptimers and struct ptimer,
 * kern_time.c): 32 slots; 0 to 3 are the interval timers of setitimer
 * (ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF, ITIMER_MONOTONIC), and
 * timer_create takes the first free one from 3 up (so ITIMER_MONOTONIC and
 * a POSIX timer may meet in slot 3, as they do in NetBSD).
 *
 * A timer on CLOCK_REALTIME or CLOCK_MONOTONIC keeps the absolute time it
 * goes off at and runs as a callout of the kernel (whole clock ticks, so
 * it fires on a 10 ms boundary at least one tick after its time); when it
 * fires it signals the process (SIGEV_SIGNAL: a RAISE to its client, the
 * way kill sends one; SIGEV_NONE and the others: nothing) and, with an
 * interval, is set again for the next multiple of the interval after now,
 * counting the ones it had to skip as overruns (timer_getoverrun reports
 * those of the last signal). Timers on CLOCK_VIRTUAL and CLOCK_PROF keep
 * their relative time and never run: a rump kernel's processes are never
 * on a CPU of their own, so no process time passes for them.
 */
import { Effect } from "effect"
import { clockIds, sigev } from "@sysproxy/protocol/netbsd"
import type { KernelState } from "../KernelState.ts"
import { monotonicNs } from "../kern/Clocks.ts"
import type { Proc } from "../proc/Proc.ts"
import { Callout } from "./Callout.ts"

/** Slots per process (TIMER_MAX). */
export const TIMER_MAX = 32
/** The first slot timer_create gives out. */
export const FIRST_POSIX_TIMER = 3

const NS_PER_US = 1000n
const US_PER_TICK = 10_000n

/** struct sigevent as the kernel keeps it. */
export interface SigEvent {
  readonly notify: number
  readonly signo: number
  /** sigev_value (a union sigval: an int or a pointer). */
  readonly value: bigint
}

export const isVirtual = (clock: number): boolean =>
  clock === clockIds.CLOCK_VIRTUAL || clock === clockIds.CLOCK_PROF

export class PTimer {
  /** it_value: when it goes off (absolute on its clock, relative for a virtual one); 0: disarmed. */
  value = 0n
  /** it_interval: 0 for a one-shot timer. */
  interval = 0n
  /** Overruns counting up to the next signal, and those of the last one (pt_overruns, pt_poverruns). */
  overruns = 0
  poverruns = 0
  readonly callout: Callout | undefined

  readonly proc: Proc
  /** pt_type: the clock it runs on. */
  readonly clock: number
  readonly sigev: SigEvent

  constructor(kernel: KernelState, proc: Proc, clock: number, sigev: SigEvent) {
    this.proc = proc
    this.clock = clock
    this.sigev = sigev
    this.callout = isVirtual(clock) ? undefined : new Callout(() => expire(kernel, this))
  }
}

/** The time on the clock a timer runs on. */
export const clockNs = (kernel: KernelState, clock: number): bigint =>
  clock === clockIds.CLOCK_MONOTONIC ? monotonicNs() : kernel.clock.realtimeNs()

/** tstohz: ticks until a time `ns` away (as a timeval: whole microseconds), one more for the tick under way; 0 when it has passed. */
const ticksFor = (ns: bigint): number => {
  if (ns <= 0n) return 0
  const us = ns / NS_PER_US
  const ticks = (us + US_PER_TICK - 1n) / US_PER_TICK + 1n
  return ticks > 0x7fff_ffffn ? 0x7fff_ffff : Number(ticks)
}

/** timer_settime: (re)arms a timer for its value, or stops it. */
export const armTimer = (kernel: KernelState, pt: PTimer): void => {
  if (pt.callout === undefined) return
  kernel.callouts.stop(pt.callout)
  if (pt.value !== 0n) kernel.callouts.schedule(pt.callout, ticksFor(pt.value - clockNs(kernel, pt.clock)))
}

/** timer_gettime: the interval and the time left (0 once it has passed, or for a disarmed timer). */
export const timerLeft = (kernel: KernelState, pt: PTimer): { readonly interval: bigint; readonly value: bigint } => {
  if (pt.value === 0n || isVirtual(pt.clock)) return { interval: pt.interval, value: pt.value }
  const left = pt.value - clockNs(kernel, pt.clock)
  return { interval: pt.interval, value: left > 0n ? left : 0n }
}

const u64 = (n: bigint): bigint => BigInt.asUintN(64, n)

/** itimerfire and timer_intr: the signal, for SIGEV_SIGNAL, to a process still there. */
const fire = (pt: PTimer): Effect.Effect<void> | undefined => {
  if (pt.sigev.notify !== sigev.SIGEV_SIGNAL || pt.proc.released) return undefined
  pt.poverruns = pt.overruns
  pt.overruns = 0
  return pt.proc.client?.raise(pt.sigev.signo)
}

/**
 * realtimerexpire: a one-shot timer is done; a periodic one is set for its
 * next time after now (the ones it is late for are overruns, and a clock
 * set back restarts it an interval from now).
 */
const expire = (kernel: KernelState, pt: PTimer): Effect.Effect<void> | undefined => {
  if (pt.interval === 0n) {
    pt.value = 0n
    return fire(pt)
  }
  const now = clockNs(kernel, pt.clock)
  const backwards = pt.value > now
  const next = pt.value + pt.interval
  if (!backwards && next > now) {
    pt.value = next
  } else {
    const last = pt.value
    let nextVal = u64(now + (u64(now - last + pt.interval - 1n) % pt.interval))
    if (backwards) nextVal = u64(nextVal + pt.interval)
    else pt.overruns = Number(BigInt.asIntN(32, BigInt(pt.overruns) + u64(now - last) / pt.interval))
    pt.value = nextVal
  }
  armTimer(kernel, pt)
  return fire(pt)
}

/** p_timers. */
export class ProcTimers {
  readonly slots: Array<PTimer | undefined> = Array.from({ length: TIMER_MAX }, () => undefined)
}

const processTimers = new WeakMap<Proc, ProcTimers>()

/** The process's timers, if it ever had any (NetBSD answers EINVAL for timer ids of a process without). */
export const timersOf = (p: Proc): ProcTimers | undefined => processTimers.get(p)

/** timers_alloc: the process's timers, made on first use. */
export const allocTimers = (p: Proc): ProcTimers => {
  let t = processTimers.get(p)
  if (t === undefined) {
    t = new ProcTimers()
    processTimers.set(p, t)
  }
  return t
}

/** itimerfree: the timer in `slot` is gone. */
export const freeTimer = (kernel: KernelState, timers: ProcTimers, slot: number): void => {
  const pt = timers.slots[slot]
  if (pt === undefined) return
  timers.slots[slot] = undefined
  if (pt.callout !== undefined) kernel.callouts.stop(pt.callout)
}

/** timers_free(TIMERS_ALL): the process is gone, and so are its timers. */
export const releaseTimers = (kernel: KernelState, p: Proc): void => {
  const t = processTimers.get(p)
  if (t === undefined) return
  for (let slot = 0; slot < TIMER_MAX; slot++) freeTimer(kernel, t, slot)
  processTimers.delete(p)
}
