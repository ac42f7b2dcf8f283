import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { Cred } from "../src/kauth/Cred.ts"
import { boot, type Guest, i32s, peek } from "./support/SyscallHarness.ts"

const NO_ID = 0xffffffff

/** getuid/getgid give the real id and, in retval[1], the effective one. */
const ids = (g: Guest) =>
  Effect.gen(function*() {
    const u = yield* g.call(SYS.getuid)
    const gr = yield* g.call(SYS.getgid)
    return {
      uid: Number(u.retval0),
      euid: Number(u.retval1),
      gid: Number(gr.retval0),
      egid: Number(gr.retval1),
      geteuid: Number((yield* g.call(SYS.geteuid)).retval0),
      getegid: Number((yield* g.call(SYS.getegid)).retval0)
    }
  })

const setgroups = (g: Guest, groups: ReadonlyArray<number>) => g.call(SYS.setgroups, groups.length, g.mem.alloc(i32s(...groups)))

describe("credentials of a new guest", () => {
  it.effect("root by default: every id 0, no supplementary groups, not set-id tainted", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.deepStrictEqual(yield* ids(g), { uid: 0, euid: 0, gid: 0, egid: 0, geteuid: 0, getegid: 0 })
      assert.deepStrictEqual(yield* g.call(SYS.getgroups, 0, 0), { error: 0, retval0: 0n, retval1: 0n })
      assert.strictEqual((yield* g.call(SYS.issetugid)).retval0, 0n)
    }))

  it.effect("the kernel's guest credentials (sysproxy-server --guest-uid/--guest-gid)", () =>
    Effect.gen(function*() {
      const k = yield* boot({ guest: { uid: 1000, gid: 100 } })
      const g = yield* k.guest()
      assert.deepStrictEqual(yield* ids(g), { uid: 1000, euid: 1000, gid: 100, egid: 100, geteuid: 1000, getegid: 100 })
      assert.strictEqual(g.proc.cred.svuid, 1000)
      assert.strictEqual(k.kernel.state.init.cred.euid, 0, "init stays root")
    }))
})

