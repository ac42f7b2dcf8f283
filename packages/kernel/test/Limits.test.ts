import { assert, describe, it } from "@effect/vitest"
import { Effect, Result } from "effect"
import { makeLocalMemory } from "@sysproxy/hypervisor"
import { Errno, fcntlCmds, openFlags, rlimit, signals, SYS } from "@sysproxy/protocol/netbsd"
import { boot, type Guest, peek, text, u64s } from "./support/SyscallHarness.ts"

const INF = rlimit.RLIM_INFINITY
const MiB = 1024n * 1024n

const getrlimit = (g: Guest, which: number) =>
  Effect.gen(function*() {
    const buf = g.mem.alloc(16)
    const r = yield* g.call(SYS.getrlimit, which, buf)
    const v = new DataView(peek(g, buf, 16).buffer)
    return { error: r.error, cur: v.getBigUint64(0, true), max: v.getBigUint64(8, true) }
  })

const setrlimit = (g: Guest, which: number, cur: bigint | number, max: bigint | number) =>
  Effect.map(g.call(SYS.setrlimit, which, g.mem.alloc(u64s(cur, max))), (r) => r.error)

describe("getrlimit", () => {
  it.effect("a new guest has the rump kernel's proc0 limits", () =>
    Effect.gen(function*() {
      const k = yield* boot({ physmem: 300 * 1024 * 1024 })
      const g = yield* k.guest()
      const mem = 300n * MiB
      const expected: Record<number, readonly [bigint, bigint]> = {
        [rlimit.RLIMIT_CPU]: [INF, INF],
        [rlimit.RLIMIT_FSIZE]: [INF, INF],
        [rlimit.RLIMIT_DATA]: [INF, INF],
        [rlimit.RLIMIT_STACK]: [4n * MiB, 128n * MiB],
        [rlimit.RLIMIT_CORE]: [INF, INF],
        [rlimit.RLIMIT_RSS]: [INF, INF],
        [rlimit.RLIMIT_MEMLOCK]: [mem / 3n, mem],
        [rlimit.RLIMIT_NPROC]: [160n, 532n],
        [rlimit.RLIMIT_NOFILE]: [128n, 1772n],
        [rlimit.RLIMIT_SBSIZE]: [INF, INF],
        [rlimit.RLIMIT_AS]: [INF, INF],
        [rlimit.RLIMIT_NTHR]: [160n, 2048n]
      }
      for (let which = 0; which < rlimit.RLIM_NLIMITS; which++) {
        const l = yield* getrlimit(g, which)
        assert.strictEqual(l.error, 0)
        assert.deepStrictEqual([l.cur, l.max], expected[which], `limit ${which}`)
      }
    }))

  it.effect("EINVAL for an unknown limit (12, -1); EFAULT for a pointer that faults", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* getrlimit(g, rlimit.RLIM_NLIMITS)).error, Errno.EINVAL)
      assert.strictEqual((yield* getrlimit(g, -1)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.getrlimit, rlimit.RLIMIT_NOFILE, 0x10n)).error, Errno.EFAULT)
    }))
})

describe("setrlimit", () => {
  it.effect("root: RLIM_INFINITY for RLIMIT_NOFILE is clamped to 1772/1772; NPROC to 532; NTHR to 2048; the stack to 128 MiB in whole pages", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_NOFILE, INF, INF), 0)
      assert.deepStrictEqual(yield* getrlimit(g, rlimit.RLIMIT_NOFILE), { error: 0, cur: 1772n, max: 1772n })
      assert.strictEqual(g.proc.fds.limit, 1772, "the descriptor table follows")
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_NPROC, 1000, 2000), 0)
      assert.deepStrictEqual(yield* getrlimit(g, rlimit.RLIMIT_NPROC), { error: 0, cur: 532n, max: 532n })
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_NTHR, INF, INF), 0)
      assert.deepStrictEqual(yield* getrlimit(g, rlimit.RLIMIT_NTHR), { error: 0, cur: 2048n, max: 2048n }, "maxlwp")
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_STACK, 5000, INF), 0)
      assert.deepStrictEqual(yield* getrlimit(g, rlimit.RLIMIT_STACK), { error: 0, cur: 8192n, max: 128n * MiB })
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_CPU, 10, 20), 0)
      assert.deepStrictEqual(yield* getrlimit(g, rlimit.RLIMIT_CPU), { error: 0, cur: 10n, max: 20n })
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_CPU, INF, INF), 0, "root raises a hard limit again")
    }))

  it.effect("EINVAL for a soft limit above the hard one and an unknown limit; EFAULT; the struct is read first", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_NOFILE, 200, 100), Errno.EINVAL)
      assert.strictEqual(yield* setrlimit(g, 12, 1, 1), Errno.EINVAL)
      assert.strictEqual(yield* setrlimit(g, -1, 1, 1), Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.setrlimit, 12, 0x10n)).error, Errno.EFAULT)
      assert.deepStrictEqual(yield* getrlimit(g, rlimit.RLIMIT_NOFILE), { error: 0, cur: 128n, max: 1772n })
    }))

  it.effect("unprivileged: soft limits move below the hard one, a hard limit only down (EPERM up); the same values are fine", () =>
    Effect.gen(function*() {
      const k = yield* boot({ guest: { uid: 1000, gid: 100 } })
      const g = yield* k.guest()
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_NOFILE, 1772, 1772), 0)
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_NOFILE, 64, 500), 0)
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_NOFILE, 64, 501), Errno.EPERM)
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_NOFILE, INF, INF), Errno.EPERM)
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_NOFILE, 500, 500), 0)
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_NOFILE, 500, 500), 0)
      assert.deepStrictEqual(yield* getrlimit(g, rlimit.RLIMIT_NOFILE), { error: 0, cur: 500n, max: 500n })
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_CORE, 0, 0), 0)
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_CORE, 0, 1), Errno.EPERM)
    }))

  it.effect("inherited by fork; a change in the child is the child's", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const parent = yield* k.guest()
      assert.strictEqual(yield* setrlimit(parent, rlimit.RLIMIT_NOFILE, 40, 1000), 0)
      const child = yield* k.guest({ parent })
      assert.deepStrictEqual(yield* getrlimit(child, rlimit.RLIMIT_NOFILE), { error: 0, cur: 40n, max: 1000n })
      assert.strictEqual(child.proc.fds.limit, 40)
      assert.strictEqual(yield* setrlimit(child, rlimit.RLIMIT_NOFILE, 20, 1000), 0)
      assert.deepStrictEqual(yield* getrlimit(parent, rlimit.RLIMIT_NOFILE), { error: 0, cur: 40n, max: 1000n })
      assert.strictEqual(parent.proc.fds.limit, 40)
    }))
})

