import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Errno, fcntlCmds, fdFlags, ioctl, modeBits, openFlags, signals, Structs, SYS } from "@sysproxy/protocol/netbsd"
import { BIG_PIPE_SIZE, bigPipeCount, MAX_BIG_PIPES, PIPE_BUF, PIPE_SIZE } from "../src/ipc/Pipe.ts"
import type { Lwp } from "../src/proc/Lwp.ts"
import { boot, decode, type Guest, inLwp, peek, peekI32, peekI64, text, type TestKernel, untilAsleep } from "./support/SyscallHarness.ts"

const { O_RDONLY, O_WRONLY, O_NONBLOCK, O_CLOEXEC, O_NOSIGPIPE, O_APPEND } = openFlags

/** pipe(): the two descriptors from retval[0] and retval[1]. */
const pipe = (g: Guest) =>
  Effect.gen(function*() {
    const r = yield* g.call(SYS.pipe)
    assert.strictEqual(r.error, 0, "pipe")
    return [Number(r.retval0), Number(r.retval1)] as const
  })

/** pipe2(fildes, flags): the two descriptors from the caller's int[2]. */
const pipe2 = (g: Guest, flags: number) =>
  Effect.gen(function*() {
    const fildes = g.mem.alloc(8)
    const r = yield* g.call(SYS.pipe2, fildes, flags)
    assert.strictEqual(r.error, 0, "pipe2")
    return [peekI32(g, fildes), peekI32(g, fildes + 4n)] as const
  })

/** write(fd, data): the whole result. */
const write = (g: Guest, fd: number, data: Uint8Array) => g.call(SYS.write, fd, g.mem.alloc(data), data.length)

/** read(fd, len): the error and the bytes read. */
const read = (g: Guest, fd: number, len: number) =>
  Effect.gen(function*() {
    const buf = g.mem.alloc(Math.max(len, 1))
    const r = yield* g.call(SYS.read, fd, buf, len)
    return { error: r.error, data: r.error === 0 ? peek(g, buf, Number(r.retval0)) : new Uint8Array(0) }
  })

const fionread = (g: Guest, fd: number) =>
  Effect.gen(function*() {
    const out = g.mem.alloc(4)
    const r = yield* g.call(SYS.ioctl, fd, ioctl.FIONREAD, out)
    assert.strictEqual(r.error, 0, "FIONREAD")
    return peekI32(g, out)
  })

/** Makes `fd` non-blocking (F_SETFL on its open file) and writes until the pipe takes no more; the bytes it took. */
const fill = (g: Guest, fd: number) =>
  Effect.gen(function*() {
    const flags = Number((yield* g.call(SYS.fcntl, fd, fcntlCmds.F_GETFL, 0)).retval0)
    yield* g.call(SYS.fcntl, fd, fcntlCmds.F_SETFL, flags | O_NONBLOCK)
    let total = 0
    for (;;) {
      const r = yield* write(g, fd, new Uint8Array(4096).fill(0x5a))
      if (r.error === Errno.EAGAIN) break
      assert.strictEqual(r.error, 0)
      total += Number(r.retval0)
    }
    yield* g.call(SYS.fcntl, fd, fcntlCmds.F_SETFL, flags)
    return total
  })

const fstat = (g: Guest, fd: number) =>
  Effect.gen(function*() {
    const sb = g.mem.alloc(Structs.stat.size)
    const r = yield* g.call(SYS.__fstat50, fd, sb)
    assert.strictEqual(r.error, 0, "fstat")
    const field = (name: string) => sb + BigInt(Structs.stat.fields.find((f) => f.name === name)?.offset ?? -1)
    return {
      mode: peekI32(g, field("st_mode")),
      nlink: peekI32(g, field("st_nlink")),
      uid: peekI32(g, field("st_uid")),
      size: peekI64(g, field("st_size")),
      blocks: peekI64(g, field("st_blocks")),
      blksize: peekI32(g, field("st_blksize")),
      mtimeSec: peekI64(g, field("st_mtim")),
      birthSec: peekI64(g, field("st_birthtim"))
    }
  })

const lowestFree = (g: Guest) => g.proc.fds.lowestFree()

