import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber } from "effect"
import type { Frame } from "@sysproxy/protocol"
import { BadAnswer, makeWaiters, NotConnected } from "../src/Waiters.ts"

const answer = (reqno: bigint): Frame => ({ _tag: "CopyinResponse", reqno, data: new Uint8Array([Number(reqno)]) })

/** Starts a wait for `reqno` (sent successfully) in a fiber of its own. */
const waitFor = (w: ReturnType<typeof makeWaiters>, reqno: bigint) =>
  Effect.forkChild(w.request(reqno, () => true), { startImmediately: true })

describe("Waiters (a connection's requests awaiting an answer)", () => {
  it.effect("hands each answer to its own wait, whichever order they come in", () =>
    Effect.gen(function*() {
      const w = makeWaiters()
      // the first wait takes the slot, the others go to the table beside it
      const fibers = [yield* waitFor(w, 1n), yield* waitFor(w, 2n), yield* waitFor(w, 3n)]
      assert.strictEqual(w.size(), 3)
      assert.isTrue(w.complete(2n, answer(2n)))
      assert.isTrue(w.complete(1n, answer(1n)))
      // a new wait while one of the table's is still out: the slot is free again
      fibers.push(yield* waitFor(w, 4n))
      assert.strictEqual(w.size(), 2)
      assert.isTrue(w.complete(4n, answer(4n)))
      assert.isTrue(w.complete(3n, answer(3n)))
      assert.strictEqual(w.size(), 0)
      const got = yield* Effect.forEach(fibers, Fiber.join)
      assert.deepStrictEqual(got.map((f) => f.reqno), [1n, 2n, 3n, 4n])
      // an answer nobody waits for (any more) is refused
      assert.isFalse(w.complete(1n, answer(1n)))
      assert.isFalse(w.complete(9n, answer(9n)))
    }))

  it.effect("a failed send, an interrupted wait and a bad answer each leave nothing registered", () =>
    Effect.gen(function*() {
      const w = makeWaiters()
      const unsent = yield* Effect.exit(w.request(1n, () => false))
      assert.isTrue(Exit.isFailure(unsent))
      assert.strictEqual(w.size(), 0)
      const first = yield* waitFor(w, 2n)
      const second = yield* waitFor(w, 3n)
      yield* Fiber.interrupt(first)
      assert.strictEqual(w.size(), 1)
      assert.isFalse(w.complete(2n, answer(2n)))
      assert.isTrue(w.fail(3n, new BadAnswer({ message: "short" })))
      const failed = yield* Effect.flip(Fiber.join(second))
      assert.strictEqual(failed._tag, "BadAnswer")
      yield* Fiber.interrupt(yield* waitFor(w, 4n))
      assert.strictEqual(w.size(), 0)
    }))

  it.effect("closeAll ends every wait, slot and table alike, and refuses later ones", () =>
    Effect.gen(function*() {
      const w = makeWaiters()
      const fibers = [yield* waitFor(w, 1n), yield* waitFor(w, 2n)]
      w.closeAll()
      assert.strictEqual(w.size(), 0)
      for (const f of fibers) assert.instanceOf(yield* Effect.flip(Fiber.join(f)), NotConnected)
      const later = yield* Effect.flip(w.request(3n, () => true))
      assert.instanceOf(later, NotConnected)
      assert.strictEqual(w.size(), 0)
    }))
})
