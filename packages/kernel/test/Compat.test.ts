import { assert, describe, it } from "@effect/vitest"
import { Errno, signals, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { boot } from "./support/SyscallHarness.ts"

const NOMODULE = [
  SYS.compat_50_mknod,
  SYS.compat_50_select,
  SYS.compat_50_utimes,
  SYS.compat_50_futimes,
  SYS.compat_50_lutimes,
  SYS.compat_50_kevent,
  SYS.compat_50_pselect,
  SYS.compat_50_pollts,
  SYS.compat_50___stat30,
  SYS.compat_50___fstat30,
  SYS.compat_50___lstat30,
  SYS.compat_50___fhstat40,
  SYS.nfssvc
]

describe("entries of modules the rump kernel lacks (sys_nomodule)", () => {
  it.effect("each answers ENOSYS and raises SIGSYS at the caller's client, without being counted as unimplemented", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const other = yield* k.guest()
      for (const [i, number] of NOMODULE.entries()) {
        const r = yield* g.call(number, g.mem.allocString("/tmp/x"), 0, 0)
        assert.deepStrictEqual(r, { error: Errno.ENOSYS, retval0: -1n, retval1: 0n }, `syscall ${number}`)
        assert.strictEqual(g.mem.signals.length, i + 1)
      }
      assert.isTrue(g.mem.signals.every((s) => s === signals.SIGSYS))
      assert.deepStrictEqual(other.mem.signals, [], "only the caller")
      assert.strictEqual(k.kernel.stats().unimplemented.size, 0)
      // nothing was done: the old stat did not look the path up, the old mknod made nothing
      assert.strictEqual((yield* g.call(SYS.access, g.mem.allocString("/tmp/x"), 0)).error, Errno.ENOENT)
    }))

  it.effect("a number in no table answers ENOSYS with no signal", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* g.call(SYS.exit, 0)).error, Errno.ENOSYS)
      assert.deepStrictEqual(g.mem.signals, [])
    }))
})
