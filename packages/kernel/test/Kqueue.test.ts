import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import {
  Errno,
  fcntlCmds,
  fdFlags,
  ioctl,
  modeBits,
  openFlags,
  pollEvents,
  signals,
  socket as so,
  SYS
} from "@sysproxy/protocol/netbsd"
import { evFlags, evfilt, notes } from "../src/abi/Kevent.ts"
import { mstohz } from "../src/kqueue/filters/TimerFilter.ts"
import { knoteRevoked } from "../src/kqueue/VnodeEvents.ts"
import { change, kev, kevent, kqueue, poll } from "./support/Kevents.ts"
import { boot, callOk, errnoOf, type Guest, i32s, peekI32, peekI64, setUid, text, untilAsleep } from "./support/SyscallHarness.ts"

const { EVFILT_READ, EVFILT_WRITE, EVFILT_AIO, EVFILT_VNODE, EVFILT_PROC, EVFILT_SIGNAL, EVFILT_TIMER } = evfilt
const { EV_ADD, EV_DELETE, EV_ENABLE, EV_DISABLE, EV_ONESHOT, EV_CLEAR, EV_EOF, EV_ERROR } = evFlags
const {
  NOTE_DELETE,
  NOTE_WRITE,
  NOTE_EXTEND,
  NOTE_ATTRIB,
  NOTE_LINK,
  NOTE_RENAME,
  NOTE_REVOKE,
  NOTE_EXIT,
  NOTE_FORK,
  NOTE_EXEC,
  NOTE_TRACK,
  NOTE_TRACKERR
} = notes
const { O_CREAT, O_RDWR, O_RDONLY, O_CLOEXEC, O_NONBLOCK } = openFlags

/** A syscall that must succeed: retval[0] as a number (descriptors, mostly). */
const ok = (g: Guest, n: number, ...args: ReadonlyArray<bigint | number>) => Effect.map(callOk(g, n, ...args), Number)

const pipe = (g: Guest) =>
  Effect.gen(function*() {
    const fds = g.mem.alloc(8)
    yield* ok(g, SYS.pipe2, fds, 0)
    return [peekI32(g, fds), peekI32(g, fds + 4n)] as const
  })

const write = (g: Guest, fd: number, s: string | number) => {
  const bytes = typeof s === "string" ? text(s) : new Uint8Array(s)
  return ok(g, SYS.write, fd, g.mem.alloc(bytes), bytes.length)
}

const read = (g: Guest, fd: number, n: number) => ok(g, SYS.read, fd, g.mem.alloc(n), n)

const open = (g: Guest, path: string, flags: number, mode = 0o644) => ok(g, SYS.open, g.mem.allocString(path), flags, mode)

const path = (g: Guest, p: string) => g.mem.allocString(p)

/** A booted kernel, a guest and a kqueue of it. */
const guestWithKqueue = (config?: Parameters<typeof boot>[0]) =>
  Effect.gen(function*() {
    const k = yield* boot(config)
    const g = yield* k.guest()
    const kq = yield* kqueue(g)
    return { k, g, kq }
  })

/** What one reported event says, the parts a test compares. */
const brief = (e: { readonly ident: bigint; readonly filter: number; readonly flags: number; readonly fflags: number; readonly data: bigint }) => ({
  ident: Number(e.ident),
  filter: e.filter,
  flags: e.flags,
  fflags: e.fflags,
  data: e.data
})

/** The events ready now, briefly. */
const ready = (g: Guest, kq: number) => Effect.map(poll(g, kq), (r) => r.events.map(brief))

