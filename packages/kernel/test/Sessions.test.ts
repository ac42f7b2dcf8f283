import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { boot, decode, type Guest, peek, text } from "./support/SyscallHarness.ts"

const pgrpOf = (g: Guest) => Effect.map(g.call(SYS.getpgrp), (r) => Number(r.retval0))
const sidOf = (g: Guest, pid = 0) => Effect.map(g.call(SYS.getsid, pid), (r) => Number(r.retval0))

describe("process groups and sessions of new guests", () => {
  it.effect("a new guest is in group 0 of session 0 and leads neither: its first setsid returns its pid, a second is EPERM", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      assert.strictEqual(yield* pgrpOf(a), 0)
      assert.strictEqual(yield* sidOf(a), 0)
      assert.strictEqual((yield* a.call(SYS.getpgid, 0)).retval0, 0n)
      assert.strictEqual((yield* a.call(SYS.getpgid, b.pid)).retval0, 0n)
      assert.deepStrictEqual(yield* a.call(SYS.setsid), { error: 0, retval0: BigInt(a.pid), retval1: 0n })
      assert.strictEqual(yield* pgrpOf(a), a.pid)
      assert.strictEqual(yield* sidOf(a), a.pid)
      assert.strictEqual(yield* sidOf(b, a.pid), a.pid)
      assert.strictEqual(yield* sidOf(b), 0, "the other guest stays in session 0")
      assert.strictEqual((yield* a.call(SYS.setsid)).error, Errno.EPERM)
    }))

  it.effect("getpgid and getsid: ESRCH for no such process and for a released one", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      assert.strictEqual((yield* a.call(SYS.getsid, 999)).error, Errno.ESRCH)
      assert.strictEqual((yield* a.call(SYS.getpgid, 999)).error, Errno.ESRCH)
      assert.strictEqual((yield* a.call(SYS.getpgid, -1)).error, Errno.ESRCH)
      yield* k.hypervisor.releaseProcess(b.handle)
      assert.strictEqual((yield* a.call(SYS.getsid, b.pid)).error, Errno.ESRCH)
      assert.strictEqual((yield* a.call(SYS.getpgid, b.pid)).error, Errno.ESRCH)
    }))
})

