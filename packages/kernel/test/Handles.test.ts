import { assert, describe, it } from "@effect/vitest"
import { decodeStatvfs, STATVFS_SIZE } from "@sysproxy/protocol"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { decodeStat, type Guest, makeGuest, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY, tmpfsArgs } from "./VfsGuest.ts"
import { Cred } from "../src/kauth/Cred.ts"

const getfh = (g: Guest, path: string) =>
  Effect.gen(function*() {
    const fh = g.buf(64)
    const size = g.mem.alloc(new Uint8Array([64, 0, 0, 0, 0, 0, 0, 0]))
    yield* g.ok(SYS.__getfh30, g.str(path), fh, size)
    const n = Number(new DataView(g.bytes(size, 8).slice().buffer).getBigUint64(0, true))
    return g.bytes(fh, n).slice()
  })

const fhstat = (g: Guest, fh: Uint8Array) =>
  Effect.gen(function*() {
    const sb = g.buf(152)
    yield* g.ok(SYS.__fhstat50, g.mem.alloc(fh), fh.length, sb)
    return decodeStat(g.bytes(sb, 152))
  })

const altered = (fh: Uint8Array, offset: number, value: number) => {
  const copy = fh.slice()
  copy[offset] = value
  return copy
}

describe("file handles", () => {
  it.effect("__getfh30 gives a 28-byte handle (E2BIG, with the size, for a short buffer) that __fhstat50 and __fhopen40 find", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "handled")
      const fh = yield* getfh(g, "/tmp/f")
      assert.strictEqual(fh.length, 28)
      const small = g.mem.alloc(new Uint8Array([27, 0, 0, 0, 0, 0, 0, 0]))
      yield* g.fails(Errno.E2BIG, SYS.__getfh30, g.str("/tmp/f"), g.buf(64), small)
      assert.strictEqual(g.bytes(small, 1)[0], 28)
      const st = yield* fhstat(g, fh)
      assert.strictEqual(st.ino, (yield* g.stat("/tmp/f")).ino)
      const fd = Number(yield* g.ok(SYS.__fhopen40, g.mem.alloc(fh), 28, O_RDWR))
      assert.strictEqual(new TextDecoder().decode(yield* g.read(fd, 64)), "handled")
      yield* g.fails(Errno.EINVAL, SYS.__fhopen40, g.mem.alloc(fh), 28, O_RDWR | O_CREAT)
      yield* g.fails(Errno.EINVAL, SYS.__fhopen40, g.mem.alloc(fh), 28, 3)
      const dir = yield* getfh(g, "/tmp")
      yield* g.fails(Errno.EISDIR, SYS.__fhopen40, g.mem.alloc(dir), 28, O_WRONLY)
    }))

  it.effect("a removed node's handle is ESTALE once nothing has it open; another file system's, or a changed one, is ESTALE or EINVAL", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      const fh = yield* getfh(g, "/tmp/f")
      const fd = yield* g.open("/tmp/f", O_RDONLY)
      yield* g.ok(SYS.unlink, g.str("/tmp/f"))
      assert.strictEqual((yield* fhstat(g, fh)).nlink, 0, "still open: still found")
      yield* g.close(fd)
      yield* g.fails(Errno.ESTALE, SYS.__fhstat50, g.mem.alloc(fh), 28, g.buf(152))
      yield* g.writeFile("/tmp/h", "x")
      const h = yield* getfh(g, "/tmp/h")
      yield* g.fails(Errno.ESTALE, SYS.__fhstat50, g.mem.alloc(altered(h, 0, h[0]! + 50)), 28, g.buf(152))
      yield* g.fails(Errno.ESTALE, SYS.__fhstat50, g.mem.alloc(altered(h, 12, h[12]! ^ 1)), 28, g.buf(152))
      yield* g.fails(Errno.EINVAL, SYS.__fhstat50, g.mem.alloc(altered(h, 8, 12)), 28, g.buf(152))
      yield* g.fails(Errno.EINVAL, SYS.__fhstat50, g.mem.alloc(h), 27, g.buf(152))
      yield* g.fails(Errno.EINVAL, SYS.__fhstat50, g.mem.alloc(new Uint8Array(1025)), 1025, g.buf(152))
      const padded = new Uint8Array(32)
      padded.set(h)
      yield* g.ok(SYS.__fhstat50, g.mem.alloc(padded), 32, g.buf(152))
    }))

  it.effect("__fhstatvfs140 reports the handle's file system; only the superuser has handles (EPERM)", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/mnt")
      yield* g.ok(SYS.__mount50, g.str("tmpfs"), g.str("/mnt"), 0, g.mem.alloc(tmpfsArgs()), 40)
      yield* g.writeFile("/mnt/f", "x")
      const fh = yield* getfh(g, "/mnt/f")
      const buf = g.buf(STATVFS_SIZE)
      yield* g.ok(SYS.__fhstatvfs140, g.mem.alloc(fh), 28, buf, 1)
      assert.strictEqual(decodeStatvfs(g.bytes(buf, STATVFS_SIZE)).mntonname, "/mnt")
      const p = g.kernel.kernel.state.procs.get(g.process.pid)
      if (p !== undefined) p.cred = Cred.of(1000, 0)
      yield* g.fails(Errno.EPERM, SYS.__getfh30, g.str("/mnt/f"), g.buf(64), g.buf(8))
      yield* g.fails(Errno.EPERM, SYS.__fhopen40, g.mem.alloc(fh), 28, O_RDONLY)
      yield* g.fails(Errno.EPERM, SYS.__fhstat50, g.mem.alloc(fh), 28, g.buf(152))
      yield* g.fails(Errno.EPERM, SYS.__fhstatvfs140, g.mem.alloc(fh), 28, buf, 1)
    }))
})
