import { assert, describe, it } from "@effect/vitest"
import { Errno, fcntlCmds, flockOps, ioctl, modeBits, openFlags, pathconf, pollEvents, signals, SYS } from "@sysproxy/protocol/netbsd"
import { Effect, Fiber } from "effect"
import { makedev } from "../src/vfs/Devices.ts"
import { boot, decode, type Guest, inLwp, peek, peekI32, text, untilAsleep } from "./support/SyscallHarness.ts"
import { decodeStat } from "./VfsGuest.ts"
import { Cred } from "../src/kauth/Cred.ts"

const { O_RDONLY, O_WRONLY, O_RDWR, O_NONBLOCK, O_EXLOCK } = openFlags
const { S_IFMT, S_IFIFO, S_IFCHR, S_IFBLK, S_IFDIR, S_IFREG, S_IFLNK, S_IFSOCK } = modeBits
const NODEV = 0xffff_ffff_ffff_ffffn

const errno = (g: Guest, number: number, ...args: ReadonlyArray<bigint | number>) => Effect.map(g.call(number, ...args), (r) => r.error)

const ok = (g: Guest, number: number, ...args: ReadonlyArray<bigint | number>) =>
  Effect.map(g.call(number, ...args), (r) => {
    assert.strictEqual(r.error, 0, `syscall ${number}`)
    return r.retval0
  })

const open = (g: Guest, path: string, flags: number) => Effect.map(ok(g, SYS.open, g.mem.allocString(path), flags, 0), Number)

const stat = (g: Guest, path: string) =>
  Effect.gen(function*() {
    const buf = g.mem.alloc(152)
    yield* ok(g, SYS.__stat50, g.mem.allocString(path), buf)
    return decodeStat(peek(g, buf, 152))
  })

const write = (g: Guest, fd: number, s: string) => g.call(SYS.write, fd, g.mem.alloc(text(s)), s.length)

const read = (g: Guest, fd: number, len: number) =>
  Effect.gen(function*() {
    const buf = g.mem.alloc(Math.max(1, len))
    const r = yield* g.call(SYS.read, fd, buf, len)
    return { error: r.error, data: r.error === 0 ? decode(peek(g, buf, Number(r.retval0))) : "" }
  })

/** Two processes and a fifo at /tmp/p. */
const withFifo = Effect.gen(function*() {
  const k = yield* boot()
  const a = yield* k.guest()
  const b = yield* k.guest()
  yield* ok(a, SYS.mkfifo, a.mem.allocString("/tmp/p"), 0o666)
  return { k, a, b }
})

describe("mkfifo and mkfifoat", () => {
  it.effect("make a fifo node: S_IFIFO, mode less the umask, the caller's; EEXIST, ENOENT", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      yield* ok(g, SYS.mkfifo, g.mem.allocString("/tmp/p"), 0o1777)
      const st = yield* stat(g, "/tmp/p")
      assert.strictEqual(st.mode, S_IFIFO | 0o1755, "ALLPERMS & ~022")
      assert.strictEqual(st.size, 0n)
      assert.strictEqual(st.rdev, NODEV)
      assert.strictEqual(yield* errno(g, SYS.mkfifo, g.mem.allocString("/tmp/p"), 0o600), Errno.EEXIST)
      assert.strictEqual(yield* errno(g, SYS.mkfifo, g.mem.allocString("/nope/p"), 0o600), Errno.ENOENT)
      assert.strictEqual(yield* errno(g, SYS.mkfifo, g.mem.allocString("/tmp/q/"), 0o600), Errno.ENOENT)
      const dir = yield* open(g, "/tmp", O_RDONLY)
      yield* ok(g, SYS.mkfifoat, dir, g.mem.allocString("q"), 0o600)
      assert.strictEqual((yield* stat(g, "/tmp/q")).mode & S_IFMT, S_IFIFO)
    }))
})