describe("setpgid", () => {
  it.effect("a fork child starts in its parent's group, makes its own, and may rejoin its parent's", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const parent = yield* k.guest()
      assert.strictEqual((yield* parent.call(SYS.setsid)).error, 0)
      const child = yield* k.guest({ parent })
      assert.strictEqual(yield* pgrpOf(child), parent.pid)
      assert.strictEqual(yield* sidOf(child), parent.pid)
      assert.strictEqual((yield* child.call(SYS.setpgid, 0, 0)).error, 0)
      assert.strictEqual(yield* pgrpOf(child), child.pid)
      assert.strictEqual(yield* sidOf(child), parent.pid, "the same session")
      assert.strictEqual((yield* child.call(SYS.setpgid, child.pid, parent.pid)).error, 0)
      assert.strictEqual(yield* pgrpOf(child), parent.pid)
      assert.isFalse(k.kernel.state.pgrps.holds(child.pid), "its own group went with its last member")
    }))

  it.effect("a parent moves its child until the child exec's (EACCES)", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const parent = yield* k.guest()
      const child = yield* k.guest({ parent })
      assert.strictEqual((yield* parent.call(SYS.setpgid, child.pid, 0)).error, 0)
      assert.strictEqual(child.proc.pgid, child.pid)
      assert.strictEqual((yield* parent.call(SYS.setpgid, child.pid, parent.pid)).error, Errno.EPERM, "no group of that id")
      yield* k.hypervisor.execNotify(child.handle, "exec'd")
      assert.strictEqual((yield* parent.call(SYS.setpgid, child.pid, child.pid)).error, Errno.EACCES)
    }))

  it.effect("EINVAL for a negative pgid; ESRCH for no such process or one that is not a descendant", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      assert.strictEqual((yield* a.call(SYS.setpgid, 0, -1)).error, Errno.EINVAL)
      assert.strictEqual((yield* a.call(SYS.setpgid, 999, 0)).error, Errno.ESRCH)
      assert.strictEqual((yield* a.call(SYS.setpgid, b.pid, 0)).error, Errno.ESRCH)
      assert.strictEqual((yield* a.call(SYS.setpgid, 1, 0)).error, Errno.ESRCH, "init is nobody's descendant here")
      assert.strictEqual(b.proc.pgid, 0)
    }))

  it.effect("EPERM: a new group must be named after the process; a session leader stays (its own group is a no-op); a child in another session", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      assert.strictEqual((yield* a.call(SYS.setpgid, 0, 4242)).error, Errno.EPERM)
      const child = yield* k.guest({ parent: a })
      assert.strictEqual((yield* a.call(SYS.setsid)).error, 0)
      assert.strictEqual((yield* a.call(SYS.setpgid, 0, 0)).error, 0, "the leader into its own group: nothing to do")
      assert.strictEqual((yield* a.call(SYS.setpgid, 0, child.pid)).error, Errno.EPERM)
      // the child stayed in session 0: its parent may no longer move it
      assert.strictEqual((yield* a.call(SYS.setpgid, child.pid, 0)).error, Errno.EPERM)
      assert.strictEqual((yield* a.call(SYS.setpgid, child.pid, a.pid)).error, Errno.EPERM)
      // nor may the leader join another group of its own session
      const later = yield* k.guest({ parent: a })
      assert.strictEqual((yield* later.call(SYS.setpgid, 0, 0)).error, 0)
      assert.strictEqual((yield* a.call(SYS.setpgid, 0, later.pid)).error, Errno.EPERM)
      assert.strictEqual((yield* a.call(SYS.getpgrp)).retval0, BigInt(a.pid))
    }))

  it.effect("joining an existing group of the session; a process moving itself is not held to its session (NetBSD's quirk)", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      assert.strictEqual((yield* b.call(SYS.setpgid, 0, 0)).error, 0)
      assert.strictEqual((yield* a.call(SYS.setpgid, 0, b.pid)).error, 0)
      assert.strictEqual(yield* pgrpOf(a), b.pid)
      const c = yield* k.guest()
      assert.strictEqual((yield* c.call(SYS.setsid)).error, 0)
      // proc_enterpgrp checks the target group's session only when moving another process
      assert.strictEqual((yield* a.call(SYS.setpgid, 0, c.pid)).error, 0)
      assert.strictEqual(yield* sidOf(a), c.pid)
    }))
})

describe("setsid", () => {
  it.effect("EPERM while another process's group is named after the caller; fine once it is gone", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      assert.strictEqual((yield* a.call(SYS.setpgid, 0, 0)).error, 0)
      const child = yield* k.guest({ parent: a })
      assert.strictEqual((yield* b.call(SYS.setpgid, 0, 0)).error, 0)
      assert.strictEqual((yield* a.call(SYS.setpgid, 0, b.pid)).error, 0)
      // a left its group, but its child is still in it
      assert.strictEqual((yield* a.call(SYS.setsid)).error, Errno.EPERM)
      yield* k.hypervisor.releaseProcess(child.handle)
      assert.strictEqual((yield* a.call(SYS.setsid)).retval0, BigInt(a.pid))
    }))

  it.effect("a session's first group outlives its members while the session does: not joinable, its id not free", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const leader = yield* k.guest()
      assert.strictEqual((yield* leader.call(SYS.setsid)).error, 0)
      const child = yield* k.guest({ parent: leader })
      assert.strictEqual((yield* child.call(SYS.setpgid, 0, 0)).error, 0)
      yield* k.hypervisor.releaseProcess(leader.handle)
      assert.isTrue(k.kernel.state.pgrps.holds(leader.pid))
      assert.strictEqual(yield* sidOf(child), leader.pid)
      assert.strictEqual((yield* child.call(SYS.setpgid, 0, leader.pid)).error, Errno.EPERM)
      yield* k.hypervisor.releaseProcess(child.handle)
      assert.isFalse(k.kernel.state.pgrps.holds(leader.pid), "gone with the session's last group")
      assert.isFalse(k.kernel.state.pgrps.holds(child.pid))
    }))
})

