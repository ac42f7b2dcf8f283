import { assert, describe, it } from "@effect/vitest"
import { decodeFlock, encodeFlock, FLOCK_SIZE } from "@sysproxy/protocol"
import { Errno, fcntlCmds, flockOps, flockTypes, openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect, Fiber } from "effect"
import { boot, type Guest, inLwp, peek, untilAsleep } from "./support/SyscallHarness.ts"
import { Cred } from "../src/kauth/Cred.ts"

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_NONBLOCK, O_SHLOCK, O_EXLOCK } = openFlags
const { LOCK_SH, LOCK_EX, LOCK_NB, LOCK_UN } = flockOps
const { F_RDLCK, F_WRLCK, F_UNLCK } = flockTypes
const { F_GETLK, F_SETLK, F_SETLKW } = fcntlCmds
const SEEK_SET = 0
const SEEK_CUR = 1
const SEEK_END = 2

const open = (g: Guest, path: string, flags: number) =>
  Effect.gen(function*() {
    const r = yield* g.call(SYS.open, g.mem.allocString(path), flags, 0o644)
    assert.strictEqual(r.error, 0, `open ${path}`)
    return Number(r.retval0)
  })

const errno = (g: Guest, number: number, ...args: ReadonlyArray<bigint | number>) =>
  Effect.map(g.call(number, ...args), (r) => r.error)

interface Flock {
  readonly type: number
  readonly whence?: number
  readonly start: bigint | number
  readonly len: bigint | number
  readonly pid?: number
}

const flockBytes = (f: Flock): Uint8Array =>
  encodeFlock({ pid: 0, whence: SEEK_SET, ...f, start: BigInt(f.start), len: BigInt(f.len) })

const readFlock = (g: Guest, addr: bigint) => decodeFlock(peek(g, addr, FLOCK_SIZE))

/** F_GETLK's answer for a write lock of `g`'s process. */
const writeLock = (g: Guest, start: bigint, len: bigint) => ({ type: F_WRLCK, whence: SEEK_SET, start, len, pid: g.pid })

/** fcntl(fd, F_SETLK/F_SETLKW, flock): the errno. */
const setlk = (g: Guest, fd: number, f: Flock, cmd: number = F_SETLK) => errno(g, SYS.fcntl, fd, cmd, g.mem.alloc(flockBytes(f)))

/** fcntl(fd, F_GETLK, flock): the struct as the kernel left it. */
const getlk = (g: Guest, fd: number, f: Flock) =>
  Effect.gen(function*() {
    const addr = g.mem.alloc(flockBytes(f))
    const r = yield* g.call(SYS.fcntl, fd, F_GETLK, addr)
    assert.strictEqual(r.error, 0, "F_GETLK")
    return readFlock(g, addr)
  })

/** Two processes of one kernel, each with the file /tmp/f open read-write. */
const twoProcesses = Effect.gen(function*() {
  const k = yield* boot()
  const a = yield* k.guest()
  const b = yield* k.guest()
  const fa = yield* open(a, "/tmp/f", O_RDWR | O_CREAT)
  const fb = yield* open(b, "/tmp/f", O_RDWR)
  return { k, a, b, fa, fb }
})