describe("kqueue, kqueue1: the kqueue file", () => {
  it.effect("F_SETFL, F_GETOWN, F_SETOWN and the flag ioctls are ENOTTY (kqueue_fcntl, kqueue_ioctl); FIONBIO sets the flag anyway, F_SETFL never", () =>
    Effect.gen(function*() {
      const { g, kq } = yield* guestWithKqueue()
      const getfl = () => ok(g, SYS.fcntl, kq, fcntlCmds.F_GETFL)
      const before = yield* getfl()
      assert.strictEqual(yield* errnoOf(g, SYS.fcntl, kq, fcntlCmds.F_SETFL, O_NONBLOCK), Errno.ENOTTY)
      assert.strictEqual(yield* errnoOf(g, SYS.fcntl, kq, fcntlCmds.F_SETFL, before), Errno.ENOTTY, "even with nothing changed")
      assert.strictEqual(yield* getfl(), before)
      assert.strictEqual(yield* errnoOf(g, SYS.fcntl, kq, fcntlCmds.F_GETOWN), Errno.ENOTTY)
      assert.strictEqual(yield* errnoOf(g, SYS.fcntl, kq, fcntlCmds.F_SETOWN, 5), Errno.ENOTTY)
      assert.strictEqual(yield* errnoOf(g, SYS.ioctl, kq, ioctl.FIOSETOWN, g.mem.alloc(i32s(5))), Errno.ENOTTY)
      assert.strictEqual(yield* errnoOf(g, SYS.ioctl, kq, ioctl.FIOGETOWN, g.mem.alloc(4)), Errno.ENOTTY)
      assert.strictEqual(yield* errnoOf(g, SYS.ioctl, kq, ioctl.FIONBIO, g.mem.alloc(i32s(1))), Errno.ENOTTY)
      assert.strictEqual((yield* getfl()) & O_NONBLOCK, O_NONBLOCK, "sys_ioctl set FNONBLOCK before asking the file")
      // a pipe takes them
      const [r] = yield* pipe(g)
      assert.strictEqual(yield* errnoOf(g, SYS.fcntl, r, fcntlCmds.F_SETFL, O_NONBLOCK), 0)
      assert.strictEqual(yield* errnoOf(g, SYS.ioctl, r, ioctl.FIONBIO, g.mem.alloc(i32s(0))), 0)
    }))

  it.effect("a descriptor: fstat a fifo with the queued count, read/write ENXIO, lseek ESPIPE, ioctl ENOTTY", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      assert.strictEqual(kq, 3, "the lowest free descriptor (0-2 are the console)")
      const st = g.mem.alloc(152)
      yield* ok(g, SYS.__fstat50, kq, st)
      assert.strictEqual(peekI32(g, st + 8n) & modeBits.S_IFMT, modeBits.S_IFIFO)
      assert.strictEqual(peekI64(g, st + 112n), 0n, "st_size")
      assert.strictEqual(peekI32(g, st + 128n), 40, "st_blksize: sizeof(struct kevent)")
      assert.strictEqual(yield* errnoOf(g, SYS.read, kq, g.mem.alloc(8), 8), Errno.ENXIO)
      assert.strictEqual(yield* errnoOf(g, SYS.write, kq, g.mem.alloc(8), 8), Errno.ENXIO)
      assert.strictEqual(yield* errnoOf(g, SYS.lseek, kq, 0, 0, 0), Errno.ESPIPE)
      assert.strictEqual(yield* errnoOf(g, SYS.ioctl, kq, ioctl.FIONREAD, g.mem.alloc(4)), Errno.ENOTTY)
      // a queued event shows as st_size
      const [r, w] = yield* pipe(g)
      assert.strictEqual(yield* change(g, kq, kev(r, EVFILT_READ, EV_ADD)), 0)
      yield* write(g, w, "x")
      yield* ok(g, SYS.__fstat50, kq, st)
      assert.strictEqual(peekI64(g, st + 112n), 1n)
    }))

  it.effect("kqueue1: O_CLOEXEC marks the descriptor, O_NONBLOCK goes into the file's flags; exec closes it", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const plain = yield* kqueue(g)
      const kq = yield* ok(g, SYS.kqueue1, O_CLOEXEC | O_NONBLOCK)
      assert.strictEqual(yield* ok(g, SYS.fcntl, kq, fcntlCmds.F_GETFD, 0), fdFlags.FD_CLOEXEC)
      assert.strictEqual(yield* ok(g, SYS.fcntl, kq, fcntlCmds.F_GETFL, 0), O_RDWR | O_NONBLOCK)
      assert.strictEqual(yield* ok(g, SYS.fcntl, plain, fcntlCmds.F_GETFD, 0), 0)
      assert.strictEqual(yield* ok(g, SYS.fcntl, plain, fcntlCmds.F_GETFL, 0), O_RDWR)
      yield* k.hypervisor.execNotify(g.handle, "t")
      assert.strictEqual((yield* poll(g, kq)).error, Errno.EBADF)
      assert.strictEqual((yield* poll(g, plain)).error, 0)
    }))

  it.effect("a fork's copy of the table has no kqueue (fd_copy); its other descriptors are there", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const [r] = yield* pipe(g)
      yield* change(g, kq, kev(r, EVFILT_READ, EV_ADD))
      const child = yield* k.guest({ parent: g, mode: "copy" })
      assert.strictEqual(yield* errnoOf(child, SYS.fcntl, kq, fcntlCmds.F_GETFD, 0), Errno.EBADF)
      assert.strictEqual(yield* errnoOf(child, SYS.fcntl, r, fcntlCmds.F_GETFD, 0), 0)
      assert.strictEqual(yield* kqueue(child), kq, "the kqueue's number is free in the child")
      assert.strictEqual(k.kernel.stats().knotes, 1)
    }))

  it.effect("another kqueue watches one with EVFILT_READ (data: its queued count); other filters on it are EPERM; poll sees it readable", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const inner = yield* kqueue(g)
      const outer = yield* kqueue(g)
      const [r, w] = yield* pipe(g)
      yield* change(g, inner, kev(r, EVFILT_READ, EV_ADD))
      assert.strictEqual(yield* change(g, outer, kev(inner, EVFILT_READ, EV_ADD)), 0)
      assert.strictEqual(yield* change(g, outer, kev(inner, EVFILT_WRITE, EV_ADD)), Errno.EPERM)
      assert.strictEqual(yield* change(g, outer, kev(inner, EVFILT_VNODE, EV_ADD, NOTE_WRITE)), Errno.EPERM)
      assert.deepStrictEqual(yield* ready(g, outer), [])
      const pfd = g.mem.alloc(new Uint8Array([inner, 0, 0, 0, pollEvents.POLLIN, 0, 0, 0]))
      assert.strictEqual(yield* ok(g, SYS.poll, pfd, 1, 0), 0)
      yield* write(g, w, "ab")
      assert.deepStrictEqual(yield* ready(g, outer), [{ ident: inner, filter: EVFILT_READ, flags: EV_ADD, fflags: 0, data: 1n }])
      assert.strictEqual(yield* ok(g, SYS.poll, pfd, 1, 0), 1)
      assert.strictEqual(peekI32(g, pfd + 4n) >>> 16, pollEvents.POLLIN, "revents")
    }))
})

