import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import {
  Errno,
  fcntlCmds,
  fdFlags,
  ioctl,
  lseekWhence,
  openFlags,
  pollEvents,
  signals,
  SYS
} from "@sysproxy/protocol/netbsd"
import { File, type FileOps, FREAD, FWRITE } from "../src/fd/File.ts"
import { sysErr } from "../src/kern/SysErr.ts"
import { CHUNK } from "../src/syscalls/descriptors/Transfer.ts"
import { boot, decode, type Guest, i32s, peek, peekI32, text, u64s } from "./support/SyscallHarness.ts"

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_APPEND, O_NONBLOCK, O_ASYNC, O_CLOEXEC } = openFlags

/** Opens `path` in the guest; the fd. */
const open = (g: Guest, path: string, flags: number) =>
  Effect.gen(function*() {
    const r = yield* g.call(SYS.open, g.mem.allocString(path), flags, 0o644)
    assert.strictEqual(r.error, 0, `open ${path}`)
    return Number(r.retval0)
  })

/** A pipe-like file for the descriptor layer alone: not seekable, reads what was queued, records writes. */
const fakePipe = () => {
  let queued = new Uint8Array(0)
  const state = { reads: 0, writes: [] as Array<number>, closes: 0, broken: false, pollable: true }
  const ops: FileOps = {
    kind: "pipe",
    seekable: false,
    read: (_ctx, _file, len) =>
      Effect.sync(() => {
        state.reads++
        const out = queued.slice(0, len)
        queued = queued.slice(out.length)
        return out
      }),
    write: (_ctx, _file, data) =>
      state.broken ? sysErr(Errno.EPIPE) : Effect.sync(() => {
        state.writes.push(data.length)
        return data.length
      }),
    poll: (_file, events) => (state.pollable && queued.length > 0 ? events & (pollEvents.POLLIN | pollEvents.POLLRDNORM) : 0),
    ioctl: (_ctx, _file, cmd) => (cmd === ioctl.FIONREAD ? Effect.succeed(BigInt(queued.length)) : sysErr(Errno.ENOTTY)),
    close: () => Effect.sync(() => void state.closes++)
  }
  const queue = (bytes: Uint8Array) => {
    const next = new Uint8Array(queued.length + bytes.length)
    next.set(queued)
    next.set(bytes, queued.length)
    queued = next
  }
  return { ops, state, queue }
}

const installPipe = (g: Guest, fd: number) => {
  const pipe = fakePipe()
  g.proc.fds.install(fd, new File(pipe.ops, FREAD | FWRITE, undefined), false)
  return pipe
}

