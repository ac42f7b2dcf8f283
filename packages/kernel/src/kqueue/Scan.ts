/**
 * Collecting events from a kqueue (kern_event.c's kqueue_scan).
 *
 * One pass goes through the knotes queued when it starts, oldest first:
 * a disabled one is dropped from the queue; one that is not EV_ONESHOT has
 * its event checked again and is dropped when no longer active; the rest
 * are reported, in chunks of 8 copied out as they fill. Then an EV_ONESHOT
 * knote is deleted, an EV_CLEAR one has its data and fflags cleared and
 * waits for its next event, and any other is queued again at the end (so
 * a level-triggered event is reported by every scan while it holds).
 *
 * With nothing queued the scan sleeps (a sleep like any other: woken by an
 * event, by its timeout, or by lwpExit, which is EINTR) and passes again;
 * a timeout runs out as 0 events. A zero timeout only passes once. A pass
 * that found nothing still active sleeps again while time is left.
 */
import { Duration, Effect } from "effect"
import { Errno } from "@sysproxy/protocol/netbsd"
import { evFlags, type Kevent } from "../abi/Kevent.ts"
import { monotonicNs } from "../kern/Clocks.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import type { Lwp } from "../proc/Lwp.ts"
import { KN_ACTIVE, KN_DISABLED, KN_QUEUED, type Knote } from "./Knote.ts"
import type { KQueue } from "./KQueue.ts"

/** Events copied out at a time (KQ_NEVENTS). */
export const KQ_NEVENTS = 8

const NS_PER_MS = 1_000_000n
/** setTimeout's longest delay; a longer wait sleeps several times. */
const MAX_TIMER_MS = 2 ** 31 - 1

const keventOf = (kn: Knote): Kevent => ({
  ident: kn.ident,
  filter: kn.filter,
  flags: kn.flags,
  fflags: kn.fflags,
  data: kn.data,
  udata: kn.udata
})

/** What one knote of a pass yields: its event, or nothing (disabled, or no longer active). */
const take = (kq: KQueue, kn: Knote): Kevent | undefined => {
  kq.dequeue(kn)
  if ((kn.status & KN_DISABLED) !== 0) return undefined
  if ((kn.flags & evFlags.EV_ONESHOT) === 0) {
    const active = kn.fop.event(kn, 0)
    // queued again by its own check: the next pass sees it
    if ((kn.status & KN_QUEUED) !== 0) return undefined
    if (!active) {
      kn.status &= ~KN_ACTIVE
      return undefined
    }
  }
  const ev = keventOf(kn)
  if ((kn.flags & evFlags.EV_ONESHOT) !== 0) {
    kq.drop(kn, true)
  } else if ((kn.flags & evFlags.EV_CLEAR) !== 0) {
    kn.data = 0n
    kn.fflags = 0
    kn.status &= ~KN_ACTIVE
  } else {
    kq.requeue(kn)
  }
  return ev
}

/**
 * Up to `max` events of `kq` go to `put` (which copies a chunk out, at the
 * index given); the count reported. `timeoutNs`: none waits for ever, 0
 * only looks.
 */
export const scan: (
  lwp: Lwp,
  kq: KQueue,
  max: number,
  timeoutNs: bigint | undefined,
  put: (events: ReadonlyArray<Kevent>, at: number) => Effect.Effect<void, SysErr>
) => Effect.Effect<number, SysErr> = Effect.fnUntraced(
  function*(lwp, kq, max, timeoutNs, put) {
    if (max === 0) return 0
    const deadline = timeoutNs === undefined ? undefined : monotonicNs() + timeoutNs
    const timeLeft = () => (deadline === undefined ? undefined : deadline - monotonicNs())
    for (;;) {
      if (kq.count > 0) {
        let done = 0
        let chunk: Array<Kevent> = []
        for (const kn of [...kq.queue]) {
          if (!kq.queue.has(kn)) continue
          const ev = take(kq, kn)
          if (ev === undefined) continue
          chunk.push(ev)
          if (chunk.length === KQ_NEVENTS) {
            yield* put(chunk, done)
            done += chunk.length
            chunk = []
          }
          if (done + chunk.length === max) break
        }
        if (chunk.length > 0) {
          yield* put(chunk, done)
          done += chunk.length
        }
        if (done > 0) return done
        const left = timeLeft()
        if (left !== undefined && left <= 0n) return 0
        continue
      }
      if (kq.closed) return yield* sysErr(Errno.EBADF)
      const left = timeLeft()
      if (left !== undefined && left <= 0n) return 0
      let wait: Duration.Duration | undefined
      if (left !== undefined) {
        const ms = (left + NS_PER_MS - 1n) / NS_PER_MS
        wait = Duration.millis(ms > BigInt(MAX_TIMER_MS) ? MAX_TIMER_MS : Number(ms))
      }
      const why = yield* kq.waiters.sleep(lwp, wait, () => kq.count > 0 || kq.closed)
      if (why === "interrupted") return yield* sysErr(Errno.EINTR)
    }
  })
