import { assert, describe, it } from "@effect/vitest"
import { AddressSpace, ADDRESS_SPACE_BASE, MAX_REGION_SIZE, PAGE_SIZE } from "../src/AddressSpace.ts"

const utf8 = new TextEncoder()

describe("AddressSpace", () => {
  it("places regions at distinct page-aligned addresses with unmapped gaps", () => {
    const space = new AddressSpace()
    const a = space.alloc(10)
    const b = space.alloc(PAGE_SIZE)
    const c = space.alloc(utf8.encode("abc"))
    assert.strictEqual(a, ADDRESS_SPACE_BASE)
    assert.isTrue(a < b && b < c)
    for (const addr of [a, b, c]) assert.strictEqual(addr % PAGE_SIZE, 0n)
    // the bytes right after each region are unmapped
    assert.isFalse(space.isMapped(a + 10n, 1))
    assert.isFalse(space.isMapped(b + PAGE_SIZE, 1))
    assert.isFalse(space.isMapped(a - 1n, 1))
    assert.strictEqual(space.regionCount, 3)
    assert.strictEqual(space.mappedBytes, 10 + Number(PAGE_SIZE) + 3)
  })

  it("reads zeros from fresh memory, copies written data, and detects out-of-bounds access", () => {
    const space = new AddressSpace()
    const a = space.alloc(8)
    assert.deepStrictEqual(space.read(a, 8), new Uint8Array(8))
    assert.isTrue(space.write(a + 2n, new Uint8Array([1, 2])))
    assert.deepStrictEqual(space.read(a, 4), new Uint8Array([0, 0, 1, 2]))
    assert.isUndefined(space.read(a, 9))
    assert.isUndefined(space.read(a + 8n, 1))
    assert.isUndefined(space.read(0n, 1))
    assert.isUndefined(space.read(a, 2n ** 63n))
    assert.isFalse(space.write(a + 7n, new Uint8Array(2)))
    assert.deepStrictEqual(space.read(a + 7n, 1), new Uint8Array(1), "a failed write writes nothing")
    // zero bytes never fault, as in the kernel
    assert.deepStrictEqual(space.read(0n, 0), new Uint8Array(0))
    // reads are copies
    space.read(a, 4)?.fill(9)
    assert.deepStrictEqual(space.read(a, 4), new Uint8Array([0, 0, 1, 2]))
  })

  it("copies the initial bytes", () => {
    const space = new AddressSpace()
    const init = new Uint8Array([1, 2, 3])
    const a = space.alloc(init)
    init[0] = 9
    assert.deepStrictEqual(space.read(a, 3), new Uint8Array([1, 2, 3]))
  })

  it("handles strings: NUL, cut at a limit, fault without a NUL", () => {
    const space = new AddressSpace()
    const s = space.allocString("héllo")
    assert.strictEqual(space.readString(s), "héllo")
    assert.deepStrictEqual(space.readCString(s, 100), utf8.encode("héllo\0"))
    assert.deepStrictEqual(space.readCString(s, 2), utf8.encode("h\xc3").subarray(0, 2))
    assert.deepStrictEqual(space.readCString(s, 0), new Uint8Array(0))
    const noNul = space.alloc(utf8.encode("abc"))
    assert.isUndefined(space.readCString(noNul, 10))
    assert.deepStrictEqual(space.readCString(noNul, 3), utf8.encode("abc"))
    assert.isUndefined(space.readString(0x10n))
    assert.strictEqual(space.readString(space.alloc(4)), "")
  })

  it("frees only region starts, and never reuses an address", () => {
    const space = new AddressSpace()
    const a = space.alloc(16)
    assert.isFalse(space.free(a + 1n))
    assert.isTrue(space.free(a))
    assert.isFalse(space.free(a))
    assert.isUndefined(space.read(a, 1))
    assert.strictEqual(space.regionCount, 0)
    assert.strictEqual(space.mappedBytes, 0)
    assert.notStrictEqual(space.alloc(16), a)
  })

  it("refuses absurd sizes with 0n, like a failed mmap", () => {
    const space = new AddressSpace()
    assert.strictEqual(space.alloc(-1), 0n)
    assert.strictEqual(space.alloc(1.5), 0n)
    assert.strictEqual(space.alloc(BigInt(MAX_REGION_SIZE) + 1n), 0n)
    assert.strictEqual(space.regionCount, 0)
    const empty = space.alloc(0)
    assert.notStrictEqual(empty, 0n)
    assert.isUndefined(space.read(empty, 1))
  })
})
