import { assert, describe, it } from "@effect/vitest"
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { LocalMemory, makeLocalMemory, provideLocalMemory, UserMemory } from "../src/index.ts"

const bytes = (...xs: ReadonlyArray<number>) => Uint8Array.from(xs)
const text = (s: string) => new TextEncoder().encode(s)

describe("LocalMemory regions", () => {
  it("reads and writes inside a region only", () => {
    const m = makeLocalMemory()
    const a = m.alloc(bytes(1, 2, 3, 4))
    assert.deepStrictEqual(m.read(a, 4), bytes(1, 2, 3, 4))
    assert.deepStrictEqual(m.read(a + 1n, 2), bytes(2, 3))
    assert.isUndefined(m.read(a + 1n, 4)) // runs one byte past the end
    assert.isUndefined(m.read(a - 1n, 1))
    assert.isTrue(m.write(a + 2n, bytes(9, 9)))
    assert.isFalse(m.write(a + 3n, bytes(7, 7)))
    assert.deepStrictEqual(m.read(a, 4), bytes(1, 2, 9, 9)) // the refused write left nothing behind
  })

  it("copies data in and out, so callers cannot alias it", () => {
    const m = makeLocalMemory()
    const source = bytes(5, 6)
    const a = m.alloc(source)
    source[0] = 0
    const got = m.read(a, 2)
    assert.deepStrictEqual(got, bytes(5, 6))
    if (got !== undefined) got[1] = 0
    assert.deepStrictEqual(m.read(a, 2), bytes(5, 6))
  })

  it("never lets an access reach from one region into the next", () => {
    const m = makeLocalMemory({ base: 0x4000n })
    const a = m.alloc(4096) // exactly one page: the next region would be adjacent without a gap
    const b = m.alloc(16)
    assert.isTrue(a >= 0x4000n)
    assert.isTrue(b >= a + 4096n + 4096n, "a guard page separates regions")
    assert.isUndefined(m.read(a + 4095n, 2))
    assert.isUndefined(m.read(a + 4096n, 1))
    assert.isUndefined(m.read(b - 1n, 1))
    assert.deepStrictEqual(m.read(b, 16), new Uint8Array(16))
  })

  it("counts regions and bytes, and free gives them back", () => {
    const m = makeLocalMemory()
    const a = m.alloc(10)
    const s = m.allocString("héllo")
    assert.strictEqual(m.regionCount, 2)
    assert.strictEqual(m.mappedBytes, 10 + 7) // é is two bytes, plus the NUL
    assert.isTrue(m.free(a))
    assert.isFalse(m.free(a))
    assert.isFalse(m.free(s + 1n)) // only a region's start frees it
    assert.strictEqual(m.regionCount, 1)
    assert.isUndefined(m.read(a, 1))
    assert.isTrue(m.free(s))
    assert.strictEqual(m.regionCount, 0)
    assert.strictEqual(m.mappedBytes, 0)
  })

  it("readString stops at the NUL, at max, or fails off the region", () => {
    const m = makeLocalMemory()
    const s = m.allocString("héllo")
    assert.strictEqual(m.readString(s, 100), "héllo")
    assert.strictEqual(m.readString(s, 1), "h")
    const noNul = m.alloc(text("abc"))
    assert.strictEqual(m.readString(noNul, 3), "abc")
    assert.isUndefined(m.readString(noNul, 4))
  })

  it("zero-length accesses succeed anywhere", () => {
    const m = makeLocalMemory()
    assert.deepStrictEqual(m.read(0n, 0), new Uint8Array(0))
    assert.isTrue(m.write(0n, new Uint8Array(0)))
  })
})

