/**
 * The kernel's callouts (NetBSD's callout(9)): functions run a number of
 * clock ticks from now, ticks of hz = 100 as in a rump kernel, so timers
 * land on 10 ms boundaries and a callout of n ticks fires at the n-th
 * tick boundary from the current one.
 *
 * One heap of pending callouts, ordered by tick, and one dispatcher fiber
 * in the kernel's scope that sleeps on one host timer until the earliest
 * tick (or until an earlier callout is scheduled) and then runs every
 * callout that is due. With nothing pending there is no host timer at
 * all: armed timers cost memory, not CPU, and closing the kernel's scope
 * stops them all.
 *
 * A callout's function runs in the dispatcher and must not block: it may
 * return an effect (a signal raised to a client), which the dispatcher
 * runs before the next callout.
 */
import { Cause, Effect, type Scope } from "effect"
import { HZ } from "../kern/Clocks.ts"

const TICK_MS = 1000 / HZ
/** setTimeout's longest delay; a later tick takes several waits. */
const MAX_TIMER_MS = 2 ** 31 - 1

/** What a callout runs: nothing more, or an effect for the dispatcher to run. */
export type CalloutFn = () => Effect.Effect<void> | undefined

export class Callout {
  /** The tick it fires at; -1 while not pending. */
  tick = -1
  /** Its place in the heap; -1 while not pending. */
  index = -1
  readonly fn: CalloutFn

  constructor(fn: CalloutFn) {
    this.fn = fn
  }

  get pending(): boolean {
    return this.index >= 0
  }
}

/** EVFILT_TIMER knotes a kernel keeps at once (NetBSD's kq_calloutmax). */
export const KQ_CALLOUT_MAX = 4 * 1024

export class CalloutQueue {
  /** EVFILT_TIMER knotes now (kq_ncallouts) and how many there may be. */
  kqueueTimers = 0
  /** Times the dispatcher woke (a figure for the bench: none while nothing is due). */
  wakeups = 0
  readonly maxKqueueTimers: number

  private readonly heap: Array<Callout> = []
  /** Monotonic milliseconds at tick 0. */
  private readonly origin = performance.now()
  /** Ends the dispatcher's current wait early (an earlier callout was scheduled). */
  private wake: (() => void) | undefined = undefined

  constructor(maxKqueueTimers = KQ_CALLOUT_MAX) {
    this.maxKqueueTimers = maxKqueueTimers
  }

  /** Callouts pending. */
  get size(): number {
    return this.heap.length
  }

  /** hardclock_ticks: the current tick. */
  ticks(): number {
    return Math.floor((performance.now() - this.origin) / TICK_MS)
  }

  /** callout_schedule: `c` fires `ticks` ticks from now (at least the next tick); a pending one is moved. */
  schedule(c: Callout, ticks: number): void {
    const at = this.ticks() + (ticks > 0 ? Math.min(ticks, Number.MAX_SAFE_INTEGER / 2) : 1)
    if (c.pending) {
      const earlier = at < c.tick
      c.tick = at
      if (earlier) this.up(c.index)
      else this.down(c.index)
    } else {
      c.tick = at
      c.index = this.heap.length
      this.heap.push(c)
      this.up(c.index)
    }
    if (this.heap[0] === c) this.wake?.()
  }

  /** callout_stop: `c` will not fire (nothing when it is not pending). */
  stop(c: Callout): void {
    const i = c.index
    if (i < 0) return
    const last = this.heap.pop() as Callout
    if (last !== c) {
      this.heap[i] = last
      last.index = i
      this.down(i)
      this.up(last.index)
    }
    c.index = -1
    c.tick = -1
  }

  /** Runs the callouts whose tick has come, in tick order (one effect, run at every wakeup: its generator is made once). */
  private readonly fireDue: Effect.Effect<void> = Effect.gen({ self: this }, function*() {
    this.wakeups++
    const now = this.ticks()
    for (;;) {
      const c = this.heap[0]
      if (c === undefined || c.tick > now) return
      this.stop(c)
      const after = c.fn()
      if (after !== undefined) yield* after
    }
  }).pipe(
    // a bug in one timer must not stop every other
    Effect.catchCause((cause) => Effect.logError("callout failed", Cause.squash(cause)))
  )

  /** Sleeps until the earliest callout's tick, or until one earlier than that is scheduled. */
  private waitDue(): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      let timer: ReturnType<typeof setTimeout> | undefined
      const done = () => {
        if (timer !== undefined) clearTimeout(timer)
        timer = undefined
        this.wake = undefined
      }
      this.wake = () => {
        done()
        resume(Effect.void)
      }
      const first = this.heap[0]
      if (first !== undefined) {
        const delay = this.origin + first.tick * TICK_MS - performance.now()
        timer = setTimeout(() => {
          done()
          resume(Effect.void)
        }, Math.min(MAX_TIMER_MS, Math.max(0, Math.ceil(delay))))
      }
      return Effect.sync(done)
    })
  }

  /** The dispatcher: runs for ever (until its fiber is interrupted). */
  readonly dispatch: Effect.Effect<never> = Effect.forever(
    Effect.suspend(() => Effect.andThen(this.waitDue(), this.fireDue))
  )

  private less(i: number, j: number): boolean {
    return (this.heap[i] as Callout).tick < (this.heap[j] as Callout).tick
  }

  private swap(i: number, j: number): void {
    const a = this.heap[i] as Callout
    const b = this.heap[j] as Callout
    this.heap[i] = b
    this.heap[j] = a
    a.index = j
    b.index = i
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(i, parent)) return
      this.swap(i, parent)
      i = parent
    }
  }

  private down(i: number): void {
    const n = this.heap.length
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < n && this.less(l, m)) m = l
      if (r < n && this.less(r, m)) m = r
      if (m === i) return
      this.swap(i, m)
      i = m
    }
  }
}

/** A callout queue whose dispatcher lives as long as the caller's scope (the kernel's). */
export const makeCalloutQueue: (maxKqueueTimers?: number) => Effect.Effect<CalloutQueue, never, Scope.Scope> = Effect.fnUntraced(
  function*(maxKqueueTimers) {
    const queue = new CalloutQueue(maxKqueueTimers)
    yield* Effect.forkScoped(queue.dispatch)
    return queue
  })
