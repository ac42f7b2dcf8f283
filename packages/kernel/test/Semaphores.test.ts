import { assert, describe, it } from "@effect/vitest"
import { Errno, fcntlCmds, ioctl, openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect, Fiber } from "effect"
import { boot, decode, type Guest, inLwp, peek, peekI32, peekI64, timespec, untilAsleep } from "./support/SyscallHarness.ts"
import { decodeStat } from "./VfsGuest.ts"
import { Cred } from "../src/kauth/Cred.ts"

const { O_CREAT, O_EXCL } = openFlags
const S_IFMT = 0o170000
const S_IFLNK = 0o120000
const S_IFREG = 0o100000

const semInit = (g: Guest, value: number) =>
  Effect.gen(function*() {
    const idp = g.mem.alloc(8)
    assert.strictEqual((yield* g.call(SYS._ksem_init, value, idp)).error, 0)
    return peekI64(g, idp)
  })

const semOpen = (g: Guest, name: string, oflag: number, mode = 0o600, value = 0) =>
  Effect.gen(function*() {
    const idp = g.mem.alloc(8)
    const r = yield* g.call(SYS._ksem_open, g.mem.allocString(name), oflag, mode, value, idp)
    return { error: r.error, id: peekI64(g, idp) }
  })

const value = (g: Guest, id: bigint) =>
  Effect.gen(function*() {
    const out = g.mem.alloc(4)
    assert.strictEqual((yield* g.call(SYS._ksem_getvalue, id, out)).error, 0)
    return peekI32(g, out)
  })

describe("anonymous semaphores", () => {
  it.effect("init, post, trywait, getvalue, destroy; the id is a descriptor", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const id = yield* semInit(g, 2)
      assert.strictEqual(id, 3n, "the lowest free descriptor")
      assert.strictEqual(yield* value(g, id), 2)
      assert.strictEqual((yield* g.call(SYS._ksem_trywait, id)).error, 0)
      assert.strictEqual((yield* g.call(SYS._ksem_trywait, id)).error, 0)
      assert.strictEqual((yield* g.call(SYS._ksem_trywait, id)).error, Errno.EAGAIN)
      assert.strictEqual((yield* g.call(SYS._ksem_post, id)).error, 0)
      assert.strictEqual(yield* value(g, id), 1)
      const sb = g.mem.alloc(152)
      assert.strictEqual((yield* g.call(SYS.__fstat50, id, sb)).error, 0)
      const st = decodeStat(peek(g, sb, 152))
      assert.strictEqual(st.mode & S_IFMT, S_IFREG)
      assert.strictEqual(st.size, 1n)
      assert.strictEqual((yield* g.call(SYS._ksem_destroy, id)).error, 0)
      assert.strictEqual((yield* g.call(SYS._ksem_post, id)).error, Errno.EINVAL, "gone with its descriptor")
      assert.strictEqual((yield* g.call(SYS._ksem_post, 1)).error, Errno.EINVAL, "the console is no semaphore")
      assert.strictEqual((yield* g.call(SYS._ksem_post, 99)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS._ksem_init, 0, 0x10n)).error, Errno.EFAULT)
      assert.isUndefined(g.proc.fds.get(3), "the descriptor was taken back")
    }))

  it.live("wait sleeps until a post (from a fork child sharing the descriptor); lwpExit ends it with EINTR", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const id = yield* semInit(g, 0)
      const child = yield* k.guest({ parent: g, mode: "copy" })
      const waiter = yield* inLwp(g, SYS._ksem_wait, id)
      yield* untilAsleep(waiter.lwp)
      assert.strictEqual((yield* g.call(SYS._ksem_destroy, id)).error, Errno.EBUSY, "someone waits")
      assert.strictEqual((yield* child.call(SYS._ksem_post, id)).error, 0)
      assert.strictEqual((yield* Fiber.join(waiter.fiber)).error, 0)
      assert.strictEqual(yield* value(g, id), 0)
      const again = yield* inLwp(g, SYS._ksem_wait, id)
      yield* untilAsleep(again.lwp)
      yield* k.hypervisor.lwpExit(g.handle)
      assert.strictEqual((yield* Fiber.join(again.fiber)).error, Errno.EINTR)
    }))

  it.live("timedwait: ETIMEDOUT at the deadline; EINVAL for a malformed one", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const id = yield* semInit(g, 0)
      const soon = k.kernel.state.clock.realtimeNs() + 30_000_000n
      const start = Date.now()
      const r = yield* g.call(SYS._ksem_timedwait, id, g.mem.alloc(timespec(soon / 1_000_000_000n, soon % 1_000_000_000n)))
      assert.strictEqual(r.error, Errno.ETIMEDOUT)
      assert.isAtLeast(Date.now() - start, 25)
      assert.strictEqual((yield* g.call(SYS._ksem_timedwait, id, g.mem.alloc(timespec(0, 0)))).error, Errno.ETIMEDOUT)
      assert.strictEqual((yield* g.call(SYS._ksem_timedwait, id, g.mem.alloc(timespec(1, 1_000_000_000)))).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS._ksem_timedwait, id, g.mem.alloc(timespec(-1, 0)))).error, Errno.EINVAL)
      yield* g.call(SYS._ksem_post, id)
      assert.strictEqual((yield* g.call(SYS._ksem_timedwait, id, g.mem.alloc(timespec(0, 0)))).error, 0, "no wait when one is there")
    }))
})