describe("kevent: registering changes", () => {
  it.effect("EBADF for a descriptor that is not an open kqueue; EFAULT for the lists and the timeout", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const [r] = yield* pipe(g)
      assert.strictEqual((yield* poll(g, 77)).error, Errno.EBADF)
      assert.strictEqual((yield* poll(g, r)).error, Errno.EBADF)
      assert.strictEqual(yield* errnoOf(g, SYS.__kevent50, kq, 0x10n, 1, 0, 0, 0), Errno.EFAULT)
      assert.strictEqual(yield* errnoOf(g, SYS.__kevent50, kq, 0, 0, 0, 0, 0x10n), Errno.EFAULT)
      // a failed change reported into a bad event list
      const bad = g.mem.alloc(new Uint8Array(40))
      assert.strictEqual(yield* errnoOf(g, SYS.__kevent50, kq, bad, 1, 0x10n, 1, 0), Errno.EFAULT)
    }))

  it.effect("filters: EVFILT_AIO, EVFILT_USER (8) and beyond are EINVAL; EVFILT_SIGNAL is EOPNOTSUPP, as in a rump kernel", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      for (const filter of [EVFILT_AIO, 7, 8, 100, 0xffffffff]) {
        assert.strictEqual(yield* change(g, kq, kev(0, filter, EV_ADD)), Errno.EINVAL, `filter ${filter}`)
      }
      assert.strictEqual(yield* change(g, kq, kev(signals.SIGUSR1, EVFILT_SIGNAL, EV_ADD)), Errno.EOPNOTSUPP)
      assert.strictEqual(yield* change(g, kq, kev(signals.SIGUSR1, EVFILT_SIGNAL, EV_DELETE)), Errno.ENOENT)
      assert.strictEqual(k.kernel.stats().knotes, 0)
    }))

  it.effect("a failed change with room in the event list comes back as EV_ERROR with the errno; the others still apply", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const [r, w] = yield* pipe(g)
      yield* write(g, w, "ready")
      const res = yield* kevent(g, kq, [
        kev(r, EVFILT_READ, EV_DELETE, 3, 4, 5),
        kev(r, EVFILT_READ, EV_ADD),
        kev(1234, 8, EV_ADD | EV_EOF, 6, 7, 8),
        kev(99, EVFILT_READ, EV_ADD),
        kev(1, EVFILT_TIMER, EV_ADD, 9, 0, 10)
      ], 8, [0, 0])
      assert.strictEqual(res.error, 0)
      assert.strictEqual(res.n, 4, "the count of failed changes; the ready event is not collected")
      assert.deepStrictEqual(res.events.map((e) => [Number(e.ident), e.filter, e.flags, e.fflags, e.data, e.udata]), [
        [r, EVFILT_READ, EV_ERROR, 3, BigInt(Errno.ENOENT), 5n],
        [1234, 8, EV_ERROR, 6, BigInt(Errno.EINVAL), 8n],
        [99, EVFILT_READ, EV_ERROR, 0, BigInt(Errno.EBADF), 0n],
        // the add got as far as its filter: fflags and data were cleared
        [1, EVFILT_TIMER, EV_ERROR, 0, BigInt(Errno.EINVAL), 10n]
      ])
      assert.deepStrictEqual(yield* ready(g, kq), [{ ident: r, filter: EVFILT_READ, flags: EV_ADD, fflags: 0, data: 5n }])
      // with no room, the first failure is the call's error
      const no = yield* kevent(g, kq, [kev(98, EVFILT_READ, EV_ADD), kev(1234, 8, EV_ADD)], 0, [0, 0])
      assert.strictEqual(no.error, Errno.EBADF)
    }))

  it.effect("ENOENT without EV_ADD; EV_ADD again updates udata; EV_DELETE removes; EV_DISABLE and EV_ENABLE", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const [r, w] = yield* pipe(g)
      assert.strictEqual(yield* change(g, kq, kev(r, EVFILT_READ, EV_ENABLE)), Errno.ENOENT)
      assert.strictEqual(yield* change(g, kq, kev(r, EVFILT_READ, EV_ADD | EV_DISABLE, 0, 0, 1)), 0)
      yield* write(g, w, "ab")
      assert.deepStrictEqual(yield* ready(g, kq), [], "disabled")
      assert.strictEqual(yield* change(g, kq, kev(r, EVFILT_READ, EV_ENABLE)), 0)
      assert.strictEqual(yield* change(g, kq, kev(r, EVFILT_READ, EV_ADD, 0, 0, 2)), 0)
      const res = yield* poll(g, kq)
      assert.deepStrictEqual(res.events.map((e) => [e.flags, e.data, e.udata]), [[EV_ADD | EV_DISABLE, 2n, 2n]])
      assert.strictEqual(k.kernel.stats().knotes, 1)
      assert.strictEqual(yield* change(g, kq, kev(r, EVFILT_READ, EV_DELETE)), 0)
      assert.deepStrictEqual(yield* ready(g, kq), [])
      assert.strictEqual(k.kernel.stats().knotes, 0)
    }))

  it.effect("the ident of a descriptor filter is taken as an int; the event reports it as given", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const [r, w] = yield* pipe(g)
      const wide = (1n << 32n) + BigInt(r)
      assert.strictEqual(yield* change(g, kq, kev(wide, EVFILT_READ, EV_ADD)), 0)
      yield* write(g, w, "x")
      assert.deepStrictEqual((yield* poll(g, kq)).events.map((e) => e.ident), [wide])
      // the same knote, found by its descriptor
      assert.strictEqual(yield* change(g, kq, kev(r, EVFILT_READ, EV_DELETE)), 0)
      assert.strictEqual(k.kernel.stats().knotes, 0)
    }))

  it.effect("closing a descriptor takes its knotes away, in every kqueue, while a dup of it keeps its own", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const kq1 = yield* kqueue(g)
      const kq2 = yield* kqueue(g)
      const [r, w] = yield* pipe(g)
      const dup = yield* ok(g, SYS.dup, r)
      yield* change(g, kq1, kev(r, EVFILT_READ, EV_ADD))
      yield* change(g, kq2, kev(r, EVFILT_READ, EV_ADD))
      yield* change(g, kq2, kev(dup, EVFILT_READ, EV_ADD))
      assert.strictEqual(k.kernel.stats().knotes, 3)
      yield* ok(g, SYS.close, r)
      assert.strictEqual(k.kernel.stats().knotes, 1)
      yield* write(g, w, "x")
      assert.deepStrictEqual((yield* ready(g, kq2)).map((e) => e.ident), [dup])
      assert.deepStrictEqual(yield* ready(g, kq1), [])
      // dup2 onto a watched descriptor closes it, and its knotes go
      yield* ok(g, SYS.dup2, w, dup)
      assert.strictEqual(k.kernel.stats().knotes, 0)
      // closing the kqueue takes the rest
      const [r2] = yield* pipe(g)
      yield* change(g, kq1, kev(r2, EVFILT_READ, EV_ADD), kev(5, EVFILT_TIMER, EV_ADD, 0, 1000))
      assert.deepStrictEqual([k.kernel.stats().knotes, k.kernel.stats().timers], [2, 1])
      yield* ok(g, SYS.close, kq1)
      assert.deepStrictEqual([k.kernel.stats().knotes, k.kernel.stats().timers], [0, 0])
    }))
})

