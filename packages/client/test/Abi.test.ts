/**
 * The client's ABI helpers on their own: sysctl names to MIBs, sysctl
 * values both ways, the argument slots of the syscall table, and dirent
 * buffers a kernel should never send.
 */
import { assert, describe, it } from "@effect/vitest"
import { SYS } from "@sysproxy/protocol/netbsd"
import { Result } from "effect"
import { decodeDirents } from "../src/abi/Dirent.ts"
import { resolveSysctlName, sysctlChildren } from "../src/abi/SysctlNames.ts"
import { decodeSysctlValue, encodeSysctlValue } from "../src/abi/SysctlValue.ts"
import { slotsFor } from "../src/SyscallArgs.ts"

const resolved = (name: string) => {
  const r = resolveSysctlName(name)
  return Result.isSuccess(r) ? { mib: r.success.mib, type: r.success.type } : r.failure
}

describe("sysctl names", () => {
  it("resolves names of the table, numbers, and mixes of both", () => {
    assert.deepStrictEqual(resolved("kern.hostname"), { mib: [1, 10], type: "string" })
    assert.deepStrictEqual(resolved("hw.physmem64"), { mib: [6, 13], type: "quad" })
    assert.deepStrictEqual(resolved("1.10"), { mib: [1, 10], type: "string" })
    assert.deepStrictEqual(resolved("kern"), { mib: [1], type: "node" })
    assert.deepStrictEqual(resolved("kern.proc2.0.0.680.4"), { mib: [1, 47, 0, 0, 680, 4], type: undefined })
    assert.deepStrictEqual(resolved("kern.999"), { mib: [1, 999], type: undefined })
  })

  it("names the level that is wrong, as sysctl(8) does", () => {
    assert.strictEqual(resolved("nope"), "top level name nope in nope is invalid")
    assert.strictEqual(resolved("kern.nope"), "second level name nope in kern.nope is invalid")
    assert.strictEqual(resolved("kern.proc2.x"), "third level name x in kern.proc2.x is invalid")
    assert.strictEqual(resolved("kern."), "second level name  in kern. is invalid")
    assert.strictEqual(resolved("1.99999999999"), "second level name 99999999999 in 1.99999999999 is invalid")
  })

  it("lists the children of the top level and of kern; a leaf has none; unnamed ones are unknown", () => {
    const children = (name: string) => sysctlChildren(Result.getOrThrow(resolveSysctlName(name)))
    const top = (sysctlChildren(undefined) ?? []).map((c) => c.name)
    assert.deepStrictEqual(top.slice(0, 3), ["kern", "vm", "vfs"])
    const kern = children("kern") ?? []
    assert.strictEqual(kern[0]?.name, "kern.ostype")
    assert.isTrue(kern.some((c) => c.name === "kern.hostname" && c.type === "string"))
    assert.deepStrictEqual(children("kern.hostname"), [])
    // nodes whose children the table does not name: not "no children"
    for (const name of ["kern.proc2", "kern.14", "kern.pipe", "vm"]) assert.isUndefined(children(name), name)
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
