/**
 * The struct codecs shared by kernel and client: struct stat and struct
 * timespec in NetBSD/amd64 layout.
 */
import { describe, expect, it } from "@effect/vitest"
import { decodeStat, encodeStat, readTimespec, STAT_SIZE, TIMESPEC_SIZE, writeTimespec } from "../src/index.ts"
import { Structs } from "../src/netbsd/index.ts"

const offset = (name: string) => Structs.stat.fields.find((f) => f.name === name)!.offset

const sample = {
  dev: 0x1234,
  mode: 0o100644,
  ino: 2 ** 40 + 7,
  nlink: 3,
  uid: 1000,
  gid: 100,
  rdev: 0x0202,
  atime: { sec: 1_700_000_000n, nsec: 1 },
  mtime: { sec: -5n, nsec: 999_999_999 },
  ctime: { sec: 0n, nsec: 0 },
  birthtime: { sec: 42n, nsec: 500 },
  size: 2 ** 33 + 1,
  blocks: 17,
  blksize: 4096
}

describe("struct stat", () => {
  it("is 152 bytes with each field where the layout puts it", () => {
    expect(STAT_SIZE).toBe(152)
    const bytes = encodeStat(sample)
    expect(bytes.byteLength).toBe(STAT_SIZE)
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    expect(v.getUint32(offset("st_mode"), true)).toBe(0o100644)
    expect(v.getBigUint64(offset("st_ino"), true)).toBe(BigInt(2 ** 40 + 7))
    expect(v.getBigInt64(offset("st_size"), true)).toBe(BigInt(2 ** 33 + 1))
    expect(v.getBigInt64(offset("st_mtim") + 8, true)).toBe(999_999_999n)
    expect(v.getInt32(offset("st_blksize"), true)).toBe(4096)
    // flags, gen and the spare words are zero when the kernel has none
    expect([...bytes.subarray(offset("st_flags"), STAT_SIZE)].every((b) => b === 0)).toBe(true)
  })

  it("decodes what it encodes, flags and gen included", () => {
    expect(decodeStat(encodeStat(sample))).toStrictEqual({ ...sample, flags: 0, gen: 0 })
    expect(decodeStat(encodeStat({ ...sample, flags: 0x20000, gen: 9 }))).toStrictEqual({ ...sample, flags: 0x20000, gen: 9 })
  })
})

describe("struct timespec", () => {
  it("is 16 bytes: tv_sec then tv_nsec, read back at any offset", () => {
    expect(TIMESPEC_SIZE).toBe(16)
    const view = new DataView(new ArrayBuffer(40))
    writeTimespec(view, 8, { sec: -3n, nsec: 123 })
    expect(view.getBigInt64(8, true)).toBe(-3n)
    expect(view.getBigInt64(16, true)).toBe(123n)
    expect(readTimespec(view, 8)).toStrictEqual({ sec: -3n, nsec: 123 })
  })
})