describe("kevent: collecting events", () => {
  it.effect("level-triggered by default; EV_CLEAR reports a change once; EV_ONESHOT once and then the knote is gone", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const [r, w] = yield* pipe(g)
      const [r2, w2] = yield* pipe(g)
      const [r3, w3] = yield* pipe(g)
      yield* change(g, kq, kev(r, EVFILT_READ, EV_ADD), kev(r2, EVFILT_READ, EV_ADD | EV_CLEAR), kev(r3, EVFILT_READ, EV_ADD | EV_ONESHOT))
      yield* write(g, w, "12")
      yield* write(g, w2, "12")
      yield* write(g, w3, "12")
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => [e.ident, e.flags, e.data]), [
        [r, EV_ADD, 2n],
        [r2, EV_ADD | EV_CLEAR, 2n],
        [r3, EV_ADD | EV_ONESHOT, 2n]
      ])
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => e.ident), [r], "only the level-triggered one again")
      yield* write(g, w2, "3")
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => [e.ident, e.data]), [[r, 2n], [r2, 3n]])
      assert.strictEqual(yield* change(g, kq, kev(r3, EVFILT_READ, EV_DELETE)), Errno.ENOENT)
      yield* read(g, r, 2)
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => e.ident), [], "nothing left to read")
    }))

  it.effect("at most nevents at a time, the rest stays queued; 0 events asked only registers", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const reads: Array<number> = []
      for (let i = 0; i < 20; i++) {
        const [r, w] = yield* pipe(g)
        reads.push(r)
        yield* write(g, w, "x")
        yield* change(g, kq, kev(r, EVFILT_READ, EV_ADD | EV_ONESHOT))
      }
      const first = yield* kevent(g, kq, [], 12, [0, 0])
      assert.deepStrictEqual(first.events.map((e) => Number(e.ident)), reads.slice(0, 12))
      assert.strictEqual((yield* kevent(g, kq, [], 0, [0, 0])).n, 0)
      const rest = yield* kevent(g, kq, [], 12, [0, 0])
      assert.deepStrictEqual(rest.events.map((e) => Number(e.ident)), reads.slice(12))
    }))

  it.effect("the timeout is checked only when events are asked for: EINVAL for tv_nsec out of range or a negative time", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      assert.strictEqual((yield* kevent(g, kq, [], 1, [0, 1_000_000_000])).error, Errno.EINVAL)
      assert.strictEqual((yield* kevent(g, kq, [], 1, [-1, 0])).error, Errno.EINVAL)
      assert.strictEqual((yield* kevent(g, kq, [], 1, [0, -1])).error, Errno.EINVAL)
      assert.strictEqual((yield* kevent(g, kq, [], 0, [-1, 0])).error, 0)
    }))

  it.live("a sleep like any other: woken by an event, ended by its timeout (at least a tick), or EINTR when ordered out", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const [r, w] = yield* pipe(g)
      yield* change(g, kq, kev(r, EVFILT_READ, EV_ADD))
      const lwp = yield* g.newLwp()
      const waiting = yield* kevent(g, kq, [], 4, undefined, lwp).pipe(Effect.forkChild)
      yield* untilAsleep(lwp)
      yield* write(g, w, "wake")
      const woken = yield* Fiber.join(waiting)
      assert.deepStrictEqual(woken.events.map((e) => e.data), [4n])
      yield* read(g, r, 4)

      let t0 = performance.now()
      assert.strictEqual((yield* kevent(g, kq, [], 4, [0, 60_000_000])).n, 0)
      assert.isTrue(performance.now() - t0 >= 59, `timed out after ${performance.now() - t0} ms`)
      t0 = performance.now()
      assert.strictEqual((yield* kevent(g, kq, [], 4, [0, 1])).n, 0)
      assert.isTrue(performance.now() - t0 >= 9, `a 1 ns timeout is a tick: ${performance.now() - t0} ms`)

      const lwp2 = yield* g.newLwp()
      const stuck = yield* kevent(g, kq, [], 4, undefined, lwp2).pipe(Effect.forkChild)
      yield* untilAsleep(lwp2)
      yield* k.hypervisor.lwpExit(g.handle)
      assert.strictEqual((yield* Fiber.join(stuck)).error, Errno.EINTR)
    }))

  it.live("a process released while blocked in kevent leaves no knote and no timer behind", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const [r] = yield* pipe(g)
      yield* change(g, kq, kev(r, EVFILT_READ, EV_ADD), kev(1, EVFILT_TIMER, EV_ADD, 0, 60_000), kev(g.pid, EVFILT_PROC, EV_ADD, NOTE_EXIT))
      assert.deepStrictEqual([k.kernel.stats().knotes, k.kernel.stats().timers], [3, 1])
      const lwp = yield* g.newLwp()
      const blocked = yield* kevent(g, kq, [], 4, undefined, lwp).pipe(Effect.forkChild)
      yield* untilAsleep(lwp)
      yield* k.hypervisor.releaseProcess(g.handle)
      assert.strictEqual((yield* Fiber.join(blocked)).error, Errno.EINTR)
      yield* k.hypervisor.releaseLwp(lwp)
      assert.deepStrictEqual([k.kernel.stats().knotes, k.kernel.stats().timers], [0, 0])
    }))
})