describe("mknod", () => {
  it.effect("S_IFIFO, S_IFDIR and other types are EINVAL; EEXIST comes first; S_IFREG makes a regular file", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const p = g.mem.allocString("/tmp/n")
      for (const type of [S_IFIFO, S_IFDIR, S_IFLNK, S_IFSOCK, 0, S_IFMT]) {
        assert.strictEqual(yield* errno(g, SYS.__mknod50, p, type | 0o644, 0), Errno.EINVAL, `type ${type.toString(8)}`)
      }
      yield* ok(g, SYS.__mknod50, p, S_IFREG | 0o644, 0)
      assert.strictEqual((yield* stat(g, "/tmp/n")).mode, S_IFREG | 0o644)
      assert.strictEqual(yield* errno(g, SYS.__mknod50, p, S_IFIFO | 0o644, 0), Errno.EEXIST)
    }))

  it.effect("a character node with /dev/null's numbers is a null device; unknown numbers open as ENXIO; NODEV is EINVAL", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const nul = (yield* stat(g, "/dev/null")).rdev
      yield* ok(g, SYS.__mknod50, g.mem.allocString("/tmp/null"), S_IFCHR | 0o666, nul)
      const st = yield* stat(g, "/tmp/null")
      assert.strictEqual(st.mode, S_IFCHR | 0o644, "0666 less the umask")
      assert.strictEqual(st.rdev, nul)
      const fd = yield* open(g, "/tmp/null", O_RDWR)
      assert.strictEqual((yield* write(g, fd, "gone")).retval0, 4n)
      assert.deepStrictEqual(yield* read(g, fd, 8), { error: 0, data: "" })

      const odd = BigInt(makedev(42, 7))
      yield* ok(g, SYS.mknodat, -100, g.mem.allocString("/tmp/odd"), S_IFBLK | 0o600, 0, odd)
      assert.strictEqual((yield* stat(g, "/tmp/odd")).mode, S_IFBLK | 0o600)
      assert.strictEqual((yield* stat(g, "/tmp/odd")).rdev, odd)
      assert.strictEqual(yield* errno(g, SYS.open, g.mem.allocString("/tmp/odd"), O_RDONLY, 0), Errno.ENXIO)
      assert.strictEqual(yield* errno(g, SYS.__mknod50, g.mem.allocString("/tmp/x"), S_IFCHR | 0o600, NODEV), Errno.EINVAL)
    }))

  it.effect("only the superuser: EPERM before anything else is looked at", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      g.proc.cred = Cred.of(1000, 0)
      assert.strictEqual(yield* errno(g, SYS.__mknod50, g.mem.allocString("/tmp/n"), S_IFREG | 0o644, 0), Errno.EPERM)
      assert.strictEqual(yield* errno(g, SYS.__mknod50, 0x10n, S_IFCHR | 0o644, 0), Errno.EPERM)
      assert.strictEqual(yield* errno(g, SYS.mkfifo, g.mem.allocString("/tmp/p"), 0o600), 0, "mkfifo is for everyone")
    }))
})