describe("setuid, seteuid, setreuid", () => {
  it.effect("root's setuid sets all three; afterwards setuid(0) is EPERM and the process is tainted", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* g.call(SYS.setuid, 1000)).error, 0)
      assert.deepStrictEqual([g.proc.cred.uid, g.proc.cred.euid, g.proc.cred.svuid], [1000, 1000, 1000])
      assert.strictEqual((yield* g.call(SYS.setuid, 0)).error, Errno.EPERM)
      assert.strictEqual((yield* g.call(SYS.seteuid, 0)).error, Errno.EPERM)
      assert.strictEqual((yield* g.call(SYS.setuid, 1000)).error, 0, "to its own real uid is allowed")
      assert.strictEqual((yield* g.call(SYS.issetugid)).retval0, 1n)
    }))

  it.effect("issetugid is 1 after any set*id call, even one that changes nothing", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      for (const [n, ...args] of [[SYS.setuid, 0], [SYS.setgid, 0], [SYS.seteuid, 0], [SYS.setegid, 0], [SYS.setreuid, NO_ID, NO_ID], [
        SYS.setregid,
        NO_ID,
        NO_ID
      ]] as const) {
        const g = yield* k.guest()
        const before = g.proc.cred
        assert.strictEqual((yield* g.call(n, ...args)).error, 0)
        assert.strictEqual(g.proc.cred, before, "nothing changed: the same credentials")
        assert.strictEqual((yield* g.call(SYS.issetugid)).retval0, 1n, `after syscall ${n}`)
      }
    }))

  it.effect("seteuid: to the real or the saved uid, and back; the real uid stays", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      // real 1000, effective and saved 0 (a set-user-id root program run by 1000)
      g.proc.cred = new Cred({ uid: 1000, euid: 0, svuid: 0, gid: 0, egid: 0, svgid: 0, groups: [] })
      assert.strictEqual((yield* g.call(SYS.seteuid, 1000)).error, 0)
      assert.deepStrictEqual((yield* ids(g)).euid, 1000)
      assert.strictEqual((yield* g.call(SYS.seteuid, 5)).error, Errno.EPERM, "neither real nor saved")
      assert.strictEqual((yield* g.call(SYS.seteuid, 0)).error, 0, "back to the saved uid")
      assert.deepStrictEqual([g.proc.cred.uid, g.proc.cred.euid, g.proc.cred.svuid], [1000, 0, 0])
    }))

  it.effect("setreuid: -1 keeps an id; changing the real uid sets the saved uid to the new euid; a swap without root", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* g.call(SYS.setreuid, 1000, 2000)).error, 0)
      assert.deepStrictEqual([g.proc.cred.uid, g.proc.cred.euid, g.proc.cred.svuid], [1000, 2000, 2000])
      // unprivileged now: swapping real and effective is allowed, the real uid changed so saved = new euid
      assert.strictEqual((yield* g.call(SYS.setreuid, 2000, 1000)).error, 0)
      assert.deepStrictEqual([g.proc.cred.uid, g.proc.cred.euid, g.proc.cred.svuid], [2000, 1000, 1000])
      assert.strictEqual((yield* g.call(SYS.setreuid, NO_ID, 2000)).error, 0)
      assert.deepStrictEqual([g.proc.cred.uid, g.proc.cred.euid, g.proc.cred.svuid], [2000, 2000, 1000])
      assert.strictEqual((yield* g.call(SYS.setreuid, 3000, NO_ID)).error, Errno.EPERM)
      assert.deepStrictEqual([g.proc.cred.uid, g.proc.cred.euid, g.proc.cred.svuid], [2000, 2000, 1000], "unchanged")
    }))
})

describe("setgid, setegid, setregid", () => {
  it.effect("the same rules on the gids; a non-root process keeps its uid", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* g.call(SYS.setgid, 100)).error, 0)
      assert.strictEqual((yield* g.call(SYS.setuid, 1000)).error, 0)
      assert.deepStrictEqual(yield* ids(g), { uid: 1000, euid: 1000, gid: 100, egid: 100, geteuid: 1000, getegid: 100 })
      assert.strictEqual((yield* g.call(SYS.setgid, 0)).error, Errno.EPERM)
      assert.strictEqual((yield* g.call(SYS.setegid, 0)).error, Errno.EPERM)
      assert.strictEqual((yield* g.call(SYS.setregid, 0, NO_ID)).error, Errno.EPERM)
      assert.strictEqual((yield* g.call(SYS.setgid, 100)).error, 0)
    }))

  it.effect("setregid changes the real gid and moves the saved gid to the new egid", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* g.call(SYS.setregid, 10, 20)).error, 0)
      assert.deepStrictEqual([g.proc.cred.gid, g.proc.cred.egid, g.proc.cred.svgid], [10, 20, 20])
      assert.strictEqual((yield* g.call(SYS.setegid, 10)).error, 0)
      assert.deepStrictEqual([g.proc.cred.gid, g.proc.cred.egid, g.proc.cred.svgid], [10, 10, 20])
    }))
})

