import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { clockIds, Errno, openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { boot, callOk, errnoOf, type Guest, peekI32, peekI64, setUid, text, timespec, u64s } from "./support/SyscallHarness.ts"

const { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_VIRTUAL, CLOCK_PROF, CLOCK_PROCESS_CPUTIME_ID } = clockIds
const NS = 1_000_000_000n

const timeval = (sec: bigint | number, usec: number): Uint8Array => {
  const bytes = new Uint8Array(16)
  new DataView(bytes.buffer).setBigInt64(0, BigInt(sec), true)
  new DataView(bytes.buffer).setInt32(8, usec, true)
  return bytes
}

const ok = callOk

const clockNs = (g: Guest, clock: number) =>
  Effect.gen(function*() {
    const tp = g.mem.alloc(16)
    yield* ok(g, SYS.__clock_gettime50, clock, tp)
    return peekI64(g, tp) * NS + peekI64(g, tp + 8n)
  })

const timeofdayNs = (g: Guest) =>
  Effect.gen(function*() {
    const tv = g.mem.alloc(16)
    yield* ok(g, SYS.__gettimeofday50, tv, 0)
    return peekI64(g, tv) * NS + BigInt(peekI32(g, tv + 8n)) * 1000n
  })

/** fstat's st_mtime of `fd`, in ns (struct stat: st_mtimespec at 64). */
const mtimeNs = (g: Guest, fd: bigint) =>
  Effect.gen(function*() {
    const st = g.mem.alloc(152)
    yield* ok(g, SYS.__fstat50, fd, st)
    return peekI64(g, st + 64n) * NS + peekI64(g, st + 72n)
  })

const near = (a: bigint, b: bigint, within: bigint, what: string) =>
  assert.isTrue(a - b < within && b - a < within, `${what}: ${a} vs ${b}`)

/** 2001-09-09T01:46:40Z: far from today, so a stale clock cannot pass for a set one. */
const SET_SEC = 1_000_000_000n

describe("settimeofday", () => {
  it.effect("root sets the kernel's CLOCK_REALTIME for every process; CLOCK_MONOTONIC, the host and other kernels stay", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const other = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      const c = yield* other.guest()
      const mono = yield* clockNs(a, CLOCK_MONOTONIC)
      const bootBefore = k.kernel.state.boottime.sec
      yield* ok(a, SYS.__settimeofday50, a.mem.alloc(timeval(SET_SEC, 250_000)), 0)
      near(yield* clockNs(b, CLOCK_REALTIME), SET_SEC * NS + 250_000_000n, NS, "the other process's clock_gettime")
      near(yield* timeofdayNs(b), SET_SEC * NS + 250_000_000n, NS, "gettimeofday")
      near(yield* clockNs(b, CLOCK_MONOTONIC), mono, NS, "CLOCK_MONOTONIC")
      near(yield* clockNs(c, CLOCK_REALTIME), BigInt(Date.now()) * 1_000_000n, NS, "another kernel's clock (and the host's)")
      // boot time moved with the clock (kern.boottime)
      const moved = BigInt(Math.floor(Date.now() / 1000)) - SET_SEC
      near(bootBefore - k.kernel.state.boottime.sec, moved, 2n, "kern.boottime")
    }))

  it.effect("file and pipe time stamps are on the kernel's clock", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      yield* ok(g, SYS.__settimeofday50, g.mem.alloc(timeval(SET_SEC, 0)), 0)
      const fd = yield* ok(g, SYS.open, g.mem.allocString("/tmp/f"), openFlags.O_CREAT | openFlags.O_RDWR, 0o644)
      near(yield* mtimeNs(g, fd), SET_SEC * NS, NS, "a new file's mtime")
      const fds = g.mem.alloc(8)
      yield* ok(g, SYS.pipe2, fds, 0)
      const w = BigInt(peekI32(g, fds + 4n))
      yield* ok(g, SYS.write, w, g.mem.alloc(text("x")), 1)
      near(yield* mtimeNs(g, BigInt(peekI32(g, fds))), SET_SEC * NS, NS, "a pipe's mtime")
    }))

  it.effect("a NULL time changes nothing, for anyone; EFAULT before EPERM; EPERM for others than root", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      setUid(g, 1000)
      assert.strictEqual(yield* errnoOf(g, SYS.__settimeofday50, 0, g.mem.alloc(8)), 0)
      assert.strictEqual(yield* errnoOf(g, SYS.__settimeofday50, 0x10n, 0), Errno.EFAULT)
      assert.strictEqual(yield* errnoOf(g, SYS.__settimeofday50, g.mem.alloc(timeval(SET_SEC, 0)), 0), Errno.EPERM)
      near(yield* clockNs(g, CLOCK_REALTIME), BigInt(Date.now()) * 1_000_000n, NS, "the clock after EPERM")
    }))
})