describe("flock", () => {
  it.effect("an exclusive lock stops every other open file; shared locks stop only exclusive ones; LOCK_UN lets go", () =>
    Effect.gen(function*() {
      const { a, b, fa, fb } = yield* twoProcesses
      const fa2 = yield* open(a, "/tmp/f", O_RDONLY)
      assert.strictEqual(yield* errno(a, SYS.flock, fa, LOCK_EX), 0)
      assert.strictEqual(yield* errno(b, SYS.flock, fb, LOCK_EX | LOCK_NB), Errno.EAGAIN)
      assert.strictEqual(yield* errno(b, SYS.flock, fb, LOCK_SH | LOCK_NB), Errno.EAGAIN)
      assert.strictEqual(yield* errno(a, SYS.flock, fa2, LOCK_SH | LOCK_NB), Errno.EAGAIN, "another open file of the same process too")
      assert.strictEqual(yield* errno(a, SYS.flock, fa, LOCK_SH), 0, "downgrade")
      assert.strictEqual(yield* errno(b, SYS.flock, fb, LOCK_SH | LOCK_NB), 0)
      assert.strictEqual(yield* errno(a, SYS.flock, fa, LOCK_EX | LOCK_NB), Errno.EAGAIN, "no upgrade past another shared lock")
      assert.strictEqual(yield* errno(b, SYS.flock, fb, LOCK_UN), 0)
      assert.strictEqual(yield* errno(a, SYS.flock, fa, LOCK_EX | LOCK_NB), 0, "the failed upgrade kept its shared lock")
      assert.strictEqual(yield* errno(a, SYS.flock, fa, LOCK_UN), 0)
      assert.strictEqual(yield* errno(b, SYS.flock, fb, LOCK_EX | LOCK_NB), 0)
    }))

  it.effect("the lock belongs to the open file: a dup shares it, it goes when the last descriptor closes", () =>
    Effect.gen(function*() {
      const { a, b, fa, fb } = yield* twoProcesses
      assert.strictEqual(yield* errno(a, SYS.flock, fa, LOCK_EX), 0)
      const dup = Number((yield* a.call(SYS.dup, fa)).retval0)
      assert.strictEqual(yield* errno(a, SYS.flock, dup, LOCK_EX | LOCK_NB), 0, "the same open file")
      yield* a.call(SYS.close, fa)
      assert.strictEqual(yield* errno(b, SYS.flock, fb, LOCK_SH | LOCK_NB), Errno.EAGAIN, "the dup still holds it")
      yield* a.call(SYS.close, dup)
      assert.strictEqual(yield* errno(b, SYS.flock, fb, LOCK_SH | LOCK_NB), 0)
    }))

  it.live("a blocking flock sleeps until the holder lets go; an upgrade gives up its shared lock while it waits", () =>
    Effect.gen(function*() {
      const { a, b, fa, fb } = yield* twoProcesses
      assert.strictEqual(yield* errno(a, SYS.flock, fa, LOCK_SH), 0)
      assert.strictEqual(yield* errno(b, SYS.flock, fb, LOCK_SH), 0)
      const upgrade = yield* inLwp(a, SYS.flock, fa, LOCK_EX)
      yield* untilAsleep(upgrade.lwp)
      // a gave up its shared lock to wait: b's own upgrade goes through at once
      assert.strictEqual(yield* errno(b, SYS.flock, fb, LOCK_EX | LOCK_NB), 0)
      assert.isUndefined(upgrade.fiber.pollUnsafe(), "a still waits")
      assert.strictEqual(yield* errno(b, SYS.flock, fb, LOCK_UN), 0)
      assert.strictEqual((yield* Fiber.join(upgrade.fiber)).error, 0)
      assert.strictEqual(yield* errno(b, SYS.flock, fb, LOCK_SH | LOCK_NB), Errno.EAGAIN)
    }))

  it.live("a blocked flock of a process that is ordered out returns EINTR", () =>
    Effect.gen(function*() {
      const { k, a, b, fa, fb } = yield* twoProcesses
      assert.strictEqual(yield* errno(a, SYS.flock, fa, LOCK_EX), 0)
      const waiter = yield* inLwp(b, SYS.flock, fb, LOCK_EX)
      yield* untilAsleep(waiter.lwp)
      yield* k.hypervisor.lwpExit(b.handle)
      assert.strictEqual((yield* Fiber.join(waiter.fiber)).error, Errno.EINTR)
    }))

  it.effect("EBADF, EINVAL for a bad operation, EOPNOTSUPP on a pipe", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fd = yield* open(g, "/tmp/f", O_RDWR | O_CREAT)
      assert.strictEqual(yield* errno(g, SYS.flock, 99, LOCK_EX), Errno.EBADF)
      for (const how of [0, LOCK_NB, LOCK_SH | LOCK_EX, LOCK_EX | LOCK_UN, 16]) {
        assert.strictEqual(yield* errno(g, SYS.flock, fd, how), Errno.EINVAL, `how ${how}`)
      }
      const p = yield* g.call(SYS.pipe)
      assert.strictEqual(yield* errno(g, SYS.flock, Number(p.retval0), LOCK_EX), Errno.EOPNOTSUPP)
      assert.strictEqual(yield* errno(g, SYS.flock, Number(p.retval0), LOCK_UN), Errno.EOPNOTSUPP)
    }))
})

