import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Errno, signals, SYS } from "@sysproxy/protocol/netbsd"
import { boot } from "./support/SyscallHarness.ts"

const { SIGUSR1, SIGUSR2, SIGTERM, SIGHUP } = signals

describe("kill", () => {
  it.effect("raises the signal on the target's client only", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      assert.deepStrictEqual(yield* a.call(SYS.kill, b.pid, SIGUSR1), { error: 0, retval0: 0n, retval1: 0n })
      assert.deepStrictEqual(b.mem.signals, [SIGUSR1])
      assert.deepStrictEqual(a.mem.signals, [])
      yield* a.call(SYS.kill, a.pid, SIGUSR2)
      assert.deepStrictEqual(a.mem.signals, [SIGUSR2])
    }))

  it.effect("signal 0 only checks that the process exists", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      assert.strictEqual((yield* a.call(SYS.kill, b.pid, 0)).error, 0)
      assert.deepStrictEqual(b.mem.signals, [])
      assert.strictEqual((yield* a.call(SYS.kill, 999, 0)).error, Errno.ESRCH)
      yield* k.hypervisor.releaseProcess(b.handle)
      assert.strictEqual((yield* a.call(SYS.kill, b.pid, 0)).error, Errno.ESRCH)
    }))

  it.effect("EINVAL for a signal outside 0..63, ESRCH for no such pid", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      assert.strictEqual((yield* a.call(SYS.kill, b.pid, 64)).error, Errno.EINVAL)
      assert.strictEqual((yield* a.call(SYS.kill, b.pid, -1)).error, Errno.EINVAL)
      assert.strictEqual((yield* a.call(SYS.kill, 999, SIGTERM)).error, Errno.ESRCH)
      assert.strictEqual((yield* a.call(SYS.kill, b.pid, 63)).error, 0)
      assert.deepStrictEqual(b.mem.signals, [63])
    }))

  it.effect("init has no client: EPERM for a signal, but signal 0 finds it", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      assert.strictEqual((yield* a.call(SYS.kill, 1, SIGTERM)).error, Errno.EPERM)
      assert.strictEqual((yield* a.call(SYS.kill, 1, 0)).error, 0)
    }))

  it.effect("pid 0 signals the caller's process group, the caller included", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      // a group of a's own, which its fork child joins; b stays in group 0
      assert.strictEqual((yield* a.call(SYS.setsid)).error, 0)
      const child = yield* k.guest({ parent: a })
      const b = yield* k.guest()
      assert.strictEqual((yield* child.call(SYS.kill, 0, SIGHUP)).error, 0)
      assert.deepStrictEqual(a.mem.signals, [SIGHUP])
      assert.deepStrictEqual(child.mem.signals, [SIGHUP])
      assert.deepStrictEqual(b.mem.signals, [])
    }))

  it.effect("pid < -1 signals group -pid; ESRCH for an empty group", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      assert.strictEqual((yield* a.call(SYS.setsid)).error, 0)
      const child = yield* k.guest({ parent: a })
      const b = yield* k.guest()
      assert.strictEqual((yield* b.call(SYS.kill, -a.pid, SIGUSR1)).error, 0)
      assert.deepStrictEqual(a.mem.signals, [SIGUSR1])
      assert.deepStrictEqual(child.mem.signals, [SIGUSR1])
      assert.deepStrictEqual(b.mem.signals, [])
      assert.strictEqual((yield* b.call(SYS.kill, -999, SIGUSR1)).error, Errno.ESRCH)
      assert.strictEqual((yield* b.call(SYS.kill, -a.pid, 0)).error, 0)
      assert.deepStrictEqual(a.mem.signals, [SIGUSR1], "signal 0 sends nothing")
    }))

  it.effect("pid -1 signals every process but init and the caller; ESRCH when there is none", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      assert.strictEqual((yield* a.call(SYS.kill, -1, SIGTERM)).error, Errno.ESRCH)
      const b = yield* k.guest()
      const c = yield* k.guest()
      assert.strictEqual((yield* a.call(SYS.kill, -1, SIGTERM)).error, 0)
      assert.deepStrictEqual(a.mem.signals, [])
      assert.deepStrictEqual(b.mem.signals, [SIGTERM])
      assert.deepStrictEqual(c.mem.signals, [SIGTERM])
    }))
})