describe("fifos", () => {
  it.live("a reader's open waits for a writer and a writer's for a reader; data flows between two processes", () =>
    Effect.gen(function*() {
      const { a, b } = yield* withFifo
      const opening = yield* inLwp(a, SYS.open, a.mem.allocString("/tmp/p"), O_RDONLY, 0)
      yield* untilAsleep(opening.lwp)
      const w = yield* open(b, "/tmp/p", O_WRONLY)
      const opened = yield* Fiber.join(opening.fiber)
      assert.strictEqual(opened.error, 0)
      const r = Number(opened.retval0)
      assert.strictEqual((yield* write(b, w, "hello")).retval0, 5n)
      const fionread = a.mem.alloc(4)
      yield* ok(a, SYS.ioctl, r, ioctl.FIONREAD, fionread)
      assert.strictEqual(peekI32(a, fionread), 5)
      assert.deepStrictEqual(yield* read(a, r, 64), { error: 0, data: "hello" })
      yield* ok(b, SYS.close, w)
      assert.deepStrictEqual(yield* read(a, r, 64), { error: 0, data: "" }, "end of file")

      const writer = yield* inLwp(b, SYS.open, b.mem.allocString("/tmp/p"), O_WRONLY, 0)
      assert.strictEqual((yield* Fiber.join(writer.fiber)).error, 0, "a reader is there: no wait")
      yield* ok(a, SYS.close, r)
      const waits = yield* inLwp(b, SYS.open, b.mem.allocString("/tmp/p"), O_WRONLY, 0)
      yield* untilAsleep(waits.lwp)
      const r2 = yield* open(a, "/tmp/p", O_RDONLY)
      assert.strictEqual((yield* Fiber.join(waits.fiber)).error, 0)
      assert.isAbove(r2, 2)
    }))

  it.effect("O_NONBLOCK: a reader opens at once and reads nothing; a writer with no reader is ENXIO; O_RDWR never waits", () =>
    Effect.gen(function*() {
      const { a } = yield* withFifo
      const p = a.mem.allocString("/tmp/p")
      assert.strictEqual(yield* errno(a, SYS.open, p, O_WRONLY | O_NONBLOCK, 0), Errno.ENXIO)
      const r = yield* open(a, "/tmp/p", O_RDONLY | O_NONBLOCK)
      assert.deepStrictEqual(yield* read(a, r, 8), { error: 0, data: "" }, "no writer: 0 bytes, not EAGAIN")
      const w = yield* open(a, "/tmp/p", O_WRONLY | O_NONBLOCK)
      assert.deepStrictEqual(yield* read(a, r, 8), { error: Errno.EAGAIN, data: "" }, "a writer but no data")
      assert.strictEqual((yield* write(a, w, "xy")).retval0, 2n)
      assert.deepStrictEqual(yield* read(a, r, 8), { error: 0, data: "xy" })
      const rw = yield* open(a, "/tmp/p", O_RDWR)
      assert.strictEqual((yield* write(a, rw, "z")).retval0, 1n)
      assert.deepStrictEqual(yield* read(a, rw, 8), { error: 0, data: "z" })
    }))

  it.live("end of file is reported once: a later blocking read waits for a new writer's data", () =>
    Effect.gen(function*() {
      const { a, b } = yield* withFifo
      const r = yield* open(a, "/tmp/p", O_RDONLY | O_NONBLOCK)
      yield* ok(a, SYS.fcntl, r, fcntlCmds.F_SETFL, O_RDONLY)
      const w = yield* open(b, "/tmp/p", O_WRONLY)
      yield* ok(b, SYS.close, w)
      assert.deepStrictEqual(yield* read(a, r, 8), { error: 0, data: "" })
      const waiting = yield* inLwp(a, SYS.read, r, a.mem.alloc(8), 8)
      yield* untilAsleep(waiting.lwp)
      const w2 = yield* open(b, "/tmp/p", O_WRONLY)
      assert.strictEqual((yield* write(b, w2, "again")).retval0, 5n)
      assert.strictEqual((yield* Fiber.join(waiting.fiber)).retval0, 5n)
    }))

  it.effect("with no reader left a write is EPIPE and raises SIGPIPE", () =>
    Effect.gen(function*() {
      const { a } = yield* withFifo
      const r = yield* open(a, "/tmp/p", O_RDONLY | O_NONBLOCK)
      const w = yield* open(a, "/tmp/p", O_WRONLY | O_NONBLOCK)
      yield* ok(a, SYS.close, r)
      assert.strictEqual((yield* write(a, w, "lost")).error, Errno.EPIPE)
      assert.deepStrictEqual(a.mem.signals, [signals.SIGPIPE])
    }))

  it.live("a blocked open that is ordered out is EINTR and leaves no end behind", () =>
    Effect.gen(function*() {
      const { k, a, b } = yield* withFifo
      const opening = yield* inLwp(a, SYS.open, a.mem.allocString("/tmp/p"), O_RDONLY, 0)
      yield* untilAsleep(opening.lwp)
      yield* k.hypervisor.lwpExit(a.handle)
      assert.strictEqual((yield* Fiber.join(opening.fiber)).error, Errno.EINTR)
      assert.strictEqual(yield* errno(b, SYS.open, b.mem.allocString("/tmp/p"), O_WRONLY | O_NONBLOCK, 0), Errno.ENXIO)
    }))

  it.effect("a fifo is a vnode that cannot seek or lock: ESPIPE, EOPNOTSUPP; fstat shows the node, fpathconf fifofs's answers", () =>
    Effect.gen(function*() {
      const { a } = yield* withFifo
      const fd = yield* open(a, "/tmp/p", O_RDWR)
      assert.strictEqual(yield* errno(a, SYS.lseek, fd, 0, 0, 0), Errno.ESPIPE)
      assert.strictEqual(yield* errno(a, SYS.pread, fd, a.mem.alloc(4), 4, 0, 0), Errno.ESPIPE)
      assert.strictEqual(yield* errno(a, SYS.flock, fd, flockOps.LOCK_EX), Errno.EOPNOTSUPP)
      const fl = a.mem.alloc(new Uint8Array(24).fill(0).map((_, i) => (i === 20 ? 1 : 0)))
      assert.strictEqual(yield* errno(a, SYS.fcntl, fd, fcntlCmds.F_SETLK, fl), Errno.EOPNOTSUPP)
      assert.strictEqual(yield* errno(a, SYS.open, a.mem.allocString("/tmp/p"), O_RDWR | O_EXLOCK, 0), Errno.EOPNOTSUPP)
      const sb = a.mem.alloc(152)
      yield* ok(a, SYS.__fstat50, fd, sb)
      assert.strictEqual(decodeStat(peek(a, sb, 152)).mode & S_IFMT, S_IFIFO)
      assert.strictEqual(yield* ok(a, SYS.fpathconf, fd, pathconf._PC_PIPE_BUF), 512n)
      assert.strictEqual(yield* errno(a, SYS.fpathconf, fd, pathconf._PC_NAME_MAX), Errno.EINVAL)
      yield* ok(a, SYS.unlink, a.mem.allocString("/tmp/p"))
      assert.strictEqual((yield* write(a, fd, "still")).retval0, 5n, "an unlinked fifo keeps working for its open files")
      const pollfd = a.mem.alloc(new Uint8Array([fd, 0, 0, 0, pollEvents.POLLIN | pollEvents.POLLOUT, 0, 0, 0]))
      assert.strictEqual(yield* ok(a, SYS.poll, pollfd, 1, 0), 1n)
      assert.strictEqual(peek(a, pollfd + 6n, 2)[0], pollEvents.POLLIN | pollEvents.POLLOUT)
    }))
})