describe("pipe and pipe2", () => {
  it.effect("pipe: the read end and the write end on the lowest free descriptors (3 and 4 on a new guest); data comes through in order", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe(g)
      assert.deepStrictEqual([r, w], [3, 4])
      assert.strictEqual((yield* g.call(SYS.fcntl, r, fcntlCmds.F_GETFL, 0)).retval0, BigInt(O_RDONLY))
      assert.strictEqual((yield* g.call(SYS.fcntl, w, fcntlCmds.F_GETFL, 0)).retval0, BigInt(O_WRONLY))
      assert.strictEqual((yield* g.call(SYS.fcntl, r, fcntlCmds.F_GETFD, 0)).retval0, 0n, "no close-on-exec")
      assert.strictEqual((yield* write(g, w, text("hello "))).retval0, 6n)
      assert.strictEqual((yield* write(g, w, text("world"))).retval0, 5n)
      const first = yield* read(g, r, 4)
      assert.strictEqual(decode(first.data), "hell")
      const rest = yield* read(g, r, 100)
      assert.strictEqual(decode(rest.data), "o world", "a read returns what is there, not what was asked")
      // each end is open in one direction only, and neither seeks
      assert.strictEqual((yield* write(g, r, text("x"))).error, Errno.EBADF)
      assert.strictEqual((yield* read(g, w, 1)).error, Errno.EBADF)
      assert.strictEqual((yield* g.call(SYS.lseek, r, 0, 0, 0)).error, Errno.ESPIPE)
      assert.strictEqual((yield* g.call(SYS.pread, r, g.mem.alloc(4), 4, 0, 0)).error, Errno.ESPIPE)
      const [r2, w2] = yield* pipe(g)
      assert.deepStrictEqual([r2, w2], [5, 6])
    }))

  it.effect("pipe2: the descriptors go to the caller's int[2]; O_CLOEXEC, O_NONBLOCK and O_NOSIGPIPE reach both ends", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fildes = g.mem.alloc(new Uint8Array(8).fill(0xff))
      const res = yield* g.call(SYS.pipe2, fildes, 0)
      assert.deepStrictEqual([res.error, res.retval0], [0, 0n])
      assert.deepStrictEqual([peekI32(g, fildes), peekI32(g, fildes + 4n)], [3, 4])

      const [r, w] = yield* pipe2(g, O_CLOEXEC | O_NONBLOCK | O_NOSIGPIPE)
      assert.deepStrictEqual([r, w], [5, 6])
      for (const fd of [r, w]) {
        assert.strictEqual((yield* g.call(SYS.fcntl, fd, fcntlCmds.F_GETFD, 0)).retval0, BigInt(fdFlags.FD_CLOEXEC))
        assert.strictEqual((yield* g.call(SYS.fcntl, fd, fcntlCmds.F_GETNOSIGPIPE, 0)).retval0, 1n)
        const fl = Number((yield* g.call(SYS.fcntl, fd, fcntlCmds.F_GETFL, 0)).retval0)
        assert.strictEqual(fl & O_NONBLOCK, O_NONBLOCK)
      }
      assert.strictEqual((yield* read(g, r, 1)).error, Errno.EAGAIN)
      // close-on-exec: execNotify closes them, and only them
      yield* k.hypervisor.execNotify(g.handle, "t")
      assert.deepStrictEqual(g.proc.fds.openFds(), [0, 1, 2, 3, 4])
    }))

  it.effect("pipe2: EINVAL for any other flag; EFAULT for a bad fildes leaves no descriptor behind", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fildes = g.mem.alloc(8)
      assert.strictEqual((yield* g.call(SYS.pipe2, fildes, O_APPEND)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.pipe2, fildes, O_NONBLOCK | 0x10000)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.pipe2, 0x10n, 0)).error, Errno.EFAULT)
      assert.deepStrictEqual(g.proc.fds.openFds(), [0, 1, 2])
      assert.strictEqual(k.kernel.stats().openFiles, 1, "only the console")
    }))

  it.effect("EMFILE when the table has no room for both ends, and nothing is left open", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      // fill every descriptor but one (RLIMIT_NOFILE: 128 for a new guest)
      for (let fd = 3; fd < 127; fd++) assert.strictEqual((yield* g.call(SYS.dup, 0)).retval0, BigInt(fd))
      assert.strictEqual(lowestFree(g), 127)
      assert.strictEqual((yield* g.call(SYS.pipe)).error, Errno.EMFILE)
      assert.strictEqual(lowestFree(g), 127)
      assert.strictEqual(g.proc.fds.size, 127)
    }))
})