describe("read and write", () => {
  it.effect("the console: fds 0-2 are write-only, so read gives EBADF and write reaches the console", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const buf = g.mem.alloc(16)
      assert.strictEqual((yield* g.call(SYS.read, 0, buf, 16)).error, Errno.EBADF)
      const msg = g.mem.alloc(text("hello\n"))
      const w = yield* g.call(SYS.write, 1, msg, 6)
      assert.strictEqual(w.error, 0)
      assert.strictEqual(w.retval0, 6n)
      assert.deepStrictEqual(k.console, [{ pid: g.pid, text: "hello\n" }])
    }))

  it.effect("EBADF for a descriptor that is not open, or not open for that direction", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const buf = g.mem.alloc(16)
      assert.strictEqual((yield* g.call(SYS.write, 9, buf, 1)).error, Errno.EBADF)
      assert.strictEqual((yield* g.call(SYS.read, -1, buf, 1)).error, Errno.EBADF)
      const fd = yield* open(g, "/tmp/ro", O_RDONLY | O_CREAT)
      assert.strictEqual((yield* g.call(SYS.write, fd, buf, 1)).error, Errno.EBADF)
      assert.strictEqual((yield* g.call(SYS.pwrite, fd, buf, 1, 0, 0)).error, Errno.EBADF)
      const wo = yield* open(g, "/tmp/ro", O_WRONLY)
      assert.strictEqual((yield* g.call(SYS.pread, wo, buf, 1, 0, 0)).error, Errno.EBADF)
    }))

  it.effect("reads and writes a file at its offset; EFAULT for a buffer that is not mapped", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fd = yield* open(g, "/tmp/f", O_RDWR | O_CREAT)
      assert.strictEqual(fd, 3, "the first free descriptor of a new guest")
      const w = yield* g.call(SYS.write, fd, g.mem.alloc(text("hello world")), 11)
      assert.strictEqual(w.retval0, 11n)
      assert.strictEqual((yield* g.call(SYS.lseek, fd, 0, 0, lseekWhence.SEEK_SET)).retval0, 0n)
      const buf = g.mem.alloc(32)
      const r = yield* g.call(SYS.read, fd, buf, 5)
      assert.strictEqual(r.retval0, 5n)
      assert.strictEqual(decode(peek(g, buf, 5)), "hello")
      const rest = yield* g.call(SYS.read, fd, buf, 32)
      assert.strictEqual(rest.retval0, 6n, "a short read at the end of the file")
      assert.strictEqual(decode(peek(g, buf, 6)), " world")
      assert.strictEqual((yield* g.call(SYS.read, fd, buf, 32)).retval0, 0n, "end of file")
      // at the end of the file nothing is copied, so not even a bad buffer matters
      assert.deepStrictEqual(yield* g.call(SYS.read, fd, 0x10n, 4), { error: 0, retval0: 0n, retval1: 0n })
      yield* g.call(SYS.lseek, fd, 0, 0, lseekWhence.SEEK_SET)
      assert.strictEqual((yield* g.call(SYS.read, fd, 0x10n, 4)).error, Errno.EFAULT)
      assert.strictEqual((yield* g.call(SYS.write, fd, 0x10n, 4)).error, Errno.EFAULT)
    }))

  it.effect("nbyte beyond SSIZE_MAX is EINVAL", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const buf = g.mem.alloc(4)
      assert.strictEqual((yield* g.call(SYS.write, 1, buf, 1n << 63n)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.write, 1, buf, (1n << 63n) - 1n)).error, Errno.EFAULT)
    }))

  it.effect("moves more than one chunk: a 3 MiB write reads back whole", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fd = yield* open(g, "/tmp/big", O_RDWR | O_CREAT)
      const size = 3 * CHUNK + 5
      const data = Uint8Array.from({ length: size }, (_, i) => (i * 7) & 0xff)
      const w = yield* g.call(SYS.write, fd, g.mem.alloc(data), size)
      assert.strictEqual(w.retval0, BigInt(size))
      const buf = g.mem.alloc(size + 100)
      const r = yield* g.call(SYS.pread, fd, buf, size + 100, 0, 0)
      assert.strictEqual(r.retval0, BigInt(size))
      assert.deepStrictEqual(peek(g, buf, size), data)
    }))

  it.effect("a pipe-like file: chunks on the way in, and no second read unless poll says data is there", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const pipe = installPipe(g, 5)
      const big = new Uint8Array(CHUNK + 10)
      assert.strictEqual((yield* g.call(SYS.write, 5, g.mem.alloc(big), big.length)).retval0, BigInt(big.length))
      assert.deepStrictEqual(pipe.state.writes, [CHUNK, 10])

      pipe.queue(new Uint8Array(CHUNK + 3).fill(1))
      const buf = g.mem.alloc(2 * CHUNK)
      const all = yield* g.call(SYS.read, 5, buf, 2 * CHUNK)
      assert.strictEqual(all.retval0, BigInt(CHUNK + 3), "poll said readable, so the second chunk came too")

      pipe.queue(new Uint8Array(CHUNK + 3).fill(2))
      pipe.state.pollable = false
      const reads = pipe.state.reads
      const one = yield* g.call(SYS.read, 5, buf, 2 * CHUNK)
      assert.strictEqual(one.retval0, BigInt(CHUNK))
      assert.strictEqual(pipe.state.reads, reads + 1, "no read that could block after data was moved")
    }))

  it.effect("EPIPE raises SIGPIPE in the caller unless F_SETNOSIGPIPE", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const pipe = installPipe(g, 5)
      pipe.state.broken = true
      const buf = g.mem.alloc(4)
      assert.strictEqual((yield* g.call(SYS.write, 5, buf, 4)).error, Errno.EPIPE)
      assert.deepStrictEqual(g.mem.signals, [signals.SIGPIPE])
      assert.strictEqual((yield* g.call(SYS.fcntl, 5, fcntlCmds.F_SETNOSIGPIPE, 1)).error, 0)
      assert.strictEqual((yield* g.call(SYS.fcntl, 5, fcntlCmds.F_GETNOSIGPIPE, 0)).retval0, 1n)
      assert.strictEqual((yield* g.call(SYS.write, 5, buf, 4)).error, Errno.EPIPE)
      assert.deepStrictEqual(g.mem.signals, [signals.SIGPIPE])
    }))
})