describe("O_SHLOCK and O_EXLOCK", () => {
  it.effect("open takes the flock lock; O_NONBLOCK makes a conflict EAGAIN, and the refused open leaves no descriptor", () =>
    Effect.gen(function*() {
      const { a, b } = yield* twoProcesses
      const fd = yield* open(a, "/tmp/f", O_RDONLY | O_EXLOCK)
      const before = b.proc.fds.size
      const p = b.mem.allocString("/tmp/f")
      assert.strictEqual(yield* errno(b, SYS.open, p, O_RDONLY | O_SHLOCK | O_NONBLOCK, 0), Errno.EAGAIN)
      assert.strictEqual(yield* errno(b, SYS.open, p, O_RDONLY | O_EXLOCK | O_NONBLOCK, 0), Errno.EAGAIN)
      assert.strictEqual(b.proc.fds.size, before)
      assert.strictEqual(yield* errno(b, SYS.flock, 3, LOCK_SH | LOCK_NB), Errno.EAGAIN, "the lock is flock's")
      yield* a.call(SYS.close, fd)
      yield* open(b, "/tmp/f", O_RDONLY | O_SHLOCK | O_NONBLOCK)
      yield* open(a, "/tmp/f", O_RDONLY | O_SHLOCK | O_NONBLOCK)
    }))

  it.live("without O_NONBLOCK the open waits for the lock", () =>
    Effect.gen(function*() {
      const { a, b, fa } = yield* twoProcesses
      assert.strictEqual(yield* errno(a, SYS.flock, fa, LOCK_EX), 0)
      const opener = yield* inLwp(b, SYS.open, b.mem.allocString("/tmp/f"), O_WRONLY | O_EXLOCK, 0)
      yield* untilAsleep(opener.lwp)
      yield* a.call(SYS.close, fa)
      const r = yield* Fiber.join(opener.fiber)
      assert.strictEqual(r.error, 0)
      assert.strictEqual(yield* errno(a, SYS.flock, yield* open(a, "/tmp/f", O_RDONLY), LOCK_SH | LOCK_NB), Errno.EAGAIN)
    }))
})