describe("EVFILT_READ and EVFILT_WRITE on pipes", () => {
  it.effect("read end: data is what is buffered; EV_EOF once the writer is gone", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const [r, w] = yield* pipe(g)
      yield* change(g, kq, kev(r, EVFILT_READ, EV_ADD, 0, 0, 42))
      assert.deepStrictEqual(yield* ready(g, kq), [])
      yield* write(g, w, "hello")
      const res = yield* poll(g, kq)
      assert.deepStrictEqual(res.events.map((e) => [brief(e), e.udata]), [[{ ident: r, filter: EVFILT_READ, flags: EV_ADD, fflags: 0, data: 5n }, 42n]])
      yield* read(g, r, 2)
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => e.data), [3n])
      yield* ok(g, SYS.close, w)
      assert.deepStrictEqual(yield* ready(g, kq), [{ ident: r, filter: EVFILT_READ, flags: EV_ADD | EV_EOF, fflags: 0, data: 3n }])
      yield* read(g, r, 3)
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => [e.flags, e.data]), [[EV_ADD | EV_EOF, 0n]])
    }))

  it.effect("write end: data is the room left, ready with PIPE_BUF of it; EV_EOF once the reader is gone; EBADF to add then", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const [r, w] = yield* pipe(g)
      yield* change(g, kq, kev(w, EVFILT_WRITE, EV_ADD))
      assert.deepStrictEqual(yield* ready(g, kq), [{ ident: w, filter: EVFILT_WRITE, flags: EV_ADD, fflags: 0, data: 16384n }])
      yield* write(g, w, 16384 - 511)
      assert.deepStrictEqual(yield* ready(g, kq), [], "511 bytes of room are less than PIPE_BUF")
      yield* read(g, r, 1)
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => e.data), [512n])
      yield* ok(g, SYS.close, r)
      assert.deepStrictEqual(yield* ready(g, kq), [{ ident: w, filter: EVFILT_WRITE, flags: EV_ADD | EV_EOF, fflags: 0, data: 0n }])
      const [r2, w2] = yield* pipe(g)
      yield* ok(g, SYS.close, r2)
      assert.strictEqual(yield* change(g, kq, kev(w2, EVFILT_WRITE, EV_ADD)), Errno.EBADF)
      assert.strictEqual(yield* change(g, kq, kev(w2, EVFILT_VNODE, EV_ADD, NOTE_WRITE)), Errno.EINVAL)
    }))

  it.effect("the wrong way round: read on the write end and write on the read end see an empty half, EV_EOF once the other end goes", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const [r, w] = yield* pipe(g)
      yield* change(g, kq, kev(w, EVFILT_READ, EV_ADD), kev(r, EVFILT_WRITE, EV_ADD))
      yield* write(g, w, "abc")
      assert.deepStrictEqual(yield* ready(g, kq), [])
      yield* ok(g, SYS.close, w)
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => [e.ident, e.filter, e.flags, e.data]), [[r, EVFILT_WRITE, EV_ADD | EV_EOF, 0n]])
    }))
})

describe("EVFILT_READ and EVFILT_WRITE on sockets", () => {
  it.effect("a connected stream: data received and room at the peer; EV_EOF when the peer shuts its writing side", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const sv = g.mem.alloc(8)
      yield* ok(g, SYS.socketpair, so.AF_LOCAL, so.SOCK_STREAM, 0, sv)
      const [a, b] = [peekI32(g, sv), peekI32(g, sv + 4n)]
      yield* change(g, kq, kev(a, EVFILT_READ, EV_ADD), kev(a, EVFILT_WRITE, EV_ADD))
      assert.deepStrictEqual(yield* ready(g, kq), [{ ident: a, filter: EVFILT_WRITE, flags: EV_ADD, fflags: 0, data: 8192n }])
      yield* write(g, b, "seven!!")
      yield* write(g, a, 8192 - 1000)
      assert.deepStrictEqual(yield* ready(g, kq), [{ ident: a, filter: EVFILT_READ, flags: EV_ADD, fflags: 0, data: 7n }], "1000 bytes of room are under the send low water mark")
      yield* ok(g, SYS.shutdown, b, so.SHUT_WR)
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => [e.filter, e.flags, e.data]), [[EVFILT_READ, EV_ADD | EV_EOF, 7n]])
    }))

  it.effect("NOTE_LOWAT: the data given with it is the low water mark", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const sv = g.mem.alloc(8)
      yield* ok(g, SYS.socketpair, so.AF_LOCAL, so.SOCK_STREAM, 0, sv)
      const [a, b] = [peekI32(g, sv), peekI32(g, sv + 4n)]
      yield* change(g, kq, kev(b, EVFILT_READ, EV_ADD, notes.NOTE_LOWAT, 4))
      yield* write(g, a, "abc")
      assert.deepStrictEqual(yield* ready(g, kq), [])
      yield* write(g, a, "d")
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => e.data), [4n])
    }))

  it.effect("a listening socket counts the connections waiting to be accepted; an unconnected stream is not writable", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const sun = new Uint8Array(106)
      sun[0] = 106
      sun[1] = so.AF_LOCAL
      sun.set(text("/tmp/sock"), 2)
      const l = yield* ok(g, SYS.__socket30, so.AF_LOCAL, so.SOCK_STREAM, 0)
      yield* ok(g, SYS.bind, l, g.mem.alloc(sun), sun.length)
      yield* ok(g, SYS.listen, l, 5)
      const c1 = yield* ok(g, SYS.__socket30, so.AF_LOCAL, so.SOCK_STREAM, 0)
      yield* change(g, kq, kev(l, EVFILT_READ, EV_ADD), kev(c1, EVFILT_WRITE, EV_ADD))
      assert.deepStrictEqual(yield* ready(g, kq), [])
      yield* ok(g, SYS.connect, c1, g.mem.alloc(sun), sun.length)
      const c2 = yield* ok(g, SYS.__socket30, so.AF_LOCAL, so.SOCK_STREAM, 0)
      yield* ok(g, SYS.connect, c2, g.mem.alloc(sun), sun.length)
      // in the order they became active: c1 connected, then the listener had it queued
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => [e.ident, e.filter, e.data]), [[c1, EVFILT_WRITE, 8192n], [l, EVFILT_READ, 2n]])
    }))
})