describe("readv and writev", () => {
  it.effect("gather and scatter through iovecs", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fd = yield* open(g, "/tmp/v", O_RDWR | O_CREAT)
      const a = g.mem.alloc(text("abc"))
      const b = g.mem.alloc(text("defgh"))
      const w = yield* g.call(SYS.writev, fd, g.mem.alloc(u64s(a, 3, b, 5)), 2)
      assert.strictEqual(w.retval0, 8n)
      const x = g.mem.alloc(2)
      const y = g.mem.alloc(10)
      const r = yield* g.call(SYS.preadv, fd, g.mem.alloc(u64s(x, 2, y, 10)), 2, 0, 1)
      assert.strictEqual(r.retval0, 7n)
      assert.strictEqual(decode(peek(g, x, 2)), "bc")
      assert.strictEqual(decode(peek(g, y, 5)), "defgh")
      yield* g.call(SYS.lseek, fd, 0, 0, lseekWhence.SEEK_SET)
      const r2 = yield* g.call(SYS.readv, fd, g.mem.alloc(u64s(x, 2, y, 10)), 2)
      assert.strictEqual(r2.retval0, 8n)
      assert.strictEqual(decode(peek(g, y, 6)), "cdefgh")
    }))

  it.effect("iovcnt must be 1..IOV_MAX, the array mapped and the lengths within SSIZE_MAX", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const b = g.mem.alloc(8)
      const iov = g.mem.alloc(u64s(b, 1))
      assert.strictEqual((yield* g.call(SYS.writev, 1, iov, 0)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.writev, 1, iov, -1)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.writev, 1, iov, 1025)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.writev, 1, 0x10n, 1)).error, Errno.EFAULT)
      const huge = g.mem.alloc(u64s(b, 1n << 62n, b, 1n << 62n))
      assert.strictEqual((yield* g.call(SYS.writev, 1, huge, 2)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.readv, 1, iov, 1)).error, Errno.EBADF)
      assert.strictEqual((yield* g.call(SYS.writev, 1, iov, 1)).retval0, 1n)
    }))
})

