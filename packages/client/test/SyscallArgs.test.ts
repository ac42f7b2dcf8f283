import { assert, describe, it } from "@effect/vitest"
import { Result } from "effect"
import { encodeSyscallArgs } from "../src/SyscallArgs.ts"

const words = (block: Uint8Array): Array<bigint> =>
  Array.from({ length: block.byteLength / 8 }, (_, i) => new DataView(block.buffer, block.byteOffset).getBigUint64(i * 8, true))

describe("encodeSyscallArgs", () => {
  it("packs one little-endian 8-byte slot per argument", () => {
    const r = encodeSyscallArgs([3, 0x7f0000001000n, -1, -100n, 0xffffffffffffffffn])
    assert.isTrue(Result.isSuccess(r))
    if (Result.isSuccess(r)) {
      assert.deepStrictEqual(words(r.success), [
        3n,
        0x7f0000001000n,
        0xffffffffffffffffn,
        0xffffffffffffff9cn,
        0xffffffffffffffffn
      ])
      assert.deepStrictEqual(Array.from(r.success.subarray(0, 8)), [3, 0, 0, 0, 0, 0, 0, 0])
    }
    assert.deepStrictEqual(encodeSyscallArgs([]), Result.succeed(new Uint8Array(0)))
  })

  it("refuses values that fit no 64-bit slot", () => {
    assert.isTrue(Result.isFailure(encodeSyscallArgs([0.5])))
    assert.isTrue(Result.isFailure(encodeSyscallArgs([2 ** 60])))
    assert.isTrue(Result.isFailure(encodeSyscallArgs([1n << 64n])))
    assert.isTrue(Result.isFailure(encodeSyscallArgs([-(1n << 63n) - 1n])))
  })
})
