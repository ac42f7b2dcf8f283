import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { clockIds, Errno, SYS, timerFlags } from "@sysproxy/protocol/netbsd"
import type { Lwp } from "../src/proc/Lwp.ts"
import { boot, type Guest, peek, peekI32, peekI64, timespec } from "./support/SyscallHarness.ts"

const { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID, CLOCK_THREAD_CPUTIME_ID } = clockIds
/** clockid_t is an int: the thread CPU clock's bit makes it negative. */
const THREAD_CLOCK = CLOCK_THREAD_CPUTIME_ID | 0

const readTimespec = (g: Guest, addr: bigint) => ({ sec: peekI64(g, addr), nsec: peekI64(g, addr + 8n) })
const nsOf = (ts: { readonly sec: bigint; readonly nsec: bigint }) => ts.sec * 1_000_000_000n + ts.nsec

const gettime = (g: Guest, clock: number) =>
  Effect.gen(function*() {
    const tp = g.mem.alloc(16)
    const r = yield* g.call(SYS.__clock_gettime50, clock, tp)
    assert.strictEqual(r.error, 0)
    return readTimespec(g, tp)
  })

/** Waits (in real time) until the lwp sleeps in the kernel. */
const untilAsleep = (lwp: Lwp) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200 && lwp.wakeup === undefined; i++) yield* Effect.sleep("5 millis")
    assert.isDefined(lwp.wakeup, "the lwp went to sleep")
  })

describe("clock_gettime", () => {
  it.live("CLOCK_REALTIME is the wall clock; CLOCK_MONOTONIC moves forward", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const real = yield* gettime(g, CLOCK_REALTIME)
      assert.isTrue(real.nsec >= 0n && real.nsec < 1_000_000_000n)
      const diffMs = Number(nsOf(real) / 1_000_000n) - Date.now()
      assert.isTrue(Math.abs(diffMs) < 1000, `realtime is ${diffMs} ms off`)
      const m1 = yield* gettime(g, CLOCK_MONOTONIC)
      yield* Effect.sleep("20 millis")
      const m2 = yield* gettime(g, CLOCK_MONOTONIC)
      const elapsed = nsOf(m2) - nsOf(m1)
      assert.isTrue(elapsed >= 19_000_000n && elapsed < 2_000_000_000n, `monotonic moved ${elapsed} ns`)
    }))

  it.effect("the CPU-time clocks: the caller's (id 0) or a live pid/lid; ESRCH otherwise", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const p = yield* gettime(g, CLOCK_PROCESS_CPUTIME_ID)
      assert.isTrue(p.nsec >= 0n && p.nsec < 1_000_000_000n && nsOf(p) > 0n)
      const t = yield* gettime(g, THREAD_CLOCK)
      assert.isTrue(nsOf(t) > 0n)
      yield* gettime(g, CLOCK_PROCESS_CPUTIME_ID | g.pid)
      const tp = g.mem.alloc(16)
      assert.strictEqual((yield* g.call(SYS.__clock_gettime50, CLOCK_PROCESS_CPUTIME_ID | 999, tp)).error, Errno.ESRCH)
      assert.strictEqual((yield* g.call(SYS.__clock_gettime50, THREAD_CLOCK | 99999, tp)).error, Errno.ESRCH)
      const lwp = yield* g.newLwp()
      assert.strictEqual((yield* g.call(SYS.__clock_gettime50, THREAD_CLOCK | lwp.lid, tp)).error, 0)
    }))

  it.effect("EINVAL for an unknown clock, EFAULT for a bad pointer", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const tp = g.mem.alloc(16)
      assert.strictEqual((yield* g.call(SYS.__clock_gettime50, 42, tp)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.__clock_gettime50, clockIds.CLOCK_VIRTUAL, tp)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.__clock_gettime50, CLOCK_REALTIME, 0x10n)).error, Errno.EFAULT)
    }))
})

describe("gettimeofday", () => {
  it.effect("fills struct timeval; the time zone pointer may be NULL, else it gets zeros", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const tv = g.mem.alloc(new Uint8Array(16).fill(0xff))
      assert.strictEqual((yield* g.call(SYS.__gettimeofday50, tv, 0)).error, 0)
      const sec = peekI64(g, tv)
      const usec = peekI32(g, tv + 8n)
      assert.isTrue(usec >= 0 && usec < 1_000_000)
      assert.isTrue(Math.abs(Number(sec) * 1000 + usec / 1000 - Date.now()) < 1000)
      const tz = g.mem.alloc(new Uint8Array(8).fill(0xff))
      assert.strictEqual((yield* g.call(SYS.__gettimeofday50, 0, tz)).error, 0)
      assert.deepStrictEqual(peek(g, tz, 8), new Uint8Array(8))
      assert.strictEqual((yield* g.call(SYS.__gettimeofday50, 0x10n, 0)).error, Errno.EFAULT)
    }))
})