describe("__getlogin and __setlogin", () => {
  const login = (g: Guest, len: number) =>
    Effect.gen(function*() {
      const buf = g.mem.alloc(new Uint8Array(24).fill(0xff))
      const r = yield* g.call(SYS.__getlogin, buf, len)
      return { error: r.error, bytes: peek(g, buf, 24) }
    })

  it.effect("the session's name: root sets it, every process of the session reads it; a short buffer truncates", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      const empty = yield* login(a, 32)
      assert.strictEqual(empty.error, 0)
      assert.deepStrictEqual(empty.bytes.subarray(0, 17), new Uint8Array([...new Uint8Array(16), 0xff]), "16 bytes copied")
      assert.strictEqual((yield* a.call(SYS.__setlogin, a.mem.allocString("alice"))).error, 0)
      const full = yield* login(b, 17)
      assert.strictEqual(decode(full.bytes.subarray(0, 6)), "alice\0")
      const short = yield* login(b, 3)
      assert.strictEqual(short.error, 0)
      assert.deepStrictEqual(short.bytes.subarray(0, 4), new Uint8Array([...text("ali"), 0xff]))
      assert.strictEqual((yield* login(b, -1)).bytes[16], 0xff, "a negative length is taken as unsigned: 16")
      assert.strictEqual((yield* login(b, 0)).bytes[0], 0xff)
    }))

  it.effect("16 characters fit (no NUL); 17 or 40 are EINVAL; EFAULT; a non-root caller is EPERM first", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      assert.strictEqual((yield* a.call(SYS.__setlogin, a.mem.allocString("x".repeat(16)))).error, 0)
      assert.deepStrictEqual((yield* login(a, 24)).bytes.subarray(0, 17), new Uint8Array([...text("x".repeat(16)), 0xff]))
      assert.strictEqual((yield* a.call(SYS.__setlogin, a.mem.allocString("y".repeat(17)))).error, Errno.EINVAL)
      assert.strictEqual((yield* a.call(SYS.__setlogin, a.mem.allocString("z".repeat(40)))).error, Errno.EINVAL)
      assert.strictEqual((yield* a.call(SYS.__setlogin, 0x10n)).error, Errno.EFAULT)
      assert.strictEqual((yield* a.call(SYS.__getlogin, 0x10n, 8)).error, Errno.EFAULT)
      assert.strictEqual(decode((yield* login(a, 1)).bytes.subarray(0, 1)), "x", "unchanged by the failures")
      assert.strictEqual((yield* a.call(SYS.setuid, 1000)).error, 0)
      assert.strictEqual((yield* a.call(SYS.__setlogin, a.mem.allocString("bob"))).error, Errno.EPERM)
      assert.strictEqual((yield* a.call(SYS.__setlogin, 0x10n)).error, Errno.EPERM)
    }))

  it.effect("setsid starts a session with the old one's name; a change there stays there", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      assert.strictEqual((yield* a.call(SYS.__setlogin, a.mem.allocString("root"))).error, 0)
      assert.strictEqual((yield* a.call(SYS.setsid)).error, 0)
      assert.strictEqual(decode((yield* login(a, 5)).bytes.subarray(0, 5)), "root\0")
      assert.strictEqual((yield* a.call(SYS.__setlogin, a.mem.allocString("daemon"))).error, 0)
      assert.strictEqual(decode((yield* login(b, 5)).bytes.subarray(0, 5)), "root\0")
    }))
})
