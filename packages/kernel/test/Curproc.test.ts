/**
 * sysctl proc.<pid> (proc.curproc): the process's own limits, read and
 * written as getrlimit/setrlimit do them, the core name and the stop
 * flags, with kauth's rules for a caller that is not root.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Errno, rlimit, SYS, sysctlTop } from "@sysproxy/protocol/netbsd"
import { Cred } from "../src/kauth/Cred.ts"
import { boot, decode, type Guest, i32s, peek, peekU64, setUid, text, u64s } from "./support/SyscallHarness.ts"

const PROC_CURPROC = 0x7fff_ffff
const PROC_PID_CORENAME = 1
const PROC_PID_LIMIT = 2
const PROC_PID_STOPFORK = 3
const SOFT = 1
const HARD = 2
const INF = rlimit.RLIM_INFINITY

const limitMib = (pid: number, which: number, type: number) => [sysctlTop.CTL_PROC, pid, PROC_PID_LIMIT, which + 1, type]

/** __sysctl with an old buffer of `oldSize` bytes (none: 0) and a new value (none: undefined). */
const sysctl = (g: Guest, mib: ReadonlyArray<number>, oldSize: number, newValue?: Uint8Array) =>
  Effect.gen(function*() {
    const oldp = oldSize === 0 ? 0n : g.mem.alloc(oldSize)
    const oldlenp = g.mem.alloc(u64s(oldSize))
    const newp = newValue === undefined ? 0n : g.mem.alloc(newValue)
    const r = yield* g.call(SYS.__sysctl, g.mem.alloc(i32s(...mib)), mib.length, oldp, oldlenp, newp, newValue?.length ?? 0)
    const oldlen = Number(peekU64(g, oldlenp))
    return { error: r.error, bytes: oldp === 0n ? new Uint8Array(0) : peek(g, oldp, Math.min(oldSize, oldlen)) }
  })

const readQuad = (g: Guest, mib: ReadonlyArray<number>) =>
  Effect.map(sysctl(g, mib, 8), (r) => {
    assert.strictEqual(r.error, 0, `reading ${mib.join(".")}`)
    return new DataView(r.bytes.buffer, r.bytes.byteOffset, 8).getBigUint64(0, true)
  })

const writeQuad = (g: Guest, mib: ReadonlyArray<number>, value: bigint) => Effect.map(sysctl(g, mib, 0, u64s(value)), (r) => r.error)

const getrlimit = (g: Guest, which: number) =>
  Effect.gen(function*() {
    const buf = g.mem.alloc(16)
    assert.strictEqual((yield* g.call(SYS.getrlimit, which, buf)).error, 0)
    return [peekU64(g, buf), peekU64(g, buf + 8n)]
  })

const nul = (s: string) => new Uint8Array([...text(s), 0])
const corename = (g: Guest, pid = PROC_CURPROC) =>
  Effect.map(sysctl(g, [sysctlTop.CTL_PROC, pid, PROC_PID_CORENAME], 1024), (r) => ({
    error: r.error,
    name: decode(r.bytes.subarray(0, Math.max(0, r.bytes.indexOf(0))))
  }))
const setCorename = (g: Guest, name: string, pid = PROC_CURPROC) =>
  Effect.map(sysctl(g, [sysctlTop.CTL_PROC, pid, PROC_PID_CORENAME], 0, nul(name)), (r) => r.error)