describe("fcntl record locks", () => {
  it.effect("locks of one process never stop it; another process is stopped where they overlap; F_GETLK names the lock in the way", () =>
    Effect.gen(function*() {
      const { a, b, fa, fb } = yield* twoProcesses
      assert.strictEqual(yield* setlk(a, fa, { type: F_WRLCK, start: 10, len: 10 }), 0)
      assert.strictEqual(yield* setlk(a, fa, { type: F_WRLCK, start: 0, len: 100 }), 0, "its own locks never conflict")
      assert.strictEqual(yield* setlk(a, fa, { type: F_RDLCK, start: 10, len: 10 }), 0)
      assert.strictEqual(yield* setlk(b, fb, { type: F_RDLCK, start: 15, len: 1 }), 0, "a's lock there is shared now")
      assert.strictEqual(yield* setlk(b, fb, { type: F_RDLCK, start: 0, len: 1 }), Errno.EAGAIN)
      assert.strictEqual(yield* setlk(b, fb, { type: F_WRLCK, start: 200, len: 0 }), 0, "beyond a's range")
      assert.deepStrictEqual(yield* getlk(b, fb, { type: F_RDLCK, start: 0, len: 0 }), writeLock(a, 0n, 10n))
      assert.deepStrictEqual(yield* getlk(a, fa, { type: F_WRLCK, start: 150, len: 0 }), writeLock(b, 200n, 0n))
      const free = yield* getlk(b, fb, { type: F_RDLCK, start: 20, len: 80, whence: SEEK_SET })
      assert.strictEqual(free.type, F_WRLCK, "a's write lock on 20..99")
      assert.strictEqual(free.start, 20n)
      const none = yield* getlk(b, fb, { type: F_RDLCK, start: 10, len: 5, pid: 77 })
      assert.deepStrictEqual(none, { type: F_UNLCK, whence: SEEK_SET, start: 10n, len: 5n, pid: 77 }, "the rest as given")
    }))

  it.effect("a lock of the same type that covers the range stays whole; unlocking splits", () =>
    Effect.gen(function*() {
      const { a, b, fa, fb } = yield* twoProcesses
      assert.strictEqual(yield* setlk(a, fa, { type: F_WRLCK, start: 0, len: 100 }), 0)
      assert.strictEqual(yield* setlk(a, fa, { type: F_WRLCK, start: 10, len: 10 }), 0)
      assert.strictEqual((yield* getlk(b, fb, { type: F_RDLCK, start: 50, len: 1 })).len, 100n, "still one lock")
      assert.strictEqual(yield* setlk(a, fa, { type: F_UNLCK, start: 10, len: 10 }), 0)
      assert.deepStrictEqual(yield* getlk(b, fb, { type: F_RDLCK, start: 0, len: 0 }), writeLock(a, 0n, 10n))
      assert.strictEqual((yield* getlk(b, fb, { type: F_RDLCK, start: 10, len: 10 })).type, F_UNLCK)
      assert.strictEqual((yield* getlk(b, fb, { type: F_RDLCK, start: 19, len: 2 })).start, 20n)
    }))

  it.effect("SEEK_CUR counts from the file offset, SEEK_END from the size; a negative length locks the bytes before", () =>
    Effect.gen(function*() {
      const { a, b, fa, fb } = yield* twoProcesses
      yield* a.call(SYS.write, fa, a.mem.alloc(new Uint8Array(50)), 50)
      assert.strictEqual(yield* setlk(a, fa, { type: F_WRLCK, whence: SEEK_CUR, start: -10, len: 5 }), 0)
      assert.strictEqual((yield* getlk(b, fb, { type: F_RDLCK, start: 0, len: 0 })).start, 40n)
      assert.strictEqual(yield* setlk(a, fa, { type: F_WRLCK, whence: SEEK_END, start: 10, len: -5 }), 0)
      const second = yield* getlk(b, fb, { type: F_RDLCK, start: 50, len: 0 })
      assert.deepStrictEqual([second.start, second.len], [55n, 5n])
    }))

  it.effect("errors: EBADF for a type the file was not opened for, EINVAL for bad types, whences and starts, and for a pipe", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const ro = yield* open(g, "/tmp/f", O_RDONLY | O_CREAT)
      const wo = yield* open(g, "/tmp/f", O_WRONLY)
      assert.strictEqual(yield* setlk(g, ro, { type: F_WRLCK, start: 0, len: 0 }), Errno.EBADF)
      assert.strictEqual(yield* setlk(g, wo, { type: F_RDLCK, start: 0, len: 0 }), Errno.EBADF)
      assert.strictEqual(yield* setlk(g, ro, { type: F_UNLCK, start: 0, len: 0 }), 0, "unlocking needs neither")
      assert.strictEqual(yield* setlk(g, ro, { type: 9, start: 0, len: 0 }), Errno.EINVAL)
      assert.strictEqual(yield* errno(g, SYS.fcntl, ro, F_GETLK, g.mem.alloc(flockBytes({ type: 9, start: 0, len: 0 }))), Errno.EINVAL)
      assert.strictEqual(yield* setlk(g, ro, { type: F_RDLCK, whence: 3, start: 0, len: 0 }), Errno.EINVAL)
      assert.strictEqual(yield* setlk(g, ro, { type: F_RDLCK, start: -1, len: 0 }), Errno.EINVAL)
      assert.strictEqual(yield* setlk(g, ro, { type: F_RDLCK, start: 5, len: -6 }), Errno.EINVAL)
      assert.strictEqual(yield* setlk(g, 99, { type: F_RDLCK, start: 0, len: 0 }), Errno.EBADF)
      assert.strictEqual(yield* errno(g, SYS.fcntl, 99, F_SETLK, 0x10n), Errno.EFAULT, "the struct is read first")
      const p = yield* g.call(SYS.pipe)
      assert.strictEqual(yield* setlk(g, Number(p.retval0), { type: F_RDLCK, start: 0, len: 0 }), Errno.EINVAL)
    }))

  it.effect("closing any descriptor of the file lets go of the process's locks on it; so does the process going", () =>
    Effect.gen(function*() {
      const { k, a, b, fa, fb } = yield* twoProcesses
      assert.strictEqual(yield* setlk(a, fa, { type: F_WRLCK, start: 0, len: 0 }), 0)
      const other = yield* open(a, "/tmp/f", O_RDONLY)
      yield* a.call(SYS.close, other)
      assert.strictEqual(yield* setlk(b, fb, { type: F_WRLCK, start: 0, len: 0 }), 0, "the close released a's lock")
      const c = yield* k.guest()
      const fc = yield* open(c, "/tmp/f", O_RDWR)
      assert.strictEqual(yield* setlk(c, fc, { type: F_WRLCK, start: 0, len: 0 }), Errno.EAGAIN)
      yield* k.hypervisor.releaseProcess(b.handle)
      assert.strictEqual(yield* setlk(c, fc, { type: F_WRLCK, start: 0, len: 0 }), 0)
    }))

  it.effect("flock and record locks on one file stop each other", () =>
    Effect.gen(function*() {
      const { a, b, fa, fb } = yield* twoProcesses
      assert.strictEqual(yield* errno(a, SYS.flock, fa, LOCK_EX), 0)
      assert.strictEqual(yield* setlk(b, fb, { type: F_RDLCK, start: 0, len: 1 }), Errno.EAGAIN)
      const seen = yield* getlk(b, fb, { type: F_RDLCK, start: 7, len: 1 })
      assert.deepStrictEqual(seen, { type: F_WRLCK, whence: SEEK_SET, start: 0n, len: 0n, pid: -1 })
      assert.strictEqual(yield* errno(a, SYS.flock, fa, LOCK_UN), 0)
      assert.strictEqual(yield* setlk(b, fb, { type: F_RDLCK, start: 0, len: 1 }), 0)
      assert.strictEqual(yield* errno(a, SYS.flock, fa, LOCK_EX | LOCK_NB), Errno.EAGAIN)
      assert.strictEqual(yield* errno(a, SYS.flock, fa, LOCK_SH | LOCK_NB), 0)
    }))

  it.live("F_SETLKW sleeps until the lock is free; lwpExit wakes it with EINTR", () =>
    Effect.gen(function*() {
      const { k, a, b, fa, fb } = yield* twoProcesses
      assert.strictEqual(yield* setlk(a, fa, { type: F_WRLCK, start: 0, len: 10 }), 0)
      const waiter = yield* inLwp(b, SYS.fcntl, fb, F_SETLKW, b.mem.alloc(flockBytes({ type: F_WRLCK, start: 5, len: 1 })))
      yield* untilAsleep(waiter.lwp)
      assert.strictEqual(yield* setlk(a, fa, { type: F_UNLCK, start: 0, len: 5 }), 0)
      yield* Effect.sleep("20 millis")
      assert.isUndefined(waiter.fiber.pollUnsafe(), "byte 5 is still a's")
      assert.strictEqual(yield* setlk(a, fa, { type: F_UNLCK, start: 5, len: 1 }), 0)
      assert.strictEqual((yield* Fiber.join(waiter.fiber)).error, 0)
      assert.strictEqual(yield* setlk(a, fa, { type: F_RDLCK, start: 5, len: 1 }), Errno.EAGAIN)

      const again = yield* inLwp(a, SYS.fcntl, fa, F_SETLKW, a.mem.alloc(flockBytes({ type: F_WRLCK, start: 0, len: 0 })))
      yield* untilAsleep(again.lwp)
      yield* k.hypervisor.lwpExit(a.handle)
      assert.strictEqual((yield* Fiber.join(again.fiber)).error, Errno.EINTR)
    }))

  it.live("EDEADLK when the lock waited for is held by a process waiting for the caller", () =>
    Effect.gen(function*() {
      const { a, b, fa, fb } = yield* twoProcesses
      assert.strictEqual(yield* setlk(a, fa, { type: F_WRLCK, start: 0, len: 1 }), 0)
      assert.strictEqual(yield* setlk(b, fb, { type: F_WRLCK, start: 1, len: 1 }), 0)
      const bWaits = yield* inLwp(b, SYS.fcntl, fb, F_SETLKW, b.mem.alloc(flockBytes({ type: F_WRLCK, start: 0, len: 1 })))
      yield* untilAsleep(bWaits.lwp)
      assert.strictEqual(yield* setlk(a, fa, { type: F_WRLCK, start: 1, len: 1 }, F_SETLKW), Errno.EDEADLK)
      assert.strictEqual(yield* setlk(a, fa, { type: F_UNLCK, start: 0, len: 0 }), 0)
      assert.strictEqual((yield* Fiber.join(bWaits.fiber)).error, 0)
    }))

  it.live("no EDEADLK through a process with more than one lwp in the kernel: the cycle is left to wait", () =>
    Effect.gen(function*() {
      const { k, a, b, fa, fb } = yield* twoProcesses
      assert.strictEqual(yield* setlk(a, fa, { type: F_WRLCK, start: 0, len: 1 }), 0)
      assert.strictEqual(yield* setlk(b, fb, { type: F_WRLCK, start: 1, len: 1 }), 0)
      const bWaits = yield* inLwp(b, SYS.fcntl, fb, F_SETLKW, b.mem.alloc(flockBytes({ type: F_WRLCK, start: 0, len: 1 })))
      yield* untilAsleep(bWaits.lwp)
      const bBusy = yield* b.newLwp()
      const aWaits = yield* inLwp(a, SYS.fcntl, fa, F_SETLKW, a.mem.alloc(flockBytes({ type: F_WRLCK, start: 1, len: 1 })))
      yield* untilAsleep(aWaits.lwp)
      assert.isUndefined(aWaits.fiber.pollUnsafe(), "both wait: NetBSD does not look past a multi-threaded process")
      yield* k.hypervisor.releaseLwp(bBusy)
      assert.strictEqual(yield* setlk(b, fb, { type: F_UNLCK, start: 1, len: 1 }), 0)
      assert.strictEqual((yield* Fiber.join(aWaits.fiber)).error, 0)
      assert.strictEqual(yield* setlk(a, fa, { type: F_UNLCK, start: 0, len: 0 }), 0)
      assert.strictEqual((yield* Fiber.join(bWaits.fiber)).error, 0)
    }))

  it.effect("a user holds at most 1024 locks (ENOMEM past them; an unlock that splits may go to twice that); they go with the process", () =>
    Effect.gen(function*() {
      const { k, a, fa } = yield* twoProcesses
      a.proc.cred = Cred.of(1000, 0)
      for (let i = 0; i < 1024; i++) {
        const e = yield* setlk(a, fa, { type: F_WRLCK, start: i * 10, len: 1 })
        if (e !== 0) assert.fail(`lock ${i}: errno ${e}`)
      }
      assert.strictEqual(yield* setlk(a, fa, { type: F_WRLCK, start: 20000, len: 1 }), Errno.ENOMEM)
      assert.strictEqual(yield* setlk(a, fa, { type: F_WRLCK, start: 0, len: 1 }), Errno.ENOMEM, "even one it has")
      assert.strictEqual(yield* setlk(a, fa, { type: F_WRLCK, start: 100000, len: 10 }), Errno.ENOMEM)
      a.proc.cred = Cred.of(0, 0)
      assert.strictEqual(yield* setlk(a, fa, { type: F_WRLCK, start: 100000, len: 10 }), 0, "the superuser's bound is higher")
      a.proc.cred = Cred.of(1000, 0)
      assert.strictEqual(yield* setlk(a, fa, { type: F_UNLCK, start: 100003, len: 2 }), 0, "a split unlock")
      yield* k.hypervisor.releaseProcess(a.handle)
      const c = yield* k.guest()
      const fc = yield* open(c, "/tmp/f", O_RDWR)
      c.proc.cred = Cred.of(1000, 0)
      assert.strictEqual(yield* setlk(c, fc, { type: F_WRLCK, start: 0, len: 1 }), 0, "the count went with the process")
    }))
})

