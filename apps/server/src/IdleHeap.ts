/**
 * Gives the heap back to the system once the server has been quiet a
 * while (`--idle-gc S`).
 *
 * A burst of syscalls (a walk of a host tree: 13,000 lookups) grows V8's
 * young generation to its largest (5 to 100 MiB) and leaves old space with
 * garbage nothing collects: V8 shrinks the young generation only after a
 * collection at a low allocation rate, no collection comes while nothing
 * allocates, and its memory reducer judged this server's allocation rate
 * "high" at every check of 40 s of complete idleness (`--trace-memory-reducer`).
 * A regular full collection does not help either: it empties the young
 * generation but keeps its pages. What does is V8's memory-reducing
 * collection (gc's "last-resort" flavour), the one a low-memory notification
 * runs: RSS 181 → 114 MiB after a walk (BENCHMARKS.md).
 *
 * So once no syscall has started for the quiet period and the resident
 * size is SLACK above what it was after the last such collection (or at
 * start), one memory-reducing collection runs: at most one per quiet spell,
 * none while clients keep the server busy (a steady load never pays its
 * pause, see BENCHMARKS.md on getpid tails).
 */
import { Duration, Effect } from "effect"
import * as V8 from "node:v8"
import * as Vm from "node:vm"

/** How far the resident size must be above its last low before a collection is worth its pause. */
export const SLACK_BYTES = 32 * 1024 * 1024

export interface IdleHeapOptions {
  /** How long no syscall must start. */
  readonly quiet: Duration.Duration
  /** Syscalls started so far (the server's counter). */
  readonly activity: () => number
  /** The process's resident bytes now. */
  readonly rss: () => number
  /** Runs the memory-reducing collection. */
  readonly collect: () => void
  /** Bytes above the last low that make a collection worth it (SLACK_BYTES). */
  readonly slack?: number
}

type GcFunction = (options: { readonly type: "major"; readonly flavor: "last-resort" }) => void

let exposed: GcFunction | undefined

/**
 * V8's gc function: the global one under `node --expose-gc`, or else one
 * from a context made while the flag is on (the flag only decides whether
 * new contexts get the function; it is turned off again at once).
 */
const gcFunction = (): GcFunction => {
  if (exposed !== undefined) return exposed
  const global = (globalThis as { readonly gc?: GcFunction }).gc
  if (global !== undefined) return (exposed = global)
  V8.setFlagsFromString("--expose-gc")
  try {
    return (exposed = Vm.runInNewContext("gc") as GcFunction)
  } finally {
    V8.setFlagsFromString("--no-expose-gc")
  }
}

/** One memory-reducing collection (V8 returns the pages it frees). */
export const memoryReducingCollect = (): void => gcFunction()({ type: "major", flavor: "last-resort" })

/** Watches forever (fork it in the server's scope); checks twice per quiet period, at most once a second. */
export const idleHeap = (options: IdleHeapOptions): Effect.Effect<never> =>
  Effect.suspend(() => {
    const slack = options.slack ?? SLACK_BYTES
    const quietMs = Duration.toMillis(options.quiet)
    const tick = Duration.millis(Math.min(1000, quietMs / 2))
    let low = options.rss()
    let seen = options.activity()
    let quietFor = 0
    let collected = false
    const check = Effect.suspend(() => {
      const now = options.activity()
      if (now !== seen) {
        seen = now
        quietFor = 0
        collected = false
        return Effect.void
      }
      quietFor += Duration.toMillis(tick)
      if (collected || quietFor < quietMs) return Effect.void
      collected = true
      const before = options.rss()
      if (before <= low + slack) {
        low = Math.min(low, before)
        return Effect.void
      }
      options.collect()
      low = options.rss()
      const mib = (n: number) => Math.round(n / 1048576)
      return Effect.logDebug(`quiet for ${quietFor / 1000}s: heap given back, RSS ${mib(before)} → ${mib(low)} MiB`)
    })
    return Effect.forever(Effect.andThen(Effect.sleep(tick), check))
  })
