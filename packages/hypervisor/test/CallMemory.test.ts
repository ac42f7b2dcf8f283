/**
 * CallMemory passes the caller's memory through: here, that its
 * `disconnect` reaches a memory that is a class instance (as the server's
 * RemoteMemory is) with that instance as `this`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import type { MemoryFault } from "../src/Errors.ts"
import { CallMemory } from "../src/middleware/CallMemory.ts"
import type { UserMemoryService } from "../src/UserMemory.ts"

/** A memory whose methods read its own fields, as a class's methods do. */
class Connected implements UserMemoryService {
  private readonly reasons: Array<string> = []
  get dropped(): ReadonlyArray<string> {
    return this.reasons
  }
  copyin(_addr: bigint, len: number): Effect.Effect<Uint8Array, MemoryFault> {
    return Effect.succeed(new Uint8Array(len))
  }
  copyinstr(): Effect.Effect<Uint8Array, MemoryFault> {
    return Effect.succeed(new Uint8Array([0]))
  }
  copyout(): Effect.Effect<void, MemoryFault> {
    return Effect.void
  }
  copyoutstr(): Effect.Effect<void, MemoryFault> {
    return Effect.void
  }
  anonmmap(): Effect.Effect<bigint, MemoryFault> {
    return Effect.succeed(0x1000n)
  }
  raise(): Effect.Effect<void> {
    return Effect.void
  }
  disconnect(reason: string): Effect.Effect<void> {
    return Effect.sync(() => void this.reasons.push(reason))
  }
}

describe("CallMemory", () => {
  it.effect("disconnect reaches the inner memory with the inner memory as this", () =>
    Effect.gen(function*() {
      const inner = new Connected()
      const proxy = new CallMemory(inner)
      yield* proxy.disconnect!("fault injection: write:drop")
      assert.deepStrictEqual(inner.dropped, ["fault injection: write:drop"])
    }))

  it.effect("a memory without disconnect gives a proxy without one", () =>
    Effect.sync(() => {
      const { disconnect: _, ...plain } = {
        copyin: () => Effect.succeed(new Uint8Array(0)),
        copyinstr: () => Effect.succeed(new Uint8Array(0)),
        copyout: () => Effect.void,
        copyoutstr: () => Effect.void,
        anonmmap: () => Effect.succeed(0n),
        raise: () => Effect.void,
        disconnect: undefined
      } satisfies UserMemoryService
      assert.isUndefined(new CallMemory(plain).disconnect)
    }))
})