describe("EVFILT_VNODE and EVFILT_READ on files", () => {
  const ALL = NOTE_DELETE | NOTE_WRITE | NOTE_EXTEND | NOTE_ATTRIB | NOTE_LINK | NOTE_RENAME | NOTE_REVOKE

  it.effect("a file: NOTE_WRITE|NOTE_EXTEND after a write, NOTE_ATTRIB after chmod, NOTE_LINK, NOTE_RENAME, NOTE_DELETE", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const fd = yield* open(g, "/tmp/f", O_CREAT | O_RDWR)
      yield* change(g, kq, kev(fd, EVFILT_VNODE, EV_ADD | EV_CLEAR, ALL))
      const fflags = Effect.map(poll(g, kq), (r) => r.events.map((e) => e.fflags))
      assert.deepStrictEqual(yield* fflags, [])
      yield* write(g, fd, "hello")
      assert.deepStrictEqual(yield* fflags, [NOTE_WRITE | NOTE_EXTEND])
      yield* ok(g, SYS.pwrite, fd, g.mem.alloc(text("J")), 1, 0, 0)
      assert.deepStrictEqual(yield* fflags, [NOTE_WRITE], "a write inside the file")
      yield* ok(g, SYS.fchmod, fd, 0o600)
      assert.deepStrictEqual(yield* fflags, [NOTE_ATTRIB])
      yield* ok(g, SYS.link, path(g, "/tmp/f"), path(g, "/tmp/g"))
      assert.deepStrictEqual(yield* fflags, [NOTE_LINK])
      yield* ok(g, SYS.rename, path(g, "/tmp/g"), path(g, "/tmp/h"))
      assert.deepStrictEqual(yield* fflags, [NOTE_RENAME])
      yield* ok(g, SYS.unlink, path(g, "/tmp/h"))
      assert.deepStrictEqual(yield* fflags, [NOTE_LINK], "one link left")
      yield* ok(g, SYS.ftruncate, fd, 0, 100)
      assert.deepStrictEqual(yield* fflags, [NOTE_EXTEND], "grown by truncate")
      yield* ok(g, SYS.ftruncate, fd, 0, 10)
      assert.deepStrictEqual(yield* fflags, [], "shrinking tells nothing")
      yield* ok(g, SYS.unlink, path(g, "/tmp/f"))
      assert.deepStrictEqual(yield* fflags, [NOTE_DELETE])
    }))

  it.effect("only the events asked for are recorded; without EV_CLEAR they stay reported; NOTE_REVOKE adds EV_EOF", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const fd = yield* open(g, "/tmp/f", O_CREAT | O_RDWR)
      yield* change(g, kq, kev(fd, EVFILT_VNODE, EV_ADD, NOTE_DELETE | NOTE_ATTRIB | NOTE_REVOKE))
      yield* write(g, fd, "x")
      assert.deepStrictEqual(yield* ready(g, kq), [])
      yield* ok(g, SYS.fchmod, fd, 0o600)
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => e.fflags), [NOTE_ATTRIB])
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => e.fflags), [NOTE_ATTRIB], "still reported")
      const node = g.proc.fds.get(fd)?.file.vnode
      assert.isDefined(node)
      if (node !== undefined) knoteRevoked(node)
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => [e.flags, e.fflags]), [[EV_ADD | EV_EOF, NOTE_ATTRIB | NOTE_REVOKE]])
    }))

  it.effect("directories: NOTE_WRITE for an entry made or removed, NOTE_LINK too for a subdirectory; rmdir is NOTE_DELETE", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      yield* ok(g, SYS.mkdir, path(g, "/tmp/d"), 0o755)
      yield* ok(g, SYS.mkdir, path(g, "/tmp/e"), 0o755)
      const d = yield* open(g, "/tmp/d", O_RDONLY)
      yield* change(g, kq, kev(d, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_WRITE | NOTE_LINK | NOTE_DELETE))
      const fflags = Effect.map(poll(g, kq), (r) => r.events.map((e) => e.fflags))
      const f = yield* open(g, "/tmp/d/f", O_CREAT | O_RDWR)
      assert.deepStrictEqual(yield* fflags, [NOTE_WRITE])
      yield* ok(g, SYS.mkdir, path(g, "/tmp/d/sub"), 0o755)
      assert.deepStrictEqual(yield* fflags, [NOTE_WRITE | NOTE_LINK])
      yield* ok(g, SYS.rmdir, path(g, "/tmp/d/sub"))
      assert.deepStrictEqual(yield* fflags, [NOTE_WRITE | NOTE_LINK])
      // a file moved to another directory is taken out of this one (and, as tmpfs does, loses its last link for a moment)
      yield* change(g, kq, kev(f, EVFILT_VNODE, EV_ADD | EV_CLEAR, NOTE_DELETE | NOTE_RENAME | NOTE_LINK))
      yield* ok(g, SYS.rename, path(g, "/tmp/d/f"), path(g, "/tmp/e/f"))
      assert.deepStrictEqual((yield* poll(g, kq)).events.map((e) => [Number(e.ident), e.fflags]), [[f, NOTE_DELETE | NOTE_RENAME], [d, NOTE_WRITE]])
      yield* ok(g, SYS.rmdir, path(g, "/tmp/d"))
      assert.deepStrictEqual(yield* fflags, [NOTE_DELETE])
    }))

  it.effect("EVFILT_READ on a file: data is size minus offset, looked at when the file changes or the knote is added; EVFILT_WRITE is EINVAL", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const fd = yield* open(g, "/tmp/f", O_CREAT | O_RDWR)
      yield* write(g, fd, "12345")
      yield* change(g, kq, kev(fd, EVFILT_READ, EV_ADD))
      assert.deepStrictEqual(yield* ready(g, kq), [], "at the end: nothing to read")
      yield* ok(g, SYS.lseek, fd, 0, 1, 0)
      assert.deepStrictEqual(yield* ready(g, kq), [], "a seek tells the knote nothing")
      yield* ok(g, SYS.pwrite, fd, g.mem.alloc(text("67")), 2, 0, 5)
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => e.data), [6n])
      yield* ok(g, SYS.lseek, fd, 0, 9, 0)
      yield* change(g, kq, kev(fd, EVFILT_READ, EV_ADD))
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => e.data), [-2n], "past the end")
      assert.strictEqual(yield* change(g, kq, kev(fd, EVFILT_WRITE, EV_ADD)), Errno.EINVAL)
    }))

  it.effect("devices: /dev/null is always readable and writable (EINVAL for EVFILT_VNODE); the console is EOPNOTSUPP", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const nul = yield* open(g, "/dev/null", O_RDWR)
      yield* change(g, kq, kev(nul, EVFILT_READ, EV_ADD), kev(nul, EVFILT_WRITE, EV_ADD))
      assert.deepStrictEqual((yield* ready(g, kq)).map((e) => [e.filter, e.data]), [[EVFILT_READ, 0n], [EVFILT_WRITE, 0n]])
      assert.strictEqual(yield* change(g, kq, kev(nul, EVFILT_VNODE, EV_ADD, NOTE_WRITE)), Errno.EINVAL)
      assert.strictEqual(yield* change(g, kq, kev(1, EVFILT_WRITE, EV_ADD)), Errno.EOPNOTSUPP)
    }))
})

