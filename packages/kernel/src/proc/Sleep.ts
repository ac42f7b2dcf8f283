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
  private readonly sleepers = new Set<Sleeper>()

  get size(): number {
    return this.sleepers.size
  }

  /** Wakes every sleeper; they recheck their condition. */
  wakeAll(): void {
    if (this.sleepers.size === 0) return
    const all = [...this.sleepers]
    this.sleepers.clear()
    for (const s of all) s.resume("woken")
  }

  /** Sleeps until woken, ordered out or (if given) the timeout passes. */
  sleep(lwp: Lwp, timeout?: Duration.Input, ready?: () => boolean): Effect.Effect<WakeReason> {
    return sleepOn([this.sleepers], lwp, timeout, ready)
  }

  /** Sleeps on every queue of `queues` at once: the first wakeup of any of them ends the sleep (poll, select). */
  static sleepAny(
    queues: Iterable<WaitQueue>,
    lwp: Lwp,
    timeout?: Duration.Input,
    ready?: () => boolean
  ): Effect.Effect<WakeReason> {
    return sleepOn([...new Set(queues)].map((q) => q.sleepers), lwp, timeout, ready)
  }
}

const sleepOn = (
  queues: ReadonlyArray<Set<Sleeper>>,
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
      for (const q of queues) q.delete(sleeper)
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