describe("end of file and broken pipes", () => {
  it.effect("read returns what is left, then 0 once the last writer is gone", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe(g)
      const dupW = Number((yield* g.call(SYS.dup, w)).retval0)
      yield* write(g, w, text("abc"))
      assert.strictEqual((yield* g.call(SYS.close, w)).error, 0)
      // a dup of the write end keeps the writer: no end of file, so a non-blocking read after draining is EAGAIN
      assert.strictEqual(decode((yield* read(g, r, 10)).data), "abc")
      yield* g.call(SYS.fcntl, r, fcntlCmds.F_SETFL, O_NONBLOCK)
      assert.strictEqual((yield* read(g, r, 10)).error, Errno.EAGAIN)
      yield* write(g, dupW, text("de"))
      yield* g.call(SYS.close, dupW)
      const last = yield* read(g, r, 10)
      assert.deepStrictEqual([last.error, decode(last.data)], [0, "de"])
      const eof = yield* read(g, r, 10)
      assert.deepStrictEqual([eof.error, eof.data.length], [0, 0], "end of file, even non-blocking")
    }))

  it.effect("writing with no reader left: EPIPE and a SIGPIPE raised on the writer's client", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe(g)
      yield* write(g, w, text("lost"))
      yield* g.call(SYS.close, r)
      assert.deepStrictEqual(g.mem.signals, [])
      assert.strictEqual((yield* write(g, w, text("x"))).error, Errno.EPIPE)
      assert.deepStrictEqual(g.mem.signals, [signals.SIGPIPE])
      assert.strictEqual(signals.SIGPIPE, 13)
      assert.strictEqual((yield* fionread(g, w)), 0)
    }))

  it.effect("the signal goes to the process that wrote, not to the pipe's creator; O_NOSIGPIPE sends none", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const parent = yield* k.guest()
      const [r, w] = yield* pipe(parent)
      const child = yield* k.guest({ parent, mode: "copy" })
      yield* parent.call(SYS.close, r)
      yield* child.call(SYS.close, r)
      assert.strictEqual((yield* write(child, w, text("x"))).error, Errno.EPIPE)
      assert.deepStrictEqual(child.mem.signals, [signals.SIGPIPE])
      assert.deepStrictEqual(parent.mem.signals, [])

      const [r2, w2] = yield* pipe2(parent, O_NOSIGPIPE)
      yield* parent.call(SYS.close, r2)
      assert.strictEqual((yield* write(parent, w2, text("x"))).error, Errno.EPIPE)
      assert.deepStrictEqual(parent.mem.signals, [])
    }))

  it.effect("the reader keeps the pipe while any process has it: a copied table holds its own reference", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const parent = yield* k.guest()
      const [r, w] = yield* pipe(parent)
      const child = yield* k.guest({ parent, mode: "copy" })
      yield* parent.call(SYS.close, r)
      assert.strictEqual((yield* write(parent, w, text("still"))).retval0, 5n, "the child still reads")
      assert.strictEqual(decode((yield* read(child, r, 10)).data), "still")
      yield* k.hypervisor.releaseProcess(child.handle)
      assert.strictEqual((yield* write(parent, w, text("x"))).error, Errno.EPIPE)
    }))
})

