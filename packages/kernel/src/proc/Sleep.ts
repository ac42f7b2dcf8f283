/**
 * Sleeping in the kernel. A syscall that must wait (a blocking read, a
 * nanosleep) sleeps on a WaitQueue; it wakes when the queue is woken, when
 * its timeout passes, or when its lwp is ordered out of the kernel
 * (lwpExit), which the caller turns into EINTR. A fiber interrupted while
 * asleep takes its sleeper away with it.
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
    const all = [...this.sleepers]
    this.sleepers.clear()
    for (const s of all) s.resume("woken")
  }

  /** Sleeps until woken, ordered out or (if given) the timeout passes. */
  sleep(lwp: Lwp, timeout?: Duration.Input): Effect.Effect<WakeReason> {
    return sleepOn(this.sleepers, lwp, timeout)
  }
}

const sleepOn = (queue: Set<Sleeper> | undefined, lwp: Lwp, timeout?: Duration.Input): Effect.Effect<WakeReason> =>
  Effect.callback<WakeReason>((resume) => {
    if (lwp.orderedOut) return resume(Effect.succeed("interrupted"))
    let timer: ReturnType<typeof setTimeout> | undefined
    const sleeper: Sleeper = {
      lwp,
      resume: (reason) => {
        if (timer !== undefined) clearTimeout(timer)
        queue?.delete(sleeper)
        lwp.wakeup = undefined
        resume(Effect.succeed(reason))
      }
    }
    queue?.add(sleeper)
    lwp.wakeup = () => sleeper.resume("interrupted")
    if (timeout !== undefined) {
      timer = setTimeout(() => sleeper.resume("timeout"), Duration.toMillis(Duration.fromInputUnsafe(timeout)))
    }
    return Effect.sync(() => {
      if (timer !== undefined) clearTimeout(timer)
      queue?.delete(sleeper)
      lwp.wakeup = undefined
    })
  })

/** Sleeps on nothing but the clock (nanosleep): "timeout" when it ran out, "interrupted" when ordered out. */
export const sleepFor = (lwp: Lwp, timeout: Duration.Input): Effect.Effect<WakeReason> =>
  sleepOn(undefined, lwp, timeout)
