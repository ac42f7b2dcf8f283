import { assert, describe, it } from "@effect/vitest"
import { Errno, posixFadvise, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { makeGuest, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY } from "./VfsGuest.ts"

const FDATASYNC = 0x10
const FFILESYNC = 0x20
const MAX = (1n << 63n) - 1n

const pipeEnds = (g: Effect.Success<ReturnType<typeof makeGuest>>) =>
  Effect.gen(function*() {
    const fds = g.buf(8)
    yield* g.ok(SYS.pipe2, fds, 0)
    return new DataView(g.bytes(fds, 8).slice().buffer).getInt32(0, true)
  })

describe("sync and fsync_range", () => {
  it.effect("sync always succeeds; fsync_range needs a file open for writing and exactly one of FDATASYNC, FFILESYNC", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      assert.strictEqual(yield* g.ok(SYS.sync), 0n)
      const fd = yield* g.open("/tmp/f", O_RDWR | O_CREAT)
      const ro = yield* g.open("/tmp/f", O_RDONLY)
      yield* g.ok(SYS.fsync_range, fd, FDATASYNC, 0, 0)
      yield* g.ok(SYS.fsync_range, fd, FFILESYNC | 0x40, 10, 100)
      yield* g.fails(Errno.EINVAL, SYS.fsync_range, fd, 0, 0, 0)
      yield* g.fails(Errno.EINVAL, SYS.fsync_range, fd, FDATASYNC | FFILESYNC, 0, 0)
      yield* g.fails(Errno.EINVAL, SYS.fsync_range, fd, FDATASYNC, 10, -11)
      yield* g.fails(Errno.EINVAL, SYS.fsync_range, fd, FDATASYNC, MAX, 1)
      yield* g.fails(Errno.EBADF, SYS.fsync_range, ro, FDATASYNC, 0, 0)
      yield* g.fails(Errno.EBADF, SYS.fsync_range, 99, FDATASYNC, 0, 0)
      yield* g.fails(Errno.EINVAL, SYS.fsync_range, yield* pipeEnds(g), FDATASYNC, 0, 0)
    }))
})

describe("posix_fadvise", () => {
  it.effect("answers through its value: 0 for known advice, EINVAL, EBADF, ESPIPE for a pipe", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const fd = yield* g.open("/tmp/f", O_RDWR | O_CREAT)
      for (const a of Object.values(posixFadvise)) assert.strictEqual(yield* g.ok(SYS.__posix_fadvise50, fd, 0, 0, 100, a), 0n)
      assert.strictEqual(yield* g.ok(SYS.__posix_fadvise50, fd, 0, 0, 0, 6), BigInt(Errno.EINVAL))
      assert.strictEqual(yield* g.ok(SYS.__posix_fadvise50, fd, 0, 0, -1, 0), BigInt(Errno.EINVAL))
      assert.strictEqual(yield* g.ok(SYS.__posix_fadvise50, fd, 0, MAX - 1n, 1, 0), 0n)
      assert.strictEqual(yield* g.ok(SYS.__posix_fadvise50, fd, 0, MAX - 1n, 2, 0), BigInt(Errno.EINVAL))
      assert.strictEqual(yield* g.ok(SYS.__posix_fadvise50, fd, 0, -5, 0, 0), 0n)
      assert.strictEqual(yield* g.ok(SYS.__posix_fadvise50, 99, 0, 0, 0, 0), BigInt(Errno.EBADF))
      assert.strictEqual(yield* g.ok(SYS.__posix_fadvise50, yield* pipeEnds(g), 0, 0, 0, 0), BigInt(Errno.ESPIPE))
    }))
})

describe("posix_fallocate and fdiscard", () => {
  it.effect("tmpfs allocates nothing: EOPNOTSUPP (posix_fallocate's as its value); the checks before it as NetBSD orders them", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const fd = yield* g.open("/tmp/f", O_WRONLY | O_CREAT)
      const ro = yield* g.open("/tmp/f", O_RDONLY)
      const dir = yield* g.open("/tmp", O_RDONLY)
      assert.strictEqual(yield* g.ok(SYS.posix_fallocate, fd, 0, 0, 4096), BigInt(Errno.EOPNOTSUPP))
      yield* g.fails(Errno.EOPNOTSUPP, SYS.fdiscard, fd, 0, 0, 4096)
      assert.strictEqual(yield* g.ok(SYS.posix_fallocate, fd, 0, -1, 1), BigInt(Errno.EINVAL))
      yield* g.fails(Errno.EINVAL, SYS.fdiscard, fd, 0, 1, MAX)
      assert.strictEqual(yield* g.ok(SYS.posix_fallocate, ro, 0, 0, 1), BigInt(Errno.EBADF))
      yield* g.fails(Errno.EBADF, SYS.fdiscard, ro, 0, 0, 1)
      assert.strictEqual(yield* g.ok(SYS.posix_fallocate, 99, 0, 0, 1), BigInt(Errno.EBADF))
      assert.strictEqual(yield* g.ok(SYS.posix_fallocate, yield* pipeEnds(g), 0, 0, 1), BigInt(Errno.EINVAL))
      yield* g.fails(Errno.EBADF, SYS.fdiscard, dir, 0, 0, 1)
    }))
})