describe("EVFILT_PROC", () => {
  it.effect("NOTE_FORK, NOTE_EXEC and NOTE_EXIT (with EV_EOF, EV_ONESHOT and status 0); EV_CLEAR is set", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      const kq = yield* kqueue(a)
      yield* change(a, kq, kev(b.pid, EVFILT_PROC, EV_ADD, NOTE_EXIT | NOTE_FORK | NOTE_EXEC, 0, 9))
      assert.deepStrictEqual(yield* ready(a, kq), [])
      yield* k.guest({ parent: b, mode: "copy" })
      assert.deepStrictEqual(yield* ready(a, kq), [{ ident: b.pid, filter: EVFILT_PROC, flags: EV_ADD | EV_CLEAR, fflags: NOTE_FORK, data: 0n }])
      yield* k.hypervisor.execNotify(b.handle, "b2")
      assert.deepStrictEqual((yield* ready(a, kq)).map((e) => e.fflags), [NOTE_EXEC])
      yield* k.hypervisor.releaseProcess(b.handle)
      const exit = yield* poll(a, kq)
      assert.deepStrictEqual(exit.events.map((e) => [brief(e), e.udata]), [[
        { ident: b.pid, filter: EVFILT_PROC, flags: EV_ADD | EV_CLEAR | EV_EOF | EV_ONESHOT, fflags: NOTE_EXIT >>> 0, data: 0n },
        9n
      ]])
      assert.deepStrictEqual(yield* ready(a, kq), [])
      assert.strictEqual(k.kernel.stats().knotes, 0)
    }))

  it.effect("events not asked for are not recorded, but the exit always ends the knote; NOTE_TRACK cannot follow a prefork", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      const c = yield* k.guest()
      const kq = yield* kqueue(a)
      yield* change(a, kq, kev(b.pid, EVFILT_PROC, EV_ADD, NOTE_EXEC), kev(c.pid, EVFILT_PROC, EV_ADD, NOTE_FORK | NOTE_TRACK))
      yield* k.guest({ parent: b, mode: "copy" })
      yield* k.guest({ parent: c, mode: "copy" })
      assert.deepStrictEqual((yield* ready(a, kq)).map((e) => [e.ident, e.fflags]), [[c.pid, NOTE_FORK | NOTE_TRACKERR]])
      yield* k.hypervisor.releaseProcess(b.handle)
      assert.deepStrictEqual((yield* ready(a, kq)).map((e) => [e.ident, e.flags, e.fflags]), [[b.pid, EV_ADD | EV_CLEAR | EV_EOF | EV_ONESHOT, 0]])
    }))

  it.effect("ESRCH for no such process; EACCES for another user's unless root", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      const kq = yield* kqueue(a)
      assert.strictEqual(yield* change(a, kq, kev(9999, EVFILT_PROC, EV_ADD, NOTE_EXIT)), Errno.ESRCH)
      yield* k.hypervisor.releaseProcess(b.handle)
      assert.strictEqual(yield* change(a, kq, kev(b.pid, EVFILT_PROC, EV_ADD, NOTE_EXIT)), Errno.ESRCH)
      const c = yield* k.guest()
      setUid(a, 1000)
      assert.strictEqual(yield* change(a, kq, kev(c.pid, EVFILT_PROC, EV_ADD, NOTE_EXIT)), Errno.EACCES)
      assert.strictEqual(yield* change(a, kq, kev(1, EVFILT_PROC, EV_ADD, NOTE_EXIT)), Errno.EACCES, "init is root's")
      setUid(c, 1000)
      assert.strictEqual(yield* change(a, kq, kev(c.pid, EVFILT_PROC, EV_ADD, NOTE_EXIT)), 0)
      setUid(a, 0)
      assert.strictEqual(yield* change(a, kq, kev(1, EVFILT_PROC, EV_ADD, NOTE_EXIT)), 0)
    }))
})

