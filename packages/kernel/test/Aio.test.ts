import { assert, describe, it } from "@effect/vitest"
import { Errno, openFlags, signals, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { boot, decode, type Guest, peek, text, timespec } from "./support/SyscallHarness.ts"

const { O_RDWR, O_RDONLY, O_CREAT, O_SYNC } = openFlags
const AIOCB = 88
const LIO_WAIT = 1
const LIO_WRITE = 1
const LIO_READ = 2
const LIO_NOP = 0
const AIO_CANCELED = 1
const AIO_NOTCANCELED = 2
const AIO_ALLDONE = 3

interface Cb {
  readonly offset?: number
  readonly buf: bigint
  readonly nbytes: number
  readonly fd: number
  readonly opcode?: number
  readonly signo?: number
}

const aiocb = (g: Guest, c: Cb) => {
  const b = new Uint8Array(AIOCB)
  const v = new DataView(b.buffer)
  v.setBigInt64(0, BigInt(c.offset ?? 0), true)
  v.setBigUint64(8, c.buf, true)
  v.setBigUint64(16, BigInt(c.nbytes), true)
  v.setInt32(24, c.fd, true)
  v.setInt32(28, c.opcode ?? 0, true)
  if (c.signo !== undefined) {
    v.setInt32(40, 1, true)
    v.setInt32(44, c.signo, true)
  }
  return g.mem.alloc(b)
}

const cbView = (g: Guest, addr: bigint) => new DataView(peek(g, addr, AIOCB).slice().buffer)

const open = (g: Guest, path: string, flags: number) =>
  Effect.map(g.call(SYS.open, g.mem.allocString(path), flags, 0o644), (r) => Number(r.retval0))

const list = (g: Guest, ...cbs: ReadonlyArray<bigint>) => {
  const b = new Uint8Array(8 * cbs.length)
  cbs.forEach((c, i) => new DataView(b.buffer).setBigUint64(i * 8, c, true))
  return g.mem.alloc(b)
}

/** aio_suspend on one aiocb until it is done (1 s at most). */
const awaitDone = (g: Guest, cb: bigint) => g.call(SYS.__aio_suspend50, list(g, cb), 1, g.mem.alloc(timespec(1, 0)))

describe("aio", () => {
  it.live("aio_write then aio_read on a file: suspend until done, aio_error 0, aio_return the count once, the offset advanced", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fd = yield* open(g, "/tmp/f", O_RDWR | O_CREAT)
      assert.strictEqual((yield* g.call(SYS.aio_error, aiocb(g, { buf: 1n, nbytes: 0, fd }))).error, Errno.EINVAL, "no aio yet")
      const w = aiocb(g, { offset: 4, buf: g.mem.alloc(text("hello")), nbytes: 5, fd })
      assert.strictEqual((yield* g.call(SYS.aio_write, w)).error, 0)
      assert.strictEqual((yield* awaitDone(g, w)).error, 0)
      assert.deepStrictEqual(yield* g.call(SYS.aio_error, w), { error: 0, retval0: 0n, retval1: 0n })
      assert.strictEqual(cbView(g, w).getBigInt64(0, true), 9n, "aio_offset moved by the count")
      assert.deepStrictEqual(yield* g.call(SYS.aio_return, w), { error: 0, retval0: 5n, retval1: 0n })
      assert.strictEqual((yield* g.call(SYS.aio_return, w)).error, Errno.EINVAL, "once")
      assert.strictEqual((yield* g.call(SYS.aio_error, w)).error, Errno.EINVAL, "reset to no job")
      const buf = g.mem.alloc(16)
      const r = aiocb(g, { offset: 0, buf, nbytes: 16, fd })
      yield* g.call(SYS.aio_read, r)
      yield* awaitDone(g, r)
      assert.deepStrictEqual(yield* g.call(SYS.aio_return, r), { error: 0, retval0: 9n, retval1: 0n })
      assert.strictEqual(decode(peek(g, buf + 4n, 5)), "hello")
    }))

  it.live("a job on an empty pipe stays in progress: EINPROGRESS, aio_suspend times out EAGAIN, aio_cancel takes back the queued one only", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const p = yield* g.call(SYS.pipe)
      const [rfd, wfd] = [Number(p.retval0), Number(p.retval1)]
      const first = aiocb(g, { buf: g.mem.alloc(8), nbytes: 8, fd: rfd })
      const second = aiocb(g, { buf: g.mem.alloc(8), nbytes: 8, fd: rfd })
      yield* g.call(SYS.aio_read, first)
      yield* g.call(SYS.aio_read, second)
      assert.strictEqual((yield* g.call(SYS.aio_read, second)).error, Errno.EINVAL, "already queued")
      yield* Effect.sleep("20 millis")
      assert.strictEqual((yield* g.call(SYS.aio_error, first)).retval0, BigInt(Errno.EINPROGRESS))
      assert.strictEqual((yield* g.call(SYS.__aio_suspend50, list(g, first), 1, g.mem.alloc(timespec(0, 0)))).error, Errno.EAGAIN)
      const start = Date.now()
      assert.strictEqual((yield* g.call(SYS.__aio_suspend50, list(g, first, second), 2, g.mem.alloc(timespec(0, 30_000_000)))).error, Errno.EAGAIN)
      assert.isAtLeast(Date.now() - start, 25)
      assert.deepStrictEqual(yield* g.call(SYS.aio_cancel, rfd, 0), { error: 0, retval0: BigInt(AIO_NOTCANCELED), retval1: 0n })
      assert.strictEqual((yield* g.call(SYS.aio_error, second)).retval0, BigInt(Errno.ECANCELED))
      yield* g.call(SYS.write, wfd, g.mem.alloc(text("data")), 4)
      yield* awaitDone(g, first)
      assert.strictEqual((yield* g.call(SYS.aio_return, first)).retval0, 4n)
      assert.deepStrictEqual(yield* g.call(SYS.aio_cancel, rfd, 0), { error: 0, retval0: BigInt(AIO_ALLDONE), retval1: 0n })
      assert.strictEqual((yield* g.call(SYS.aio_cancel, 99, 0)).error, Errno.EBADF)
      void AIO_CANCELED
    }))

  it.live("lio_listio LIO_WAIT runs the list and returns when all is done; a bad entry is EIO, the others still run", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fd = yield* open(g, "/tmp/f", O_RDWR | O_CREAT)
      const a = aiocb(g, { offset: 0, buf: g.mem.alloc(text("ab")), nbytes: 2, fd, opcode: LIO_WRITE })
      const b = aiocb(g, { offset: 2, buf: g.mem.alloc(text("cd")), nbytes: 2, fd, opcode: LIO_WRITE })
      const nop = aiocb(g, { buf: 1n, nbytes: 0, fd, opcode: LIO_NOP })
      assert.strictEqual((yield* g.call(SYS.lio_listio, LIO_WAIT, list(g, a, nop, b), 3, 0)).error, 0)
      assert.strictEqual((yield* g.call(SYS.aio_return, a)).retval0, 2n)
      assert.strictEqual((yield* g.call(SYS.aio_return, b)).retval0, 2n)
      const buf = g.mem.alloc(8)
      const r = aiocb(g, { offset: 0, buf, nbytes: 8, fd, opcode: LIO_READ })
      const bad = aiocb(g, { buf: 1n, nbytes: 1, fd, opcode: 9 })
      assert.strictEqual((yield* g.call(SYS.lio_listio, LIO_WAIT, list(g, bad, r), 2, 0)).error, Errno.EIO)
      yield* awaitDone(g, r)
      assert.strictEqual(decode(peek(g, buf, 4)), "abcd")
      assert.strictEqual((yield* g.call(SYS.lio_listio, LIO_WAIT, list(g, r), 0, 0)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.lio_listio, 7, list(g, r), 1, 0)).error, Errno.EINVAL)
    }))

  it.live("a done job raises its sigevent's signal; fsync jobs; the checks made when queueing", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fd = yield* open(g, "/tmp/f", O_RDWR | O_CREAT)
      const ro = yield* open(g, "/tmp/f", O_RDONLY)
      const w = aiocb(g, { buf: g.mem.alloc(text("x")), nbytes: 1, fd, signo: signals.SIGUSR1 })
      yield* g.call(SYS.aio_write, w)
      yield* awaitDone(g, w)
      // the signal follows the wakeup, as NetBSD's worker sends it
      for (let i = 0; i < 50 && g.mem.signals.length === 0; i++) yield* Effect.sleep("2 millis")
      assert.deepStrictEqual(g.mem.signals, [signals.SIGUSR1])
      const s = aiocb(g, { buf: 0n, nbytes: 0, fd: ro })
      assert.strictEqual((yield* g.call(SYS.aio_fsync, O_SYNC, s)).error, 0)
      yield* awaitDone(g, s)
      assert.strictEqual((yield* g.call(SYS.aio_error, s)).retval0, BigInt(Errno.EBADF), "not open for writing")
      assert.strictEqual((yield* g.call(SYS.aio_fsync, 0, s)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.aio_read, aiocb(g, { buf: 0n, nbytes: 1, fd }))).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.aio_read, aiocb(g, { buf: 1n, nbytes: 1, fd, signo: 64 }))).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.aio_read, 0x10n)).error, Errno.EFAULT)
    }))

  it.live("a process going stops its worker in the middle of a job", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const p = yield* g.call(SYS.pipe)
      yield* g.call(SYS.aio_read, aiocb(g, { buf: g.mem.alloc(8), nbytes: 8, fd: Number(p.retval0) }))
      yield* Effect.sleep("10 millis")
      yield* k.hypervisor.releaseProcess(g.handle)
      assert.strictEqual(k.kernel.stats().openFiles, 0)
    }))
})