describe("buffering", () => {
  it.effect("O_NONBLOCK: EAGAIN on an empty pipe and on a full one; a write that fits in part is short", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe2(g, O_NONBLOCK)
      assert.strictEqual((yield* read(g, r, 10)).error, Errno.EAGAIN)
      yield* write(g, w, text("x"))
      // not empty, so it stays at PIPE_SIZE
      const big = yield* write(g, w, new Uint8Array(PIPE_SIZE + 1000))
      assert.strictEqual(big.retval0, BigInt(PIPE_SIZE - 1), "what fitted")
      assert.strictEqual((yield* write(g, w, text("y"))).error, Errno.EAGAIN)
      assert.strictEqual((yield* fionread(g, r)), PIPE_SIZE)
    }))

  it.effect("a write larger than PIPE_SIZE into an empty pipe grows it to BIG_PIPE_SIZE (at most MAX_BIG_PIPES of them)", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe2(g, O_NONBLOCK)
      const n = yield* write(g, w, new Uint8Array(BIG_PIPE_SIZE + 5000))
      assert.strictEqual(n.retval0, BigInt(BIG_PIPE_SIZE))
      assert.strictEqual((yield* fionread(g, r)), BIG_PIPE_SIZE)
      assert.strictEqual(bigPipeCount(k.kernel.state), 1)
      assert.strictEqual((yield* fstat(g, r)).blksize, BIG_PIPE_SIZE)
      // the buffer goes with the reader
      yield* g.call(SYS.close, r)
      assert.strictEqual(bigPipeCount(k.kernel.state), 0)

      const ends: Array<number> = []
      for (let i = 0; i < MAX_BIG_PIPES + 1; i++) {
        const [pr, pw] = yield* pipe2(g, O_NONBLOCK)
        ends.push(pr)
        yield* write(g, pw, new Uint8Array(PIPE_SIZE + 1))
      }
      assert.strictEqual(bigPipeCount(k.kernel.state), MAX_BIG_PIPES)
      const last = ends[MAX_BIG_PIPES] ?? -1
      assert.strictEqual((yield* fionread(g, last)), PIPE_SIZE, "one too many stays small")
      assert.strictEqual((yield* fstat(g, last)).blksize, PIPE_SIZE)
    }))

  it.effect("a write of at most PIPE_BUF bytes goes in whole or not at all; a larger one may be split", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe2(g, O_NONBLOCK)
      yield* write(g, w, new Uint8Array(PIPE_SIZE - 100))
      assert.strictEqual((yield* write(g, w, new Uint8Array(PIPE_BUF))).error, Errno.EAGAIN, "512 bytes do not fit in 100")
      assert.strictEqual((yield* write(g, w, new Uint8Array(101))).error, Errno.EAGAIN)
      assert.strictEqual((yield* fionread(g, r)), PIPE_SIZE - 100, "nothing of them went in")
      assert.strictEqual((yield* write(g, w, new Uint8Array(100))).retval0, 100n, "exactly what fits")
      yield* read(g, r, 300)
      assert.strictEqual((yield* write(g, w, new Uint8Array(PIPE_BUF + 1))).retval0, 300n, "513 bytes are split")
    }))

  it.effect("FIONREAD: the bytes buffered on the read end; 0 on the write end", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe(g)
      assert.strictEqual((yield* fionread(g, r)), 0)
      yield* write(g, w, text("seven!!"))
      assert.strictEqual((yield* fionread(g, r)), 7)
      assert.strictEqual((yield* fionread(g, w)), 0)
      yield* read(g, r, 3)
      assert.strictEqual((yield* fionread(g, r)), 4)
      assert.strictEqual((yield* g.call(SYS.ioctl, r, 0x2000_7400, 0)).error, Errno.ENOTTY)
    }))

  it.effect("fstat: S_IFIFO with mode 0600; st_size is what the read end holds", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe(g)
      yield* write(g, w, text("12345"))
      const rs = yield* fstat(g, r)
      assert.strictEqual(rs.mode & modeBits.S_IFMT, modeBits.S_IFIFO)
      assert.strictEqual(rs.mode, modeBits.S_IFIFO | 0o600)
      assert.strictEqual(rs.size, 5n)
      assert.strictEqual(rs.blocks, 1n)
      assert.strictEqual(rs.blksize, PIPE_SIZE)
      assert.strictEqual(rs.nlink, 0)
      assert.isTrue(rs.birthSec > 1_600_000_000n && rs.mtimeSec >= rs.birthSec, "real times")
      const ws = yield* fstat(g, w)
      assert.strictEqual(ws.mode, modeBits.S_IFIFO | 0o600)
      assert.strictEqual(ws.size, 0n)
      assert.strictEqual(ws.blksize, PIPE_SIZE, "the write end shows its peer's buffer")
    }))
})

/** A 512-byte record: the writer's id, the sequence number (two bytes), then the id again. */
const record = (id: number, seq: number): Uint8Array => {
  const rec = new Uint8Array(PIPE_BUF).fill(id)
  rec[1] = seq & 0xff
  rec[2] = seq >> 8
  return rec
}

/** Reads from `fd` until `total` bytes came (or end of file), taking the sizes of `lens` in turn. */
const drain = (g: Guest, fd: number, total: number, lens: number | ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const sizes = typeof lens === "number" ? [lens] : lens
    const parts: Array<Uint8Array> = []
    let got = 0
    for (let i = 0; got < total; i++) {
      const { error, data } = yield* read(g, fd, sizes[i % sizes.length] ?? 1)
      assert.strictEqual(error, 0)
      if (data.length === 0) break
      parts.push(data)
      got += data.length
      // as between two calls over the wire, others' calls may come in
      yield* Effect.yieldNow
    }
    const all = new Uint8Array(got)
    let at = 0
    for (const p of parts) {
      all.set(p, at)
      at += p.length
    }
    return all
  })