describe("pread, pwrite and lseek", () => {
  it.effect("positioned I/O leaves the file offset alone", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fd = yield* open(g, "/tmp/p", O_RDWR | O_CREAT)
      yield* g.call(SYS.write, fd, g.mem.alloc(text("hello world")), 11)
      yield* g.call(SYS.lseek, fd, 0, 2, lseekWhence.SEEK_SET)
      assert.strictEqual((yield* g.call(SYS.pwrite, fd, g.mem.alloc(text("HELLO")), 5, 0, 0)).retval0, 5n)
      const buf = g.mem.alloc(16)
      assert.strictEqual((yield* g.call(SYS.pread, fd, buf, 5, 0, 6)).retval0, 5n)
      assert.strictEqual(decode(peek(g, buf, 5)), "world")
      assert.strictEqual((yield* g.call(SYS.lseek, fd, 0, 0, lseekWhence.SEEK_CUR)).retval0, 2n)
      assert.strictEqual((yield* g.call(SYS.read, fd, buf, 3)).retval0, 3n)
      assert.strictEqual(decode(peek(g, buf, 3)), "LLO")
      assert.strictEqual((yield* g.call(SYS.pread, fd, buf, 1, 0, -1)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.pwrite, fd, buf, 1, 0, -1)).error, Errno.EINVAL)
    }))

  it.effect("lseek: SEEK_SET, SEEK_CUR, SEEK_END; EINVAL for a negative result or a bad whence", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fd = yield* open(g, "/tmp/s", O_RDWR | O_CREAT)
      yield* g.call(SYS.write, fd, g.mem.alloc(text("0123456789")), 10)
      assert.strictEqual((yield* g.call(SYS.lseek, fd, 0, 4, lseekWhence.SEEK_SET)).retval0, 4n)
      assert.strictEqual((yield* g.call(SYS.lseek, fd, 0, 3, lseekWhence.SEEK_CUR)).retval0, 7n)
      assert.strictEqual((yield* g.call(SYS.lseek, fd, 0, -2, lseekWhence.SEEK_END)).retval0, 8n)
      assert.strictEqual((yield* g.call(SYS.lseek, fd, 0, 100, lseekWhence.SEEK_END)).retval0, 110n)
      assert.strictEqual((yield* g.call(SYS.lseek, fd, 0, -11, lseekWhence.SEEK_END)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.lseek, fd, 0, -1, lseekWhence.SEEK_SET)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.lseek, fd, 0, 0, 3)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.lseek, fd, 0, 0, lseekWhence.SEEK_CUR)).retval0, 110n, "failures leave it")
      assert.strictEqual((yield* g.call(SYS.lseek, 42, 0, 0, lseekWhence.SEEK_SET)).error, Errno.EBADF)
    }))

  it.effect("ESPIPE on a file that cannot seek", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      installPipe(g, 5)
      const buf = g.mem.alloc(4)
      assert.strictEqual((yield* g.call(SYS.lseek, 5, 0, 0, lseekWhence.SEEK_SET)).error, Errno.ESPIPE)
      assert.strictEqual((yield* g.call(SYS.pread, 5, buf, 4, 0, 0)).error, Errno.ESPIPE)
      assert.strictEqual((yield* g.call(SYS.pwrite, 5, buf, 4, 0, 0)).error, Errno.ESPIPE)
    }))
})

