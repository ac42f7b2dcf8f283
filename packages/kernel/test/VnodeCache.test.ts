/**
 * The host file system's vnode cache (vfs/host/VnodeCache.ts): bounded,
 * least recently used dropped first (a lookup that finds a vnode makes it
 * the most recent), held vnodes never dropped, one vnode per host node.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import { VnodeCache, vnodeKey } from "../src/vfs/host/VnodeCache.ts"

interface Node {
  readonly name: string
  open: boolean
}

const cacheOf = (capacity: number) => {
  const dropped: Array<string> = []
  const cache = new VnodeCache<Node>({
    capacity,
    drop: (n) =>
      Effect.sync(() => {
        n.open = false
        dropped.push(n.name)
      })
  })
  return { cache, dropped }
}

const node = (name: string): Node => ({ name, open: true })

/** Keeps `n` as a lookup that made it would. */
const enter = (cache: VnodeCache<Node>, key: bigint, n: Node) => cache.add(key, n)

/** Finds the vnode of `key` (a lookup). */
const touch = (cache: VnodeCache<Node>, key: bigint) => Effect.sync(() => cache.find(key))

/** Keeps `n` and holds it (as a host call on it, or an open file, does). */
const held = (cache: VnodeCache<Node>, key: bigint, n: Node) =>
  Effect.map(cache.add(key, n), (v) => {
    cache.hold(v)
    return v
  })

describe("vnode cache", () => {
  it.effect("keeps at most its capacity of idle vnodes, dropping the least recently used", () =>
    Effect.gen(function*() {
      const { cache, dropped } = cacheOf(3)
      for (const n of ["a", "b", "c"]) yield* enter(cache, BigInt(n.charCodeAt(0)), node(n))
      assert.strictEqual((yield* touch(cache, 97n))?.name, "a") // a is used: b is now the oldest
      yield* enter(cache, 100n, node("d"))
      assert.deepStrictEqual(dropped, ["b"])
      assert.strictEqual(cache.size, 3)
      assert.strictEqual(cache.idle, 3)
      for (let i = 0; i < 1000; i++) yield* enter(cache, 1000n + BigInt(i), node(`n${i}`))
      assert.strictEqual(cache.size, 3)
      assert.strictEqual(cache.drops, 1001)
      assert.deepStrictEqual(dropped.slice(0, 4), ["b", "c", "a", "d"])
      assert.strictEqual((yield* touch(cache, 1999n))?.name, "n999")
    }))

  it.effect("a held vnode is never dropped; released, it waits with the idle ones", () =>
    Effect.gen(function*() {
      const { cache, dropped } = cacheOf(10)
      const nodes: Array<Node> = []
      for (let i = 0; i < 25; i++) nodes.push(yield* held(cache, BigInt(i), node(`h${i}`)))
      assert.strictEqual(cache.size, 25, "beyond the capacity only by what is held")
      assert.deepStrictEqual(dropped, [])
      cache.hold(nodes[0]!)
      for (const n of nodes) yield* cache.release(n)
      // h0 is still held once; the first released go first
      assert.strictEqual(cache.size, 10)
      assert.isTrue(nodes[0]!.open)
      assert.deepStrictEqual(dropped, Array.from({ length: 15 }, (_, i) => `h${i + 1}`))
      assert.strictEqual(cache.holds(nodes[0]!), 1)
      const bad = yield* Effect.exit(Effect.andThen(cache.release(nodes[0]!), cache.release(nodes[0]!)))
      assert.isTrue(Exit.isFailure(bad), "a release without a hold is a defect")
    }))

  it.effect("two lookups of one node at once: one vnode, the second is dropped", () =>
    Effect.gen(function*() {
      const { cache, dropped } = cacheOf(10)
      const key = vnodeKey(64770n, 1234n)
      const first = yield* cache.add(key, node("first"))
      const second = yield* cache.add(key, node("second"))
      assert.strictEqual(second, first)
      assert.deepStrictEqual(dropped, ["second"])
      assert.strictEqual(cache.size, 1)
      // keys of different devices or inodes differ, 64-bit values included
      assert.notStrictEqual(vnodeKey(1n, 2n), vnodeKey(2n, 1n))
      assert.notStrictEqual(vnodeKey(0n, 2n ** 64n - 1n), vnodeKey(1n, 0n))
    }))

  it.effect("a dropped vnode still referenced is found again, not duplicated", () =>
    Effect.gen(function*() {
      const { cache, dropped } = cacheOf(1)
      const a = yield* enter(cache, 1n, node("a"))
      yield* enter(cache, 2n, node("b"))
      assert.deepStrictEqual(dropped, ["a"])
      assert.isFalse(a.open)
      assert.strictEqual(yield* touch(cache, 1n), a, "the same object: its owner reopens what drop closed")
      assert.strictEqual(cache.size, 1, "found, not kept again")
      yield* enter(cache, 3n, node("c"))
      assert.deepStrictEqual(dropped, ["a", "b"])
      // a hold on a dropped one makes it the node's vnode again
      cache.hold(a)
      assert.strictEqual(cache.size, 2)
      assert.strictEqual(yield* touch(cache, 1n), a)
      assert.strictEqual(cache.holds(a), 1)
      yield* cache.release(a)
      assert.strictEqual(cache.size, 1)
      assert.deepStrictEqual(dropped, ["a", "b", "c"])
      // once nothing references a dropped vnode, its key finds nothing (a new vnode is made)
    }))

  it.effect("a node gone from the host: its key is free at once, its vnode dropped at the last release", () =>
    Effect.gen(function*() {
      const { cache, dropped } = cacheOf(10)
      const old = yield* held(cache, 7n, node("old"))
      yield* cache.forget(7n)
      assert.isUndefined(cache.find(7n))
      const fresh = yield* enter(cache, 7n, node("new"))
      assert.notStrictEqual(fresh, old)
      cache.hold(old) // e.g. a second process reaching it through an open directory
      yield* cache.release(old)
      assert.deepStrictEqual(dropped, [])
      yield* cache.release(old)
      assert.deepStrictEqual(dropped, ["old"])
      assert.strictEqual(yield* touch(cache, 7n), fresh)
      // an idle one goes at once
      yield* cache.forget(7n)
      assert.deepStrictEqual(dropped, ["old", "new"])
      // still held by someone after that (a removed cwd): held and dropped again, never back under its key
      cache.hold(fresh)
      yield* cache.release(fresh)
      assert.deepStrictEqual(dropped, ["old", "new", "new"])
      assert.isUndefined(cache.find(7n))
    }))
})