describe("nanosleep", () => {
  it.live("sleeps at least the time asked and reports nothing left", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const rmt = g.mem.alloc(timespec(7, 7))
      const start = performance.now()
      const r = yield* g.call(SYS.__nanosleep50, g.mem.alloc(timespec(0, 30_000_000)), rmt)
      const took = performance.now() - start
      assert.strictEqual(r.error, 0)
      assert.isTrue(took >= 29, `slept ${took} ms`)
      assert.deepStrictEqual(readTimespec(g, rmt), { sec: 0n, nsec: 0n })
      assert.strictEqual((yield* g.call(SYS.__nanosleep50, g.mem.alloc(timespec(0, 0)), 0)).error, 0)
    }))

  it.effect("EINVAL for tv_nsec out of range or a negative time; EFAULT for a bad pointer", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* g.call(SYS.__nanosleep50, g.mem.alloc(timespec(0, 1_000_000_000)), 0)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.__nanosleep50, g.mem.alloc(timespec(0, -1)), 0)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.__nanosleep50, g.mem.alloc(timespec(-1, 0)), 0)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.__nanosleep50, 0x10n, 0)).error, Errno.EFAULT)
    }))

  it.live("lwpExit wakes it at once with EINTR and the time left in rmtp", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const rmt = g.mem.alloc(16)
      const lwp = yield* g.newLwp()
      const start = performance.now()
      const sleeper = yield* g.callIn(lwp, SYS.__nanosleep50, g.mem.alloc(timespec(10, 0)), rmt).pipe(Effect.forkChild)
      yield* untilAsleep(lwp as Lwp)
      yield* k.hypervisor.lwpExit(g.handle)
      const r = yield* Fiber.join(sleeper)
      const took = performance.now() - start
      assert.strictEqual(r.error, Errno.EINTR)
      assert.isTrue(took < 1500, `woke after ${took} ms`)
      const left = nsOf(readTimespec(g, rmt))
      assert.isTrue(left > 8_000_000_000n && left <= 10_000_000_000n, `${left} ns left`)
    }))
})

describe("clock_nanosleep", () => {
  it.live("returns its error as the result value, never through error", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const rq = g.mem.alloc(timespec(0, 1_000_000))
      assert.deepStrictEqual(yield* g.call(SYS.clock_nanosleep, 42, 0, rq, 0), { error: 0, retval0: BigInt(Errno.EINVAL), retval1: 0n })
      assert.deepStrictEqual(yield* g.call(SYS.clock_nanosleep, CLOCK_MONOTONIC, 0, 0x10n, 0), {
        error: 0,
        retval0: BigInt(Errno.EFAULT),
        retval1: 0n
      })
      const bad = g.mem.alloc(timespec(0, 2_000_000_000))
      assert.strictEqual((yield* g.call(SYS.clock_nanosleep, CLOCK_MONOTONIC, 0, bad, 0)).retval0, BigInt(Errno.EINVAL))
      assert.deepStrictEqual(yield* g.call(SYS.clock_nanosleep, CLOCK_REALTIME, 0, rq, 0), { error: 0, retval0: 0n, retval1: 0n })
    }))

  it.live("TIMER_ABSTIME sleeps until the time on that clock; a time already past returns at once", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const now = nsOf(yield* gettime(g, CLOCK_MONOTONIC))
      const until = now + 40_000_000n
      const start = performance.now()
      const r = yield* g.call(
        SYS.clock_nanosleep,
        CLOCK_MONOTONIC,
        timerFlags.TIMER_ABSTIME,
        g.mem.alloc(timespec(until / 1_000_000_000n, until % 1_000_000_000n)),
        0
      )
      assert.strictEqual(r.retval0, 0n)
      assert.isTrue(nsOf(yield* gettime(g, CLOCK_MONOTONIC)) >= until)
      assert.isTrue(performance.now() - start >= 30)
      const past = g.mem.alloc(timespec(1, 0))
      const t0 = performance.now()
      assert.strictEqual((yield* g.call(SYS.clock_nanosleep, CLOCK_REALTIME, timerFlags.TIMER_ABSTIME, past, 0)).retval0, 0n)
      assert.isTrue(performance.now() - t0 < 100)
    }))

  it.live("interrupted: EINTR as the value; the time left goes to rmtp for a relative sleep only", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const rmtRel = g.mem.alloc(16)
      const rmtAbs = g.mem.alloc(new Uint8Array(16).fill(0xee))
      const far = nsOf(yield* gettime(g, CLOCK_REALTIME)) + 60_000_000_000n
      const l1 = yield* g.newLwp()
      const l2 = yield* g.newLwp()
      const rel = yield* g.callIn(l1, SYS.clock_nanosleep, CLOCK_MONOTONIC, 0, g.mem.alloc(timespec(30, 0)), rmtRel).pipe(
        Effect.forkChild
      )
      const abs = yield* g.callIn(
        l2,
        SYS.clock_nanosleep,
        CLOCK_REALTIME,
        timerFlags.TIMER_ABSTIME,
        g.mem.alloc(timespec(far / 1_000_000_000n, far % 1_000_000_000n)),
        rmtAbs
      ).pipe(Effect.forkChild)
      yield* untilAsleep(l1 as Lwp)
      yield* untilAsleep(l2 as Lwp)
      yield* k.hypervisor.lwpExit(g.handle)
      assert.deepStrictEqual(yield* Fiber.join(rel), { error: 0, retval0: BigInt(Errno.EINTR), retval1: 0n })
      assert.strictEqual((yield* Fiber.join(abs)).retval0, BigInt(Errno.EINTR))
      assert.isTrue(nsOf(readTimespec(g, rmtRel)) > 25_000_000_000n)
      assert.deepStrictEqual(peek(g, rmtAbs, 16), new Uint8Array(16).fill(0xee))
    }))
})