describe("blocking", () => {
  it.live("PIPE_BUF atomicity: a blocked 512-byte write puts nothing in until all of it fits, so another writer cannot split it", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const parent = yield* k.guest()
      const [r, w] = yield* pipe(parent)
      const child = yield* k.guest({ parent, mode: "copy" })
      assert.strictEqual(yield* fill(parent, w), PIPE_SIZE)
      // writer A (the parent) blocks on the full pipe
      const a = yield* inLwp(parent, SYS.write, w, parent.mem.alloc(record(1, 0)), PIPE_BUF)
      yield* untilAsleep(a.lwp)
      // 100 bytes of room wake it, but a 512-byte write takes none of them
      assert.strictEqual((yield* read(parent, r, 100)).data.length, 100)
      yield* untilAsleep(a.lwp)
      assert.strictEqual(yield* fionread(parent, r), PIPE_SIZE - 100, "nothing of A's record went in")
      // so writer B (the child) gets the room while A waits, and B's 60 bytes come before A's record, not inside it
      assert.strictEqual((yield* write(child, w, new Uint8Array(60).fill(2))).retval0, 60n)
      assert.strictEqual(yield* fionread(parent, r), PIPE_SIZE - 40)
      assert.isUndefined(a.fiber.pollUnsafe(), "A still waits")
      const stream = yield* drain(parent, r, PIPE_SIZE - 40 + PIPE_BUF, 4096)
      assert.deepStrictEqual(yield* Fiber.join(a.fiber), { error: 0, retval0: BigInt(PIPE_BUF), retval1: 0n })
      const tail = stream.subarray(PIPE_SIZE - 100)
      assert.deepStrictEqual(tail.subarray(0, 60), new Uint8Array(60).fill(2), "B's bytes")
      assert.deepStrictEqual(tail.subarray(60), record(1, 0), "then A's record, whole")
    }))

  it.live("two processes streaming 512-byte records through one full pipe: every record arrives whole, in each writer's order", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const parent = yield* k.guest()
      const [r, w] = yield* pipe(parent)
      const child = yield* k.guest({ parent, mode: "copy" })
      const N = 200
      const writer = (g: Guest, id: number) =>
        Effect.gen(function*() {
          for (let seq = 0; seq < N; seq++) {
            const res = yield* write(g, w, record(id, seq))
            assert.strictEqual(res.retval0, BigInt(PIPE_BUF))
            // in-process calls finish without a round trip: let the other writer's call come in between
            yield* Effect.yieldNow
          }
        })
      // the reader takes odd amounts, often less than a record, so the free space is rarely a multiple of 512
      // and a record that had to wait would, if it were split, be finished only after the other writer's
      const reads = [700, 300, 100, 1500, 37]
      const [, , stream] = yield* Effect.all([writer(parent, 1), writer(child, 2), drain(parent, r, 2 * N * PIPE_BUF, reads)], {
        concurrency: "unbounded"
      })
      assert.strictEqual(stream.length, 2 * N * PIPE_BUF)
      const next = new Map([[1, 0], [2, 0]])
      let switches = 0
      let prev = 0
      for (let at = 0; at < stream.length; at += PIPE_BUF) {
        const rec = stream.subarray(at, at + PIPE_BUF)
        const id = rec[0] ?? 0
        assert.deepStrictEqual(rec, record(id, next.get(id) ?? -1), `record at ${at}`)
        next.set(id, (next.get(id) ?? 0) + 1)
        if (prev !== 0 && prev !== id) switches++
        prev = id
      }
      assert.deepStrictEqual([...next.values()], [N, N])
      assert.isTrue(switches > 2, `the writers took turns (${switches} switches)`)
    }))

  it.live("a blocking read sleeps until another process (a fork child) writes", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const parent = yield* k.guest()
      const [r, w] = yield* pipe(parent)
      const child = yield* k.guest({ parent, mode: "copy" })
      const buf = parent.mem.alloc(64)
      const { lwp, fiber } = yield* inLwp(parent, SYS.read, r, buf, 64)
      yield* untilAsleep(lwp)
      assert.isUndefined(fiber.pollUnsafe(), "still waiting")
      assert.strictEqual((yield* write(child, w, text("ping"))).retval0, 4n)
      const res = yield* Fiber.join(fiber)
      assert.deepStrictEqual([res.error, res.retval0], [0, 4n])
      assert.strictEqual(decode(peek(parent, buf, 4)), "ping")
    }))

  it.live("a blocked reader sees end of file when the last writer, in another process, goes", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const parent = yield* k.guest()
      const [r, w] = yield* pipe(parent)
      const child = yield* k.guest({ parent, mode: "copy" })
      yield* parent.call(SYS.close, w)
      const { lwp, fiber } = yield* inLwp(parent, SYS.read, r, parent.mem.alloc(8), 8)
      yield* untilAsleep(lwp)
      yield* k.hypervisor.releaseProcess(child.handle)
      assert.deepStrictEqual(yield* Fiber.join(fiber), { error: 0, retval0: 0n, retval1: 0n })
    }))

  it.live("lwpExit wakes a blocked read with EINTR, and a blocked write with the count it had written (EINTR if none)", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe(g)
      const reader = yield* inLwp(g, SYS.read, r, g.mem.alloc(8), 8)
      yield* untilAsleep(reader.lwp)

      const [, w2] = yield* pipe(g)
      const big = BIG_PIPE_SIZE + 1000
      const partial = yield* inLwp(g, SYS.write, w2, g.mem.alloc(big), big)
      yield* untilAsleep(partial.lwp)
      const none = yield* inLwp(g, SYS.write, w2, g.mem.alloc(10), 10)
      yield* untilAsleep(none.lwp)

      yield* k.hypervisor.lwpExit(g.handle)
      assert.strictEqual((yield* Fiber.join(reader.fiber)).error, Errno.EINTR)
      assert.deepStrictEqual(yield* Fiber.join(partial.fiber), { error: 0, retval0: BigInt(BIG_PIPE_SIZE), retval1: 0n })
      assert.strictEqual((yield* Fiber.join(none.fiber)).error, Errno.EINTR)
      assert.deepStrictEqual(g.mem.signals, [], "no SIGPIPE for an interrupted write")
      void w
    }))

  it.live("a writer blocked on a full pipe goes on when the reader makes room", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe(g)
      const filled = yield* fill(g, w)
      assert.strictEqual(filled, PIPE_SIZE)
      const writer = yield* inLwp(g, SYS.write, w, g.mem.alloc(text("tail")), 4)
      yield* untilAsleep(writer.lwp)
      assert.isUndefined(writer.fiber.pollUnsafe())
      assert.strictEqual((yield* read(g, r, 1000)).data.length, 1000)
      assert.deepStrictEqual(yield* Fiber.join(writer.fiber), { error: 0, retval0: 4n, retval1: 0n })
      const rest = yield* drain(g, r, PIPE_SIZE - 1000 + 4, 4096)
      assert.strictEqual(decode(rest.subarray(rest.length - 4)), "tail")
    }))

  it.live("a writer blocked on a full pipe gets EPIPE and SIGPIPE when the reader goes", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const parent = yield* k.guest()
      const [r, w] = yield* pipe(parent)
      const child = yield* k.guest({ parent, mode: "copy" })
      yield* child.call(SYS.close, r)
      yield* fill(child, w)
      const writer = yield* inLwp(child, SYS.write, w, child.mem.alloc(8), 8)
      yield* untilAsleep(writer.lwp)
      yield* parent.call(SYS.close, r)
      assert.strictEqual((yield* Fiber.join(writer.fiber)).error, Errno.EPIPE)
      assert.deepStrictEqual(child.mem.signals, [signals.SIGPIPE])
    }))

  it.live("many lwps blocked reading one pipe: each write wakes them, every byte goes to exactly one reader", () =>
    Effect.gen(function*() {
      const k: TestKernel = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe(g)
      const bufs = Array.from({ length: 8 }, () => g.mem.alloc(1))
      const readers = []
      for (const buf of bufs) readers.push(yield* inLwp(g, SYS.read, r, buf, 1))
      for (const rd of readers) yield* untilAsleep(rd.lwp)
      yield* write(g, w, text("abcdefgh"))
      const got = []
      for (const rd of readers) got.push(yield* Fiber.join(rd.fiber))
      assert.deepStrictEqual(got.map((x) => x.retval0), new Array(8).fill(1n))
      const bytes = bufs.map((b) => decode(peek(g, b, 1))).sort().join("")
      assert.strictEqual(bytes, "abcdefgh")
      assert.strictEqual((yield* fionread(g, r)), 0)
    }))
})