describe("close and dup", () => {
  it.effect("close frees the descriptor; closing it again is EBADF", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const pipe = installPipe(g, 3)
      assert.strictEqual((yield* g.call(SYS.close, 3)).error, 0)
      assert.strictEqual(pipe.state.closes, 1)
      assert.strictEqual((yield* g.call(SYS.close, 3)).error, Errno.EBADF)
      assert.strictEqual((yield* g.call(SYS.close, -1)).error, Errno.EBADF)
    }))

  it.effect("dup takes the lowest free descriptor, without close-on-exec; the file stays until its last descriptor", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const pipe = installPipe(g, 4)
      const d = yield* g.call(SYS.dup, 4)
      assert.strictEqual(d.retval0, 3n)
      assert.strictEqual((yield* g.call(SYS.fcntl, 3, fcntlCmds.F_GETFD, 0)).retval0, 0n)
      yield* g.call(SYS.close, 4)
      assert.strictEqual(pipe.state.closes, 0)
      yield* g.call(SYS.close, 3)
      assert.strictEqual(pipe.state.closes, 1)
      assert.strictEqual((yield* g.call(SYS.dup, 4)).error, Errno.EBADF)
    }))

  it.effect("dup2 replaces the target; the same fd is a no-op; EBADF for a closed source or a target out of range", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const pipe = installPipe(g, 3)
      assert.strictEqual((yield* g.call(SYS.dup2, 1, 3)).retval0, 3n)
      assert.strictEqual(pipe.state.closes, 1, "the old file at 3 was closed")
      assert.strictEqual((yield* g.call(SYS.fcntl, 3, fcntlCmds.F_GETFL, 0)).retval0, BigInt(O_WRONLY))
      assert.strictEqual((yield* g.call(SYS.dup2, 1, 1)).retval0, 1n)
      // the range is RLIMIT_NOFILE's soft limit, 128 for a new guest
      assert.strictEqual((yield* g.call(SYS.dup2, 1, 127)).retval0, 127n)
      assert.strictEqual((yield* g.call(SYS.dup2, 1, 128)).error, Errno.EBADF)
      assert.strictEqual((yield* g.call(SYS.dup2, 1, -1)).error, Errno.EBADF)
      assert.strictEqual((yield* g.call(SYS.dup2, 8, 9)).error, Errno.EBADF)
      // dup2 onto another descriptor of the same file keeps the file open
      const p2 = installPipe(g, 20)
      yield* g.call(SYS.dup, 20)
      assert.strictEqual((yield* g.call(SYS.dup2, 20, 4)).retval0, 4n)
      assert.strictEqual(p2.state.closes, 0)
    }))

  it.effect("dup3 sets close-on-exec and O_NONBLOCK; other flags are EINVAL; from == to returns it as NetBSD does", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* g.call(SYS.dup3, 1, 5, O_CLOEXEC)).retval0, 5n)
      assert.strictEqual((yield* g.call(SYS.fcntl, 5, fcntlCmds.F_GETFD, 0)).retval0, BigInt(fdFlags.FD_CLOEXEC))
      assert.strictEqual((yield* g.call(SYS.dup3, 1, 6, 0)).retval0, 6n)
      assert.strictEqual((yield* g.call(SYS.fcntl, 6, fcntlCmds.F_GETFD, 0)).retval0, 0n)
      assert.strictEqual((yield* g.call(SYS.dup3, 1, 7, O_APPEND)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.dup3, 1, 1, O_CLOEXEC)).retval0, 1n)
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, fcntlCmds.F_GETFD, 0)).retval0, 0n)
      assert.strictEqual((yield* g.call(SYS.dup3, 1, 8, O_NONBLOCK)).retval0, 8n)
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, fcntlCmds.F_GETFL, 0)).retval0, BigInt(O_WRONLY | O_NONBLOCK))
      assert.strictEqual((yield* g.call(SYS.dup3, 9, 10, 0)).error, Errno.EBADF)
    }))
})