describe("named semaphores", () => {
  it.effect("open creates or finds by name across processes; O_EXCL, ENOENT, bad names; unlink; read gives the name", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      const s = yield* semOpen(a, "/sem", O_CREAT, 0o644, 5)
      assert.strictEqual(s.error, 0)
      const t = yield* semOpen(b, "/sem", 0)
      assert.strictEqual(t.error, 0)
      assert.strictEqual(yield* value(b, t.id), 5)
      assert.strictEqual((yield* b.call(SYS._ksem_trywait, t.id)).error, 0)
      assert.strictEqual(yield* value(a, s.id), 4, "one semaphore")
      assert.strictEqual((yield* semOpen(b, "/sem", O_CREAT | O_EXCL)).error, Errno.EEXIST)
      assert.strictEqual((yield* semOpen(b, "/none", 0)).error, Errno.ENOENT)
      assert.strictEqual((yield* semOpen(b, "bad", O_CREAT)).error, Errno.EINVAL)
      assert.strictEqual((yield* semOpen(b, "/a/b", O_CREAT)).error, Errno.EINVAL)
      assert.strictEqual((yield* semOpen(b, "/", O_CREAT)).error, Errno.EINVAL)
      assert.strictEqual((yield* semOpen(b, "/fifteen-chars-", O_CREAT)).error, Errno.ENAMETOOLONG)
      const buf = a.mem.alloc(32)
      const r = yield* a.call(SYS.read, s.id, buf, 32)
      assert.strictEqual(decode(peek(a, buf, Number(r.retval0))), "/sem")
      const sb = a.mem.alloc(152)
      yield* a.call(SYS.__fstat50, s.id, sb)
      const st = decodeStat(peek(a, sb, 152))
      assert.deepStrictEqual([st.mode, st.nlink], [S_IFLNK | 0o644, 2])
      assert.strictEqual((yield* a.call(SYS._ksem_destroy, s.id)).error, Errno.EINVAL, "named ones are not destroyed")
      assert.strictEqual((yield* a.call(SYS._ksem_unlink, a.mem.allocString("/sem"))).error, 0)
      assert.strictEqual((yield* semOpen(a, "/sem", 0)).error, Errno.ENOENT)
      assert.strictEqual((yield* b.call(SYS._ksem_post, t.id)).error, 0, "still usable through its descriptors")
      assert.strictEqual((yield* a.call(SYS._ksem_unlink, a.mem.allocString("/sem"))).error, Errno.ENOENT)
      assert.strictEqual((yield* a.call(SYS._ksem_close, s.id)).error, 0)
      assert.strictEqual((yield* a.call(SYS._ksem_close, s.id)).error, Errno.EBADF)
    }))

  it.effect("another user needs write permission (EACCES)", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      assert.strictEqual((yield* semOpen(a, "/ro", O_CREAT, 0o444)).error, 0)
      assert.strictEqual((yield* semOpen(a, "/rw", O_CREAT, 0o666)).error, 0)
      b.proc.cred = Cred.of(1000, 1000)
      assert.strictEqual((yield* semOpen(b, "/ro", 0)).error, Errno.EACCES)
      assert.strictEqual((yield* semOpen(b, "/rw", 0)).error, 0)
      assert.strictEqual((yield* b.call(SYS._ksem_unlink, b.mem.allocString("/ro"))).error, Errno.EACCES)
    }))
})

describe("a semaphore's descriptor", () => {
  it.effect("F_SETFL is taken while FNONBLOCK stays; changing it, the owner or any ioctl is EOPNOTSUPP (fnullop_fcntl, fbadop_ioctl)", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const id = Number(yield* semInit(g, 1))
      const fl = (yield* g.call(SYS.fcntl, id, fcntlCmds.F_GETFL)).retval0
      assert.strictEqual((yield* g.call(SYS.fcntl, id, fcntlCmds.F_SETFL, fl)).error, 0)
      assert.strictEqual((yield* g.call(SYS.fcntl, id, fcntlCmds.F_SETFL, Number(fl) | openFlags.O_NONBLOCK)).error, Errno.EOPNOTSUPP)
      assert.strictEqual((yield* g.call(SYS.fcntl, id, fcntlCmds.F_GETFL)).retval0, fl, "left as it was")
      assert.strictEqual((yield* g.call(SYS.fcntl, id, fcntlCmds.F_GETOWN)).error, Errno.EOPNOTSUPP)
      assert.strictEqual((yield* g.call(SYS.ioctl, id, ioctl.FIONBIO, g.mem.alloc(8))).error, Errno.EOPNOTSUPP)
      assert.strictEqual((yield* g.call(SYS.ioctl, id, ioctl.FIONREAD, g.mem.alloc(8))).error, Errno.EOPNOTSUPP)
    }))
})
