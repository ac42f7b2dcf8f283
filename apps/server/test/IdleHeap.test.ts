/**
 * The idle heap trim (IdleHeap.ts): one memory-reducing collection once no
 * syscall has started for the quiet period and the resident size is well
 * above its last low; none while syscalls keep coming, none when there is
 * little to give back, one per quiet spell. And the collection itself is a
 * real V8 collection.
 */
import { assert, describe, it } from "@effect/vitest"
import { Duration, Effect, Fiber } from "effect"
import { TestClock } from "effect/testing"
import * as V8 from "node:v8"
import { idleHeap, memoryReducingCollect } from "../src/IdleHeap.ts"

const MiB = 1024 * 1024

/** A watcher over counters the test moves: syscalls started, resident bytes, collections run. */
const watched = () => {
  const s = { syscalls: 0, rss: 100 * MiB, collections: 0 }
  const watch = idleHeap({
    quiet: Duration.seconds(5),
    activity: () => s.syscalls,
    rss: () => s.rss,
    collect: () => {
      s.collections++
      s.rss = 110 * MiB
    },
    slack: 32 * MiB
  })
  return { s, watch }
}

describe("idle heap", () => {
  it.effect("collects once after a quiet spell when RSS grew past the slack, and not again until the next burst", () =>
    Effect.gen(function*() {
      const { s, watch } = watched()
      const fiber = yield* Effect.forkChild(watch)
      // a burst: syscalls every half second for 10 s, RSS growing
      for (let i = 0; i < 20; i++) {
        s.syscalls += 100
        s.rss += 5 * MiB
        yield* TestClock.adjust("500 millis")
      }
      assert.strictEqual(s.collections, 0, "busy: no collection")
      yield* TestClock.adjust("4 seconds")
      assert.strictEqual(s.collections, 0, "quiet for less than 5 s")
      yield* TestClock.adjust("2 seconds")
      assert.strictEqual(s.collections, 1)
      yield* TestClock.adjust("60 seconds")
      assert.strictEqual(s.collections, 1, "one per quiet spell")
      // a small burst: RSS within the slack of the last low (110 MiB)
      s.syscalls++
      s.rss = 130 * MiB
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(s.collections, 1, "little to give back")
      // a big one
      s.syscalls++
      s.rss = 200 * MiB
      yield* TestClock.adjust("10 seconds")
      assert.strictEqual(s.collections, 2)
      yield* Fiber.interrupt(fiber)
    }))

  it.effect("never collects while syscalls keep starting", () =>
    Effect.gen(function*() {
      const { s, watch } = watched()
      s.rss = 500 * MiB
      const fiber = yield* Effect.forkChild(watch)
      for (let i = 0; i < 120; i++) {
        s.syscalls++
        yield* TestClock.adjust("1 second")
      }
      assert.strictEqual(s.collections, 0)
      yield* Fiber.interrupt(fiber)
    }))

  it("runs a real memory-reducing collection, which empties the young generation", () => {
    const young = () => V8.getHeapSpaceStatistics().find((sp) => sp.space_name === "new_space")!
    // survivors in the young generation
    const keep: Array<Array<number>> = []
    for (let i = 0; i < 20_000; i++) keep.push([i, i + 1])
    assert.isAbove(young().space_used_size, 0)
    const profiler = new V8.GCProfiler()
    profiler.start()
    memoryReducingCollect()
    const after = young().space_used_size
    const { statistics } = profiler.stop()
    assert.isAbove(statistics.length, 0, "a collection ran")
    // what survived went to old space; the young generation holds only what was allocated since
    assert.isBelow(after, 64 * 1024)
    assert.strictEqual(keep.length, 20_000)
  })
})
