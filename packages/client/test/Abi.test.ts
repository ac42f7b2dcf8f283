/**
 * The client's ABI helpers on their own: sysctl names to MIBs, sysctl
 * values both ways, the argument slots of the syscall table, and dirent
 * buffers a kernel should never send.
 */
import { assert, describe, it } from "@effect/vitest"
import { SYS } from "@sysproxy/protocol/netbsd"
import { Result } from "effect"
import { decodeDirents } from "../src/abi/Dirent.ts"
import {
  decodeSysctlNodes,
  SYSCTLNODE_SIZE,
  sysctlNameError,
  sysctlNameParts,
  sysctlNumber,
  sysctlQueryNode
} from "../src/abi/SysctlNames.ts"
import { decodeSysctlValue, encodeSysctlValue } from "../src/abi/SysctlValue.ts"
import { slotsFor } from "../src/SyscallArgs.ts"

describe("sysctl names", () => {
  it("splits a name at its separator; numbers are ints", () => {
    assert.deepStrictEqual(sysctlNameParts("kern.hostname"), ["kern", "hostname"])
    assert.deepStrictEqual(sysctlNameParts("kern/proc.x"), ["kern", "proc.x"])
    assert.strictEqual(sysctlNumber("10"), 10)
    assert.strictEqual(sysctlNumber("-2"), -2)
    assert.isUndefined(sysctlNumber("99999999999"))
    assert.isUndefined(sysctlNumber("1e3"))
  })

  it("names the level that is wrong, as sysctl(8) does", () => {
    assert.strictEqual(sysctlNameError(0, "nope", "nope"), "top level name 'nope' in 'nope' is invalid")
    assert.strictEqual(sysctlNameError(1, "nope", "kern.nope"), "second level name 'nope' in 'kern.nope' is invalid")
  })

  it("decodes what CTL_QUERY copies out", () => {
    const bytes = new Uint8Array(2 * SYSCTLNODE_SIZE)
    const v = new DataView(bytes.buffer)
    v.setUint32(0, 0x01000000 | 0x200 | 1, true)
    v.setInt32(4, 1, true)
    bytes.set(new TextEncoder().encode("kern"), 8)
    v.setUint32(52, 30, true)
    v.setBigUint64(64, 96n, true)
    v.setUint32(96, 0x01000000 | 0x270 | 3, true)
    v.setInt32(100, 10, true)
    bytes.set(new TextEncoder().encode("hostname"), 104)
    v.setBigUint64(96 + 64, 256n, true)
    assert.deepStrictEqual(decodeSysctlNodes(bytes), [
      { name: "kern", num: 1, type: "node", flags: 0x200, size: 96, ver: 0, clen: 30 },
      { name: "hostname", num: 10, type: "string", flags: 0x270, size: 256, ver: 0, clen: 0 }
    ])
    const q = sysctlQueryNode()
    assert.strictEqual(q.byteLength, 96)
    assert.strictEqual(new DataView(q.buffer).getUint32(0, true), 0x01000000)
  })
})

describe("sysctl values", () => {
  const enc = (type: Parameters<typeof encodeSysctlValue>[0], v: Parameters<typeof encodeSysctlValue>[1]) => {
    const r = encodeSysctlValue(type, v)
    return Result.isSuccess(r) ? [...r.success] : r.failure
  }

  it("encodes by type and refuses what does not fit", () => {
    assert.deepStrictEqual(enc("string", "ab"), [0x61, 0x62, 0])
    assert.deepStrictEqual(enc("int", "-2"), [0xfe, 0xff, 0xff, 0xff])
    assert.deepStrictEqual(enc("int", 7), [7, 0, 0, 0])
    assert.strictEqual(enc("int", "2147483648"), "2147483648 is not a 32-bit integer")
    assert.strictEqual(enc("int", ""), " is not a 32-bit integer")
    assert.strictEqual(enc("int", "12abc"), "12abc is not a 32-bit integer")
    assert.deepStrictEqual(enc("quad", "4294967296"), [0, 0, 0, 0, 1, 0, 0, 0])
    assert.deepStrictEqual(enc("bool", true), [1])
    assert.strictEqual(enc("bool", 2), "2 is not a boolean")
    assert.strictEqual(enc("struct", "x"), "a struct takes raw bytes")
    assert.deepStrictEqual(enc(undefined, new Uint8Array([9])), [9])
  })

  it("decodes by type, raw bytes when the length does not fit the type", () => {
    assert.strictEqual(decodeSysctlValue("string", new Uint8Array([0x68, 0x69, 0, 0x78])), "hi")
    assert.strictEqual(decodeSysctlValue("int", new Uint8Array([0xff, 0xff, 0xff, 0xff])), -1)
    assert.strictEqual(decodeSysctlValue("quad", new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0])), 1n)
    assert.strictEqual(decodeSysctlValue("bool", new Uint8Array([1])), true)
    assert.deepStrictEqual(decodeSysctlValue("int", new Uint8Array([1, 2])), new Uint8Array([1, 2]))
    assert.deepStrictEqual(decodeSysctlValue(undefined, new Uint8Array([5])), new Uint8Array([5]))
  })
})

describe("argument slots from the syscall table", () => {
  it("fills in PAD slots and checks the count", () => {
    assert.deepStrictEqual(slotsFor(SYS.pread, [3, 100n, 10, 7]), Result.succeed([3, 100n, 10, 0, 7]))
    assert.deepStrictEqual(slotsFor(SYS.lseek, [3, -1, 2]), Result.succeed([3, 0, -1, 2]))
    assert.deepStrictEqual(slotsFor(SYS.getpid, []), Result.succeed([]))
    assert.deepStrictEqual(slotsFor(SYS.read, [1]), Result.fail("read takes 3 arguments, not 1"))
    // a number the table does not know passes through
    assert.deepStrictEqual(slotsFor(5000, [1, 2]), Result.succeed([1, 2]))
  })
})

describe("dirent buffers", () => {
  it("refuses a record of length zero or one that runs past the buffer", () => {
    const zero = new Uint8Array(24)
    assert.strictEqual(Result.isFailure(decodeDirents(zero)) ? "failed" : "ok", "failed")
    const long = new Uint8Array(24)
    new DataView(long.buffer).setUint16(8, 32, true)
    assert.deepStrictEqual(decodeDirents(long), Result.fail("a record of bad length 32 at byte 0"))
    assert.deepStrictEqual(decodeDirents(new Uint8Array(5)), Result.fail("a truncated record at byte 0"))
    assert.deepStrictEqual(decodeDirents(new Uint8Array(0)), Result.succeed([]))
  })
})
