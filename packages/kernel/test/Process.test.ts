import { assert, describe, it } from "@effect/vitest"
import { Deferred, Effect, Option } from "effect"
import { Errno, rebootFlags, SYS } from "@sysproxy/protocol/netbsd"
import { boot } from "./support/SyscallHarness.ts"

describe("process identity", () => {
  it.effect("getpid gives pid and ppid; the first guest is 2 under init, the next 3", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      assert.deepStrictEqual(yield* a.call(SYS.getpid), { error: 0, retval0: 2n, retval1: 1n })
      assert.deepStrictEqual(yield* b.call(SYS.getpid), { error: 0, retval0: 3n, retval1: 1n })
      const child = yield* k.guest({ parent: a })
      assert.deepStrictEqual(yield* child.call(SYS.getpid), { error: 0, retval0: 4n, retval1: 2n })
      assert.strictEqual((yield* child.call(SYS.getppid)).retval0, 2n)
      assert.strictEqual((yield* a.call(SYS.getppid)).retval0, 1n)
    }))

  it.effect("uid and gid are the process's credentials (0 for a guest)", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      for (const n of [SYS.getuid, SYS.geteuid, SYS.getgid, SYS.getegid]) {
        assert.deepStrictEqual(yield* g.call(n), { error: 0, retval0: 0n, retval1: 0n })
      }
      g.proc.uid = 1000
      g.proc.gid = 100
      assert.strictEqual((yield* g.call(SYS.getuid)).retval0, 1000n)
      assert.strictEqual((yield* g.call(SYS.geteuid)).retval0, 1000n)
      assert.strictEqual((yield* g.call(SYS.getgid)).retval0, 100n)
      assert.strictEqual((yield* g.call(SYS.getegid)).retval0, 100n)
    }))
})

describe("process groups and sessions", () => {
  it.effect("getpgrp, getpgid and getsid: 0 is the caller, ESRCH for no such process", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      const child = yield* k.guest({ parent: a })
      assert.strictEqual((yield* a.call(SYS.getpgrp)).retval0, BigInt(a.pid))
      assert.strictEqual((yield* child.call(SYS.getpgrp)).retval0, BigInt(a.pid), "a fork child is in its parent's group")
      assert.strictEqual((yield* child.call(SYS.getsid, 0)).retval0, BigInt(a.pid))
      assert.strictEqual((yield* a.call(SYS.getsid, b.pid)).retval0, BigInt(b.pid))
      assert.strictEqual((yield* a.call(SYS.getpgid, child.pid)).retval0, BigInt(a.pid))
      assert.strictEqual((yield* a.call(SYS.getpgid, 0)).retval0, BigInt(a.pid))
      assert.strictEqual((yield* a.call(SYS.getsid, 999)).error, Errno.ESRCH)
      assert.strictEqual((yield* a.call(SYS.getpgid, 999)).error, Errno.ESRCH)
      yield* k.hypervisor.releaseProcess(b.handle)
      assert.strictEqual((yield* a.call(SYS.getsid, b.pid)).error, Errno.ESRCH, "a released process is gone")
    }))

  it.effect("setsid: EPERM for a group leader; a fork child gets its own session and group", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      assert.strictEqual((yield* a.call(SYS.setsid)).error, Errno.EPERM)
      const child = yield* k.guest({ parent: a })
      const r = yield* child.call(SYS.setsid)
      assert.deepStrictEqual(r, { error: 0, retval0: BigInt(child.pid), retval1: 0n })
      assert.strictEqual((yield* child.call(SYS.getsid, 0)).retval0, BigInt(child.pid))
      assert.strictEqual((yield* child.call(SYS.getpgrp)).retval0, BigInt(child.pid))
      assert.strictEqual((yield* a.call(SYS.getsid, 0)).retval0, BigInt(a.pid), "the parent's session is unchanged")
      assert.strictEqual((yield* child.call(SYS.setsid)).error, Errno.EPERM)
    }))

  it.effect("setsid: EPERM when another process's group is named after the caller", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const child = yield* k.guest({ parent: a })
      // make a a non-leader whose pid still names child's group
      a.proc.pgid = 1
      assert.strictEqual((yield* a.call(SYS.setsid)).error, Errno.EPERM)
      child.proc.pgid = child.pid
      assert.strictEqual((yield* a.call(SYS.setsid)).retval0, BigInt(a.pid))
    }))
})

describe("reboot", () => {
  it.effect("asks the server to halt with the flags and the calling lwp, and answers 0", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.isTrue(Option.isNone(yield* Deferred.poll(k.kernel.state.halt)))
      const lwp = yield* g.newLwp()
      const r = yield* g.callIn(lwp, SYS.reboot, rebootFlags.RB_HALT, 0)
      assert.deepStrictEqual(r, { error: 0, retval0: 0n, retval1: 0n })
      const halt = yield* k.hypervisor.awaitHalt
      assert.strictEqual(halt.howto, rebootFlags.RB_HALT)
      assert.strictEqual(halt.lwp, lwp)
    }))

  it.effect("RB_STRING needs a readable boot string: EFAULT without one, and no halt", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* g.call(SYS.reboot, rebootFlags.RB_STRING, 0x10n)).error, Errno.EFAULT)
      assert.isTrue(Option.isNone(yield* Deferred.poll(k.kernel.state.halt)))
      assert.strictEqual((yield* g.call(SYS.reboot, rebootFlags.RB_STRING, g.mem.allocString("netbsd -s"))).error, 0)
      assert.strictEqual((yield* k.hypervisor.awaitHalt).howto, rebootFlags.RB_STRING)
    }))
})
