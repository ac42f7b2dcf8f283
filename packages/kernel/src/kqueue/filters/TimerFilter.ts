/**
 * EVFILT_TIMER (kern_event.c's filt_timerattach, filt_timerexpire): data
 * given when added is the period in milliseconds, turned into clock ticks
 * as mstohz does (hz 100: whole ticks, truncated; under one tick is one
 * tick; 0 ms is EINVAL). Each expiry adds one to data and activates the
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

/** mstohz of kn_sdata (a uintptr_t) into an int, as filt_timerattach computes it. */
const periodTicks = (sdata: bigint): number => {
  const ms = BigInt.asUintN(64, sdata)
  const hz = BigInt(HZ)
  const ticks = ms >= 0x20000n ? (ms / 1000n) * hz : BigInt.asUintN(64, ms * hz) / 1000n
  return Number(BigInt.asIntN(32, ticks))
}

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