describe("fcntl", () => {
  it.effect("F_GETFL on the console is O_WRONLY; F_SETFL changes only the FCNTLFLAGS bits", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, fcntlCmds.F_GETFL, 0)).retval0, BigInt(O_WRONLY))
      const fd = yield* open(g, "/tmp/fl", O_RDWR | O_CREAT)
      assert.strictEqual((yield* g.call(SYS.fcntl, fd, fcntlCmds.F_SETFL, O_APPEND)).error, 0)
      assert.strictEqual((yield* g.call(SYS.fcntl, fd, fcntlCmds.F_GETFL, 0)).retval0, BigInt(O_RDWR | O_APPEND))
      // the access mode in the argument is ignored
      yield* g.call(SYS.fcntl, fd, fcntlCmds.F_SETFL, O_WRONLY | O_ASYNC)
      assert.strictEqual((yield* g.call(SYS.fcntl, fd, fcntlCmds.F_GETFL, 0)).retval0, BigInt(O_RDWR | O_ASYNC))
      yield* g.call(SYS.fcntl, fd, fcntlCmds.F_SETFL, 0)
      assert.strictEqual((yield* g.call(SYS.fcntl, fd, fcntlCmds.F_GETFL, 0)).retval0, BigInt(O_RDWR))
    }))

  it.effect("O_APPEND set by F_SETFL makes writes go to the end", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fd = yield* open(g, "/tmp/ap", O_RDWR | O_CREAT)
      yield* g.call(SYS.write, fd, g.mem.alloc(text("abc")), 3)
      yield* g.call(SYS.lseek, fd, 0, 0, lseekWhence.SEEK_SET)
      yield* g.call(SYS.fcntl, fd, fcntlCmds.F_SETFL, O_APPEND)
      yield* g.call(SYS.write, fd, g.mem.alloc(text("de")), 2)
      const buf = g.mem.alloc(8)
      assert.strictEqual((yield* g.call(SYS.pread, fd, buf, 8, 0, 0)).retval0, 5n)
      assert.strictEqual(decode(peek(g, buf, 5)), "abcde")
    }))

  it.effect("F_DUPFD and F_DUPFD_CLOEXEC take the lowest free descriptor at or above arg", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, fcntlCmds.F_DUPFD, 7)).retval0, 7n)
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, fcntlCmds.F_DUPFD, 7)).retval0, 8n)
      assert.strictEqual((yield* g.call(SYS.fcntl, 7, fcntlCmds.F_GETFD, 0)).retval0, 0n)
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, fcntlCmds.F_DUPFD_CLOEXEC, 0)).retval0, 3n)
      assert.strictEqual((yield* g.call(SYS.fcntl, 3, fcntlCmds.F_GETFD, 0)).retval0, BigInt(fdFlags.FD_CLOEXEC))
      // arg must be below RLIMIT_NOFILE's soft limit (128 for a new guest)
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, fcntlCmds.F_DUPFD, 128)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, fcntlCmds.F_DUPFD, -1)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, fcntlCmds.F_DUPFD, 127)).retval0, 127n)
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, fcntlCmds.F_DUPFD, 127)).error, Errno.EMFILE)
    }))

  it.effect("F_GETFD/F_SETFD, F_GETOWN/F_SETOWN, F_MAXFD, F_CLOSEM; EINVAL for others, EBADF for a closed fd", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      yield* g.call(SYS.fcntl, 2, fcntlCmds.F_SETFD, fdFlags.FD_CLOEXEC)
      assert.strictEqual((yield* g.call(SYS.fcntl, 2, fcntlCmds.F_GETFD, 0)).retval0, 1n)
      yield* g.call(SYS.fcntl, 2, fcntlCmds.F_SETFD, 0)
      assert.strictEqual((yield* g.call(SYS.fcntl, 2, fcntlCmds.F_GETFD, 0)).retval0, 0n)
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, fcntlCmds.F_SETOWN, -42)).error, 0)
      assert.strictEqual((yield* g.call(SYS.fcntl, 2, fcntlCmds.F_GETOWN, 0)).retval0, -42n, "the open file's owner")
      // the record lock commands read their struct flock first: a NULL one is EFAULT
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, fcntlCmds.F_GETLK, 0)).error, Errno.EFAULT)
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, 99, 0)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.fcntl, 6, fcntlCmds.F_GETFD, 0)).error, Errno.EBADF)
      yield* g.call(SYS.dup2, 1, 9)
      assert.strictEqual((yield* g.call(SYS.fcntl, 0, fcntlCmds.F_MAXFD, 0)).retval0, 9n)
      assert.strictEqual((yield* g.call(SYS.fcntl, 2, fcntlCmds.F_CLOSEM, 0)).error, 0)
      assert.deepStrictEqual(g.proc.fds.openFds(), [0, 1])
      assert.strictEqual((yield* g.call(SYS.fcntl, -1, fcntlCmds.F_CLOSEM, 0)).error, Errno.EBADF)
    }))
})

