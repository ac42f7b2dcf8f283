/**
 * EVFILT_TIMER (kern_event.c's filt_timerattach, filt_timerexpire): data
 * given when added is the period in milliseconds, turned into clock ticks
 * as amd64's mstohz does (hz 100: whole ticks, truncated; under one tick is
 * one tick, as is a count that comes out negative; 0 ms is EINVAL). Each expiry adds one to data and activates the
 * knote; it fires again after a period read anew from the knote (EV_ADD on
 * it changes the next period), unless EV_ONESHOT. EV_CLEAR is set, so a
 * collected event starts counting from 0 again. The kernel keeps at most
 * kq_calloutmax of them at once (ENOMEM beyond).
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { evFlags } from "../../abi/Kevent.ts"
import { HZ } from "../../kern/Clocks.ts"
import { Callout, type CalloutQueue } from "../../timers/Callout.ts"
import type { Knote } from "../Knote.ts"

/**
 * mstohz of kn_sdata (a uintptr_t) into an int, as filt_timerattach
 * computes it: amd64's machine/param.h has its own mstohz, ((ms + 0UL) *
 * hz / 1000) in unsigned long (the product wraps at 64 bits), which
 * replaces sys/param.h's 32-bit one; the int keeps the low 32 bits. So a
 * negative period is a huge unsigned one: some 1.27e9 ticks for -1 to -99.
 */
export const mstohz = (sdata: bigint): number =>
  Number(BigInt.asIntN(32, BigInt.asUintN(64, BigInt.asUintN(64, sdata) * BigInt(HZ)) / 1000n))

const periodTicks = mstohz

export const timerAttach = (callouts: CalloutQueue, kn: Knote): number => {
  let ticks = periodTicks(kn.sdata)
  if (ticks === 0) {
    if (kn.sdata === 0n) return Errno.EINVAL
    ticks = 1
  }
  if (callouts.kqueueTimers + 1 >= callouts.maxKqueueTimers) return Errno.ENOMEM
  callouts.kqueueTimers++
  kn.flags |= evFlags.EV_CLEAR
  const callout = new Callout(() => {
    kn.data++
    kn.kq.activate(kn)
    if ((kn.flags & evFlags.EV_ONESHOT) === 0) callouts.schedule(callout, periodTicks(kn.sdata))
    return undefined
  })
  kn.fop = {
    event: (k) => k.data !== 0n,
    detach: () => {
      callouts.stop(callout)
      callouts.kqueueTimers--
    }
  }
  callouts.schedule(callout, ticks)
  return 0
}