describe("EVFILT_TIMER", () => {
  it.live("a 10 ms one-shot timer fires with data 1 (EV_CLEAR set), and its knote is gone", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      const t0 = performance.now()
      const res = yield* kevent(g, kq, [kev(7, EVFILT_TIMER, EV_ADD | EV_ONESHOT, 0, 10, 3)], 4)
      // one tick: the next tick boundary, at most 10 ms away
      assert.isTrue(performance.now() - t0 < 2000, `fired after ${performance.now() - t0} ms`)
      assert.deepStrictEqual(res.events.map((e) => [brief(e), e.udata]), [[
        { ident: 7, filter: EVFILT_TIMER, flags: EV_ADD | EV_ONESHOT | EV_CLEAR, fflags: 0, data: 1n },
        3n
      ]])
      assert.deepStrictEqual([k.kernel.stats().knotes, k.kernel.stats().timers], [0, 0])
    }))

  it.live("a periodic timer counts its expirations between collections; EV_DELETE stops it", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      yield* change(g, kq, kev(1, EVFILT_TIMER, EV_ADD, 0, 20))
      yield* Effect.sleep("210 millis")
      const n = (yield* poll(g, kq)).events.map((e) => e.data)
      assert.strictEqual(n.length, 1)
      // each expiry sets the next a period from its own tick, so a late one delays the rest: fewer, never more
      assert.isTrue((n[0] ?? 0n) >= 5n && (n[0] ?? 0n) <= 11n, `${n[0]} expirations of a 20 ms timer in 210 ms`)
      assert.deepStrictEqual(yield* ready(g, kq), [], "cleared when collected")
      assert.strictEqual(k.kernel.stats().timers, 1)
      yield* change(g, kq, kev(1, EVFILT_TIMER, EV_DELETE))
      assert.deepStrictEqual([k.kernel.stats().knotes, k.kernel.stats().timers], [0, 0])
    }))

  it.live("a negative period is a huge unsigned one (kn_sdata is a uintptr_t, amd64's mstohz wraps at 64 bits): it does not fire", () =>
    Effect.gen(function*() {
      const { k, g, kq } = yield* guestWithKqueue()
      assert.strictEqual(yield* change(g, kq, kev(1, EVFILT_TIMER, EV_ADD, 0, -5), kev(2, EVFILT_TIMER, EV_ADD, 0, 10)), 0)
      yield* Effect.sleep("100 millis")
      assert.deepStrictEqual((yield* poll(g, kq)).events.map((e) => e.ident), [2n], "only the 10 ms one")
      assert.strictEqual(k.kernel.stats().timers, 2, "the other is still armed")
    }))

  it("mstohz as amd64's: ms * hz / 1000 in 64-bit unsigned arithmetic, then the int's low 32 bits", () => {
    assert.strictEqual(mstohz(5n), 0)
    assert.strictEqual(mstohz(10n), 1)
    assert.strictEqual(mstohz(131_075n), 13_107, "no 32-bit split past 0x20000 ms (sys/param.h's would give 13100)")
    assert.strictEqual(mstohz(-5n), 1_271_310_319)
    assert.strictEqual(mstohz(1n << 40n), -1_717_986_919)
  })

  it.effect("0 ms is EINVAL; at most kq_calloutmax - 1 at once (ENOMEM), for the whole kernel", () =>
    Effect.gen(function*() {
      const k = yield* boot({ maxKqueueTimers: 4 })
      const a = yield* k.guest()
      const b = yield* k.guest()
      const kqa = yield* kqueue(a)
      const kqb = yield* kqueue(b)
      assert.strictEqual(yield* change(a, kqa, kev(1, EVFILT_TIMER, EV_ADD, 0, 0)), Errno.EINVAL)
      assert.strictEqual(yield* change(a, kqa, kev(1, EVFILT_TIMER, EV_ADD, 0, 1000), kev(2, EVFILT_TIMER, EV_ADD, 0, -5)), 0)
      assert.strictEqual(yield* change(b, kqb, kev(1, EVFILT_TIMER, EV_ADD, 0, 1000)), 0)
      assert.strictEqual(yield* change(b, kqb, kev(2, EVFILT_TIMER, EV_ADD, 0, 1000)), Errno.ENOMEM)
      yield* ok(a, SYS.close, kqa)
      assert.strictEqual(yield* change(b, kqb, kev(2, EVFILT_TIMER, EV_ADD, 0, 1000)), 0)
    }))
})
