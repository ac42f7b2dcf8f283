/**
 * Sleeping in the kernel. A syscall that must wait (a blocking read, a
 * nanosleep, poll) sleeps on one or more WaitQueues; it wakes when one of
 * them is woken, when its timeout passes, or when its lwp is ordered out of
 * the kernel (lwpExit), which the caller turns into EINTR. A fiber
 * interrupted while asleep takes its sleeper away with it.
 *
 * A sleeper may give a `ready` check, looked at once more as it goes to
 * sleep: when the condition it waits for already holds (it changed after
 * the caller last looked) it returns "woken" at once, so no wakeup is lost.
 */
import { Duration, Effect } from "effect"
import type { Lwp } from "./Lwp.ts"

export type WakeReason = "woken" | "interrupted" | "timeout"

interface Sleeper {
  readonly lwp: Lwp
  readonly resume: (reason: WakeReason) => void
}

export class WaitQueue {
  /**
   * An array, not a Set: a blocking call adds its sleeper and takes it off
   * again, and a Set shrinking back to empty reallocates its table, with
   * the same promotion of every dropped table as kern/LinkedSet.ts tells.
   */
  private sleepers: Array<Sleeper> = []

  get size(): number {
    return this.sleepers.length
  }

  /** Wakes every sleeper; they recheck their condition. */
  wakeAll(): void {
    if (this.sleepers.length === 0) return
    const all = this.sleepers
    this.sleepers = []
    for (const s of all) s.resume("woken")
  }

  /** Sleeps until woken, ordered out or (if given) the timeout passes. */
  sleep(lwp: Lwp, timeout?: Duration.Input, ready?: () => boolean): Effect.Effect<WakeReason> {
    return sleepOn([this], lwp, timeout, ready)
  }

  /** Sleeps on every queue of `queues` at once: the first wakeup of any of them ends the sleep (poll, select). */
  static sleepAny(
    queues: Iterable<WaitQueue>,
    lwp: Lwp,
    timeout?: Duration.Input,
    ready?: () => boolean
  ): Effect.Effect<WakeReason> {
    const distinct: Array<WaitQueue> = []
    for (const q of queues) if (!distinct.includes(q)) distinct.push(q)
    return sleepOn(distinct, lwp, timeout, ready)
  }

  /** @internal sleepOn's */
  add(s: Sleeper): void {
    this.sleepers.push(s)
  }

  /** @internal sleepOn's: a sleeper leaving (woken meanwhile by wakeAll, it is no longer here) */
  remove(s: Sleeper): void {
    const i = this.sleepers.indexOf(s)
    if (i !== -1) this.sleepers.splice(i, 1)
  }
}

const sleepOn = (
  queues: ReadonlyArray<WaitQueue>,
  lwp: Lwp,
  timeout?: Duration.Input,
  ready?: () => boolean
): Effect.Effect<WakeReason> =>
  Effect.callback<WakeReason>((resume) => {
    if (lwp.orderedOut) return resume(Effect.succeed("interrupted"))
    if (ready?.() === true) return resume(Effect.succeed("woken"))
    let timer: ReturnType<typeof setTimeout> | undefined
    const leave = () => {
      if (timer !== undefined) clearTimeout(timer)
      for (const q of queues) q.remove(sleeper)
      if (lwp.wakeup === interrupt) lwp.wakeup = undefined
    }
    const sleeper: Sleeper = {
      lwp,
      resume: (reason) => {
        leave()
        resume(Effect.succeed(reason))
      }
    }
    const interrupt = () => sleeper.resume("interrupted")
    for (const q of queues) q.add(sleeper)
    lwp.wakeup = interrupt
    if (timeout !== undefined) {
      timer = setTimeout(() => sleeper.resume("timeout"), Duration.toMillis(Duration.fromInputUnsafe(timeout)))
    }
    return Effect.sync(leave)
  })

/** Sleeps on nothing but the clock (nanosleep): "timeout" when it ran out, "interrupted" when ordered out. */
export const sleepFor = (lwp: Lwp, timeout: Duration.Input): Effect.Effect<WakeReason> =>
  sleepOn([], lwp, timeout)