describe("LocalMemory as UserMemory", () => {
  it.effect("copyin returns the bytes or fails with EFAULT", () =>
    Effect.gen(function*() {
      const m = makeLocalMemory()
      const a = m.alloc(bytes(1, 2, 3))
      assert.deepStrictEqual(yield* m.service.copyin(a, 3), bytes(1, 2, 3))
      const fault = yield* Effect.flip(m.service.copyin(a, 4))
      assert.strictEqual(fault._tag, "MemoryFault")
      assert.strictEqual(fault.op, "copyin")
      assert.strictEqual(fault.errno, Errno.EFAULT)
      const unmapped = yield* Effect.flip(m.service.copyin(0n, 1))
      assert.strictEqual(unmapped.errno, Errno.EFAULT)
    }))

  it.effect("copyinstr: through the NUL", () =>
    Effect.gen(function*() {
      const m = makeLocalMemory()
      const s = m.allocString("abc")
      assert.deepStrictEqual(yield* m.service.copyinstr(s, 10), text("abc\0"))
      assert.deepStrictEqual(yield* m.service.copyinstr(s, 4), text("abc\0"))
      assert.deepStrictEqual(yield* m.service.copyinstr(s + 3n, 10), text("\0"))
    }))

  it.effect("copyinstr: maxLen bytes when no NUL comes within maxLen", () =>
    Effect.gen(function*() {
      const m = makeLocalMemory()
      const s = m.allocString("abcdef")
      assert.deepStrictEqual(yield* m.service.copyinstr(s, 3), text("abc"))
      assert.deepStrictEqual(yield* m.service.copyinstr(s, 6), text("abcdef")) // the NUL is byte 7
      assert.deepStrictEqual(yield* m.service.copyinstr(s, 0), new Uint8Array(0))
      const noNul = m.alloc(text("xyz"))
      assert.deepStrictEqual(yield* m.service.copyinstr(noNul, 3), text("xyz"))
    }))

  it.effect("copyinstr: EFAULT when the region ends before a NUL or maxLen", () =>
    Effect.gen(function*() {
      const m = makeLocalMemory()
      const noNul = m.alloc(text("xyz"))
      const fault = yield* Effect.flip(m.service.copyinstr(noNul, 4))
      assert.strictEqual(fault.op, "copyinstr")
      assert.strictEqual(fault.errno, Errno.EFAULT)
      assert.strictEqual((yield* Effect.flip(m.service.copyinstr(noNul + 3n, 1))).errno, Errno.EFAULT)
      assert.strictEqual((yield* Effect.flip(m.service.copyinstr(0n, 1))).errno, Errno.EFAULT)
    }))

  it.effect("copyout and copyoutstr store in bounds and fault out of bounds without a partial write", () =>
    Effect.gen(function*() {
      const m = makeLocalMemory()
      const a = m.alloc(4)
      yield* m.service.copyout(a, bytes(1, 2))
      yield* m.service.copyoutstr(a + 2n, text("z\0"))
      assert.deepStrictEqual(m.read(a, 4), bytes(1, 2, 0x7a, 0))
      const out = yield* Effect.flip(m.service.copyout(a + 2n, bytes(9, 9, 9)))
      assert.strictEqual(out.op, "copyout")
      assert.strictEqual(out.errno, Errno.EFAULT)
      const outstr = yield* Effect.flip(m.service.copyoutstr(a + 4n, text("\0")))
      assert.strictEqual(outstr.op, "copyoutstr")
      assert.strictEqual(outstr.errno, Errno.EFAULT)
      assert.deepStrictEqual(m.read(a, 4), bytes(1, 2, 0x7a, 0))
    }))

  it.effect("anonmmap maps zeroed memory up to the limit, and freeing makes room again", () =>
    Effect.gen(function*() {
      const m = makeLocalMemory({ anonmmapLimit: 8192n })
      const a = yield* m.service.anonmmap(4096n)
      assert.deepStrictEqual(m.read(a, 4096), new Uint8Array(4096))
      assert.isTrue(m.write(a + 4095n, bytes(1)))
      const b = yield* m.service.anonmmap(4096n)
      assert.notStrictEqual(a, b)
      const refused = yield* Effect.flip(m.service.anonmmap(1n))
      assert.strictEqual(refused.op, "anonmmap")
      assert.strictEqual(refused.errno, Errno.ENOMEM)
      assert.strictEqual(m.regionCount, 2)
      m.free(a)
      const c = yield* m.service.anonmmap(4096n)
      assert.deepStrictEqual(m.read(c, 4), new Uint8Array(4))
      assert.strictEqual((yield* Effect.flip(m.service.anonmmap(0n))).errno, Errno.EINVAL)
    }))

  it.effect("raise records signals and tells listeners until they unsubscribe", () =>
    Effect.gen(function*() {
      const m = makeLocalMemory()
      const heard: Array<number> = []
      const unsubscribe = m.onRaise((s) => heard.push(s))
      yield* m.service.raise(2)
      unsubscribe()
      yield* m.service.raise(15)
      assert.deepStrictEqual(m.signals, [2, 15])
      assert.deepStrictEqual(heard, [2])
    }))

  it.effect("provideLocalMemory and LocalMemory.layer provide the UserMemory service", () =>
    Effect.gen(function*() {
      const m = makeLocalMemory()
      const a = m.allocString("hi")
      const program = UserMemory.use((mem) => mem.copyin(a, 3))
      assert.deepStrictEqual(yield* program.pipe(provideLocalMemory(m)), text("hi\0"))
      assert.deepStrictEqual(yield* program.pipe(Effect.provide(LocalMemory.layer(m))), text("hi\0"))
    }))
})