describe("RLIMIT_NOFILE", () => {
  it.effect("with the soft limit at 12 a fresh guest opens 9 files, then EMFILE; dup2 and F_DUPFD stop at 12", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_NOFILE, 12, 1772), 0)
      const path = g.mem.allocString("/dev/null")
      for (let fd = 3; fd < 12; fd++) {
        assert.deepStrictEqual(yield* g.call(SYS.open, path, openFlags.O_RDONLY), { error: 0, retval0: BigInt(fd), retval1: 0n })
      }
      assert.strictEqual((yield* g.call(SYS.open, path, openFlags.O_RDONLY)).error, Errno.EMFILE)
      assert.strictEqual((yield* g.call(SYS.pipe)).error, Errno.EMFILE)
      assert.strictEqual((yield* g.call(SYS.dup, 0)).error, Errno.EMFILE)
      assert.strictEqual((yield* g.call(SYS.dup2, 0, 12)).error, Errno.EBADF)
      assert.strictEqual((yield* g.call(SYS.fcntl, 0, fcntlCmds.F_DUPFD, 12)).error, Errno.EINVAL)
      // lowering it below what is open closes nothing; raising it makes room again
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_NOFILE, 5, 1772), 0)
      assert.strictEqual(g.proc.fds.size, 12)
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_NOFILE, 13, 1772), 0)
      assert.strictEqual((yield* g.call(SYS.open, path, openFlags.O_RDONLY)).retval0, 12n)
    }))
})

describe("RLIMIT_FSIZE", () => {
  it.effect("a write reaching past it is refused whole with EFBIG and a SIGXFSZ; one below it is written", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_FSIZE, 10, INF), 0)
      const fd = Number((yield* g.call(SYS.open, g.mem.allocString("/tmp/f"), openFlags.O_RDWR | openFlags.O_CREAT, 0o644)).retval0)
      assert.strictEqual((yield* g.call(SYS.write, fd, g.mem.alloc(text("12345678")), 8)).retval0, 8n)
      assert.strictEqual((yield* g.call(SYS.write, fd, g.mem.alloc(text("abc")), 3)).error, Errno.EFBIG)
      assert.deepStrictEqual(g.mem.signals, [signals.SIGXFSZ])
      assert.strictEqual((yield* g.call(SYS.write, fd, g.mem.alloc(text("ab")), 2)).retval0, 2n, "exactly at the limit")
      const st = g.mem.alloc(152)
      assert.strictEqual((yield* g.call(SYS.__fstat50, fd, st)).error, 0)
      assert.strictEqual(new DataView(peek(g, st + 112n, 8).buffer).getBigInt64(0, true), 10n, "st_size")
    }))
})

describe("RLIMIT_NPROC", () => {
  it.effect("an unprivileged process cannot fork past it (the prefork is refused with EAGAIN); root can", () =>
    Effect.gen(function*() {
      const k = yield* boot({ guest: { uid: 1000, gid: 100 } })
      const g = yield* k.guest()
      yield* k.guest()
      assert.strictEqual(yield* setrlimit(g, rlimit.RLIMIT_NPROC, 3, 532), 0)
      const fork = () =>
        Effect.result(k.hypervisor.rfork({ client: makeLocalMemory().service, mode: "copy", parent: g.handle }))
      assert.isTrue(Result.isSuccess(yield* fork()), "the third process of uid 1000")
      const refused = yield* fork()
      assert.isTrue(Result.isFailure(refused))
      if (Result.isFailure(refused)) assert.strictEqual(refused.failure.errno, Errno.EAGAIN)
      const root = yield* boot()
      const r = yield* root.guest()
      assert.strictEqual(yield* setrlimit(r, rlimit.RLIMIT_NPROC, 1, 532), 0)
      const rootFork = yield* Effect.result(root.hypervisor.rfork({ client: makeLocalMemory().service, mode: "copy", parent: r.handle }))
      assert.isTrue(Result.isSuccess(rootFork), "root is exempt")
    }))
})