describe("clock_settime", () => {
  it.effect("CLOCK_REALTIME for root; CLOCK_MONOTONIC and other clocks EINVAL; EFAULT; EPERM", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      yield* ok(g, SYS.__clock_settime50, CLOCK_REALTIME, g.mem.alloc(timespec(SET_SEC, 5)))
      near(yield* clockNs(g, CLOCK_REALTIME), SET_SEC * NS, NS, "CLOCK_REALTIME")
      const mono = g.mem.alloc(timespec(5, 0))
      assert.strictEqual(yield* errnoOf(g, SYS.__clock_settime50, CLOCK_MONOTONIC, mono), Errno.EINVAL)
      assert.isTrue((yield* clockNs(g, CLOCK_MONOTONIC)) > 5n * NS, "CLOCK_MONOTONIC was not set")
      assert.strictEqual(yield* errnoOf(g, SYS.__clock_settime50, CLOCK_VIRTUAL, mono), Errno.EINVAL)
      assert.strictEqual(yield* errnoOf(g, SYS.__clock_settime50, 42, mono), Errno.EINVAL)
      assert.strictEqual(yield* errnoOf(g, SYS.__clock_settime50, CLOCK_REALTIME, 0x10n), Errno.EFAULT)
      setUid(g, 1000)
      assert.strictEqual(yield* errnoOf(g, SYS.__clock_settime50, CLOCK_REALTIME, mono), Errno.EPERM)
      // the clock is checked before the credentials
      assert.strictEqual(yield* errnoOf(g, SYS.__clock_settime50, CLOCK_MONOTONIC, mono), Errno.EINVAL)
      near(yield* clockNs(g, CLOCK_REALTIME), SET_SEC * NS, NS, "CLOCK_REALTIME after EPERM")
    }))
})

describe("clock_getres", () => {
  it.effect("one tick (10 ms) for CLOCK_REALTIME and CLOCK_MONOTONIC; tp may be NULL; EINVAL for others; EFAULT", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      for (const clock of [CLOCK_REALTIME, CLOCK_MONOTONIC]) {
        const tp = g.mem.alloc(u64s(7, 7))
        yield* ok(g, SYS.__clock_getres50, clock, tp)
        assert.deepStrictEqual([peekI64(g, tp), peekI64(g, tp + 8n)], [0n, 10_000_000n])
        yield* ok(g, SYS.__clock_getres50, clock, 0)
      }
      for (const clock of [CLOCK_VIRTUAL, CLOCK_PROF, CLOCK_PROCESS_CPUTIME_ID, 42, -1]) {
        assert.strictEqual(yield* errnoOf(g, SYS.__clock_getres50, clock, g.mem.alloc(16)), Errno.EINVAL)
      }
      assert.strictEqual(yield* errnoOf(g, SYS.__clock_getres50, CLOCK_MONOTONIC, 0x10n), Errno.EFAULT)
    }))
})

describe("adjtime", () => {
  it.effect("root only, even to read; olddelta is what is left, with a non-negative tv_usec", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const old = g.mem.alloc(timeval(9, 9))
      yield* ok(g, SYS.__adjtime50, 0, old)
      assert.deepStrictEqual([peekI64(g, old), peekI32(g, old + 8n)], [0n, 0])
      yield* ok(g, SYS.__adjtime50, g.mem.alloc(timeval(-2, 500_000)), 0)
      yield* ok(g, SYS.__adjtime50, g.mem.alloc(timeval(3, 0)), old)
      // -1.5 s, as time_adjtime keeps it, comes back as { -2, 500000 }
      assert.deepStrictEqual([peekI64(g, old), peekI32(g, old + 8n)], [-2n, 500_000])
      yield* ok(g, SYS.__adjtime50, 0, old)
      assert.deepStrictEqual([peekI64(g, old), peekI32(g, old + 8n)], [3n, 0])
      assert.strictEqual(yield* errnoOf(g, SYS.__adjtime50, 0x10n, 0), Errno.EFAULT)
      assert.strictEqual(yield* errnoOf(g, SYS.__adjtime50, 0, 0x10n), Errno.EFAULT)
      setUid(g, 1000)
      assert.strictEqual(yield* errnoOf(g, SYS.__adjtime50, 0, old), Errno.EPERM)
      assert.strictEqual(yield* errnoOf(g, SYS.__adjtime50, 0x10n, 0), Errno.EPERM)
    }))

  it.live("slews CLOCK_REALTIME by 5 ms a second while more than a second is left, and counts down", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const gap = Effect.gen(function*() {
        const real = yield* clockNs(g, CLOCK_REALTIME)
        return real - (yield* clockNs(g, CLOCK_MONOTONIC))
      })
      const before = yield* gap
      const setFrom = yield* clockNs(g, CLOCK_MONOTONIC)
      yield* ok(g, SYS.__adjtime50, g.mem.alloc(timeval(10, 0)), 0)
      const setTo = yield* clockNs(g, CLOCK_MONOTONIC)
      yield* Effect.sleep("1100 millis")
      const gained = (yield* gap) - before
      const readFrom = yield* clockNs(g, CLOCK_MONOTONIC)
      const old = g.mem.alloc(16)
      yield* ok(g, SYS.__adjtime50, 0, old)
      const readTo = yield* clockNs(g, CLOCK_MONOTONIC)
      // 5 ms a second all along (more than a second is left), the host clock's jitter aside
      const expected = ((readFrom - setFrom) * 5_000_000n) / NS
      assert.isTrue(gained > expected - 500_000n && gained < expected + 500_000n, `gained ${gained} ns, want ${expected}`)
      // what is left drops by 5 ms at the end of each whole second of slewing
      const leftAfter = (ns: bigint) => 10_000_000n - 5000n * (ns / NS)
      const left = peekI64(g, old) * 1_000_000n + BigInt(peekI32(g, old + 8n))
      assert.include([leftAfter(readFrom - setTo), leftAfter(readTo - setFrom)], left, `${left} us left`)
      assert.isTrue(left < 10_000_000n, "it counted down")
    }))
})