describe("getgroups and setgroups", () => {
  it.effect("root sets up to 16 groups; getgroups counts with size 0 and copies them out", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* setgroups(g, [5, 6, 7])).error, 0)
      assert.strictEqual((yield* g.call(SYS.getgroups, 0, 0)).retval0, 3n)
      const buf = g.mem.alloc(16)
      assert.strictEqual((yield* g.call(SYS.getgroups, 4, buf)).retval0, 3n)
      assert.deepStrictEqual(peek(g, buf, 16), i32s(5, 6, 7, 0))
      const sixteen = Array.from({ length: 16 }, (_, i) => 100 + i)
      assert.strictEqual((yield* setgroups(g, sixteen)).error, 0)
      assert.deepStrictEqual(g.proc.cred.groups, sixteen)
      assert.strictEqual((yield* setgroups(g, [])).error, 0)
      assert.strictEqual((yield* g.call(SYS.getgroups, 0, 0)).retval0, 0n)
      assert.strictEqual((yield* g.call(SYS.issetugid)).retval0, 1n)
    }))

  it.effect("EINVAL: 17 groups, a negative count, getgroups with a buffer too small or a negative size", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* setgroups(g, Array.from({ length: 17 }, (_, i) => i))).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.setgroups, -1, g.mem.alloc(8))).error, Errno.EINVAL)
      assert.strictEqual((yield* setgroups(g, [1, 2])).error, 0)
      assert.strictEqual((yield* g.call(SYS.getgroups, 1, g.mem.alloc(8))).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.getgroups, -1, g.mem.alloc(8))).error, Errno.EINVAL)
    }))

  it.effect("EFAULT for a groups array that faults, on either call; the groups stay", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* setgroups(g, [1, 2])).error, 0)
      assert.strictEqual((yield* g.call(SYS.setgroups, 2, 0x10n)).error, Errno.EFAULT)
      assert.deepStrictEqual(g.proc.cred.groups, [1, 2])
      assert.strictEqual((yield* g.call(SYS.getgroups, 2, 0x10n)).error, Errno.EFAULT)
    }))

  it.effect("a non-root caller is EPERM, but only after the arguments are checked", () =>
    Effect.gen(function*() {
      const k = yield* boot({ guest: { uid: 1000, gid: 100 } })
      const g = yield* k.guest()
      assert.strictEqual((yield* setgroups(g, [100])).error, Errno.EPERM)
      assert.strictEqual((yield* setgroups(g, [])).error, Errno.EPERM)
      assert.strictEqual((yield* setgroups(g, Array.from({ length: 17 }, (_, i) => i))).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.setgroups, 1, 0x10n)).error, Errno.EFAULT)
      assert.strictEqual((yield* g.call(SYS.issetugid)).retval0, 0n, "a refused call taints nothing")
    }))
})

describe("credentials across fork and exec", () => {
  it.effect("a fork child shares its parent's credentials until one of them changes its own, but not its set-id taint", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const parent = yield* k.guest()
      assert.strictEqual((yield* setgroups(parent, [7])).error, 0)
      assert.strictEqual((yield* parent.call(SYS.setgid, 100)).error, 0)
      assert.strictEqual((yield* parent.call(SYS.setuid, 1000)).error, 0)
      const child = yield* k.guest({ parent })
      assert.strictEqual(child.proc.cred, parent.proc.cred, "one shared credential")
      assert.deepStrictEqual(yield* ids(child), { uid: 1000, euid: 1000, gid: 100, egid: 100, geteuid: 1000, getegid: 100 })
      assert.strictEqual((yield* child.call(SYS.getgroups, 0, 0)).retval0, 1n)
      // the rump kernel's lwproc_newproc starts every process with p_flag 0, PK_SUGID included
      assert.strictEqual((yield* parent.call(SYS.issetugid)).retval0, 1n)
      assert.strictEqual((yield* child.call(SYS.issetugid)).retval0, 0n, "the taint is not inherited")
      yield* k.hypervisor.execNotify(child.handle, "next")
      assert.deepStrictEqual((yield* ids(child)).uid, 1000, "exec keeps the credentials")
      // a change in a child is the child's alone (copy on write)
      const root = yield* k.guest()
      const rootChild = yield* k.guest({ parent: root })
      assert.strictEqual((yield* rootChild.call(SYS.setuid, 5)).error, 0)
      assert.strictEqual(rootChild.proc.cred.uid, 5)
      assert.strictEqual(root.proc.cred.uid, 0, "the parent keeps its own")
    }))
})
