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

  it.effect("root only: EPERM for another uid, before the boot string is looked at, and no halt", () =>
    Effect.gen(function*() {
      const k = yield* boot({ guest: { uid: 1000, gid: 100 } })
      const g = yield* k.guest()
      assert.strictEqual((yield* g.call(SYS.reboot, rebootFlags.RB_HALT, 0)).error, Errno.EPERM)
      assert.strictEqual((yield* g.call(SYS.reboot, rebootFlags.RB_STRING, 0x10n)).error, Errno.EPERM)
      assert.isTrue(Option.isNone(yield* Deferred.poll(k.kernel.state.halt)))
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