describe("ioctl", () => {
  it.effect("FIONBIO and FIOASYNC set and clear the file's flags", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const on = g.mem.alloc(i32s(1))
      const off = g.mem.alloc(i32s(0))
      assert.strictEqual((yield* g.call(SYS.ioctl, 1, ioctl.FIONBIO, on)).error, 0)
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, fcntlCmds.F_GETFL, 0)).retval0, BigInt(O_WRONLY | O_NONBLOCK))
      yield* g.call(SYS.ioctl, 1, ioctl.FIOASYNC, on)
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, fcntlCmds.F_GETFL, 0)).retval0, BigInt(O_WRONLY | O_NONBLOCK | O_ASYNC))
      yield* g.call(SYS.ioctl, 1, ioctl.FIONBIO, off)
      yield* g.call(SYS.ioctl, 1, ioctl.FIOASYNC, off)
      assert.strictEqual((yield* g.call(SYS.fcntl, 1, fcntlCmds.F_GETFL, 0)).retval0, BigInt(O_WRONLY))
      assert.strictEqual((yield* g.call(SYS.ioctl, 1, ioctl.FIONBIO, 0x10n)).error, Errno.EFAULT)
    }))

  it.effect("FIONREAD: size - offset for a file, the file's own answer for a pipe, ENOTTY for the console", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fd = yield* open(g, "/tmp/n", O_RDWR | O_CREAT)
      yield* g.call(SYS.write, fd, g.mem.alloc(text("0123456789")), 10)
      yield* g.call(SYS.lseek, fd, 0, 4, lseekWhence.SEEK_SET)
      const out = g.mem.alloc(i32s(-1))
      assert.strictEqual((yield* g.call(SYS.ioctl, fd, ioctl.FIONREAD, out)).error, 0)
      assert.strictEqual(peekI32(g, out), 6)
      const pipe = installPipe(g, 7)
      pipe.queue(text("xyz"))
      assert.strictEqual((yield* g.call(SYS.ioctl, 7, ioctl.FIONREAD, out)).error, 0)
      assert.strictEqual(peekI32(g, out), 3)
      assert.strictEqual((yield* g.call(SYS.ioctl, 1, ioctl.FIONREAD, out)).error, Errno.ENOTTY)
      assert.strictEqual((yield* g.call(SYS.ioctl, fd, 0x2000_7400, 0)).error, Errno.ENOTTY)
      assert.strictEqual((yield* g.call(SYS.ioctl, 12, ioctl.FIONREAD, out)).error, Errno.EBADF)
    }))

  it.effect("FIOCLEX and FIONCLEX set and clear close-on-exec", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      yield* g.call(SYS.ioctl, 2, ioctl.FIOCLEX, 0)
      assert.strictEqual((yield* g.call(SYS.fcntl, 2, fcntlCmds.F_GETFD, 0)).retval0, 1n)
      yield* g.call(SYS.ioctl, 2, ioctl.FIONCLEX, 0)
      assert.strictEqual((yield* g.call(SYS.fcntl, 2, fcntlCmds.F_GETFD, 0)).retval0, 0n)
    }))
})

describe("fsync and fdatasync", () => {
  it.effect("succeed on files and devices; EINVAL on a pipe; EBADF when closed; fdatasync needs write access", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fd = yield* open(g, "/tmp/sync", O_RDONLY | O_CREAT)
      assert.strictEqual((yield* g.call(SYS.fsync, fd)).error, 0)
      assert.strictEqual((yield* g.call(SYS.fdatasync, fd)).error, Errno.EBADF)
      assert.strictEqual((yield* g.call(SYS.fsync, 1)).error, 0)
      assert.strictEqual((yield* g.call(SYS.fdatasync, 1)).error, 0)
      installPipe(g, 6)
      assert.strictEqual((yield* g.call(SYS.fsync, 6)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.fdatasync, 6)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.fsync, 9)).error, Errno.EBADF)
      assert.strictEqual((yield* g.call(SYS.fdatasync, 9)).error, Errno.EBADF)
    }))
})

describe("shared tables", () => {
  it.effect("a prefork copy shares open files: an offset moved by one moves for the other", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fd = yield* open(g, "/tmp/sh", O_RDWR | O_CREAT)
      const child = yield* k.guest({ parent: g })
      yield* child.call(SYS.write, fd, child.mem.alloc(text("xyz")), 3)
      assert.strictEqual((yield* g.call(SYS.lseek, fd, 0, 0, lseekWhence.SEEK_CUR)).retval0, 3n)
    }))
})