describe("proc.curproc.rlimit", () => {
  it.effect("reads the process's own limits, as getrlimit does (the rump kernel's proc0 values for a new guest)", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual(yield* readQuad(g, limitMib(PROC_CURPROC, rlimit.RLIMIT_NOFILE, SOFT)), 128n)
      assert.strictEqual(yield* readQuad(g, limitMib(PROC_CURPROC, rlimit.RLIMIT_NOFILE, HARD)), 1772n)
      assert.strictEqual(yield* readQuad(g, limitMib(PROC_CURPROC, rlimit.RLIMIT_NPROC, SOFT)), 160n)
      assert.strictEqual(yield* readQuad(g, limitMib(PROC_CURPROC, rlimit.RLIMIT_STACK, HARD)), 128n * 1024n * 1024n)
      assert.strictEqual(yield* readQuad(g, limitMib(g.pid, rlimit.RLIMIT_CPU, SOFT)), INF, "by its pid too")
      assert.strictEqual((yield* g.call(SYS.setrlimit, rlimit.RLIMIT_NOFILE, g.mem.alloc(u64s(20, 100)))).error, 0)
      assert.strictEqual(yield* readQuad(g, limitMib(PROC_CURPROC, rlimit.RLIMIT_NOFILE, SOFT)), 20n)
      assert.strictEqual(yield* readQuad(g, limitMib(PROC_CURPROC, rlimit.RLIMIT_NOFILE, HARD)), 100n)
    }))

  it.effect("a write is setrlimit's: getrlimit and the descriptor table see it; soft above hard EINVAL; clamped as dosetrlimit", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual(yield* writeQuad(g, limitMib(PROC_CURPROC, rlimit.RLIMIT_NOFILE, SOFT), 10n), 0)
      assert.deepStrictEqual(yield* getrlimit(g, rlimit.RLIMIT_NOFILE), [10n, 1772n])
      assert.strictEqual(g.proc.fds.limit, 10)
      assert.strictEqual(yield* writeQuad(g, limitMib(PROC_CURPROC, rlimit.RLIMIT_NOFILE, HARD), 5n), Errno.EINVAL, "hard below soft")
      assert.strictEqual(yield* writeQuad(g, limitMib(PROC_CURPROC, rlimit.RLIMIT_NOFILE, HARD), INF), 0)
      assert.deepStrictEqual(yield* getrlimit(g, rlimit.RLIMIT_NOFILE), [10n, 1772n], "maxfiles")
      assert.strictEqual(yield* writeQuad(g, limitMib(PROC_CURPROC, rlimit.RLIMIT_NTHR, HARD), INF), 0)
      assert.deepStrictEqual(yield* getrlimit(g, rlimit.RLIMIT_NTHR), [160n, 2048n], "maxlwp")
    }))

  it.effect("unprivileged (CTLFLAG_ANYWRITE): its own limits go down, a hard limit never up (EPERM); another user's process EPERM, a missing one ESRCH", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const root = yield* k.guest()
      const g = yield* k.guest()
      setUid(g, 1000)
      assert.strictEqual(yield* writeQuad(g, limitMib(PROC_CURPROC, rlimit.RLIMIT_NOFILE, SOFT), 12n), 0)
      assert.strictEqual(yield* writeQuad(g, limitMib(PROC_CURPROC, rlimit.RLIMIT_NOFILE, HARD), 100n), 0)
      assert.deepStrictEqual(yield* getrlimit(g, rlimit.RLIMIT_NOFILE), [12n, 100n])
      assert.strictEqual(yield* writeQuad(g, limitMib(PROC_CURPROC, rlimit.RLIMIT_NOFILE, HARD), 101n), Errno.EPERM)
      assert.strictEqual(yield* writeQuad(g, limitMib(root.pid, rlimit.RLIMIT_NOFILE, SOFT), 12n), Errno.EPERM)
      assert.strictEqual(yield* writeQuad(g, limitMib(99_999, rlimit.RLIMIT_NOFILE, SOFT), 12n), Errno.ESRCH)
      // root may set another process's limits
      assert.strictEqual(yield* writeQuad(root, limitMib(g.pid, rlimit.RLIMIT_NOFILE, SOFT), 50n), 0)
      assert.deepStrictEqual(yield* getrlimit(g, rlimit.RLIMIT_NOFILE), [50n, 100n])
    }))

  it.effect("proc_uidmatch: a caller whose real uid is the target's real and saved uid, with the target's gid among its groups, may lower its limits", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      b.proc.cred = Cred.of(1000, 1000)
      a.proc.cred = Cred.of(1000, 1000)
      assert.strictEqual(yield* writeQuad(a, limitMib(b.pid, rlimit.RLIMIT_NOFILE, SOFT), 12n), Errno.EPERM, "not in the group")
      a.proc.cred = Cred.of(1000, 1000, [1000])
      assert.strictEqual(yield* writeQuad(a, limitMib(b.pid, rlimit.RLIMIT_NOFILE, SOFT), 12n), 0)
      assert.deepStrictEqual(yield* getrlimit(b, rlimit.RLIMIT_NOFILE), [12n, 1772n])
      assert.strictEqual(yield* writeQuad(a, limitMib(b.pid, rlimit.RLIMIT_NOFILE, HARD), INF), Errno.EPERM, "never up")
    }))
})

describe("proc.curproc.corename", () => {
  it.effect("%n.core at first; \"core\", \"/core\" and \"*.core\" are taken, anything else is EINVAL; a fork child shares it", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.deepStrictEqual(yield* corename(g), { error: 0, name: "%n.core" })
      for (const bad of ["", "cor", "xcore", "/tmp/core.x", "a-core"]) assert.strictEqual(yield* setCorename(g, bad), Errno.EINVAL, bad)
      for (const good of ["core", "/core", "/tmp/%n.%p.core"]) {
        assert.strictEqual(yield* setCorename(g, good), 0, good)
        assert.deepStrictEqual(yield* corename(g), { error: 0, name: good })
      }
      const child = yield* k.guest({ parent: g })
      assert.deepStrictEqual(yield* corename(child), { error: 0, name: "/tmp/%n.%p.core" })
      assert.strictEqual(yield* setCorename(child, "child.core"), 0)
      assert.deepStrictEqual(yield* corename(g), { error: 0, name: "/tmp/%n.%p.core" }, "copy-on-write")
    }))

  it.effect("unprivileged: reading or setting needs proc_uidmatch (its gid among its groups), even for itself", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      g.proc.cred = Cred.of(1000, 1000)
      assert.strictEqual((yield* corename(g)).error, Errno.EPERM)
      assert.strictEqual(yield* setCorename(g, "x.core"), Errno.EPERM)
      g.proc.cred = Cred.of(1000, 1000, [1000])
      assert.strictEqual(yield* setCorename(g, "x.core"), 0)
      assert.deepStrictEqual(yield* corename(g), { error: 0, name: "x.core" })
    }))
})

describe("proc.curproc.stopfork", () => {
  it.effect("reads 0 whatever was set (NetBSD reads p_flag for a p_sflag bit); setting needs root or proc_uidmatch", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const mib = [sysctlTop.CTL_PROC, PROC_CURPROC, PROC_PID_STOPFORK]
      assert.strictEqual((yield* sysctl(g, mib, 0, i32s(1))).error, 0)
      const r = yield* sysctl(g, mib, 4)
      assert.strictEqual(r.error, 0)
      assert.strictEqual(new DataView(r.bytes.buffer, r.bytes.byteOffset, 4).getInt32(0, true), 0)
      g.proc.cred = Cred.of(1000, 1000)
      assert.strictEqual((yield* sysctl(g, mib, 0, i32s(1))).error, Errno.EPERM)
    }))
})
