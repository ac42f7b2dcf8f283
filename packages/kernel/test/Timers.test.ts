import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { clockIds, Errno, itimer, sigev, signals, SYS, timerFlags } from "@sysproxy/protocol/netbsd"
import { boot, callOk, errnoOf, type Guest, peekI32, peekI64, timespec } from "./support/SyscallHarness.ts"

const { ITIMER_REAL, ITIMER_VIRTUAL, ITIMER_PROF, ITIMER_MONOTONIC } = itimer
const { CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_VIRTUAL } = clockIds
const { SIGALRM, SIGUSR1 } = signals
const NS = 1_000_000_000n

/** struct itimerval { it_interval; it_value }, both timevals (sec, usec). */
const itimerval = (interval: readonly [number, number], value: readonly [number, number]): Uint8Array => {
  const bytes = new Uint8Array(32)
  const v = new DataView(bytes.buffer)
  v.setBigInt64(0, BigInt(interval[0]), true)
  v.setInt32(8, interval[1], true)
  v.setBigInt64(16, BigInt(value[0]), true)
  v.setInt32(24, value[1], true)
  return bytes
}

/** struct itimerspec { it_interval; it_value }, both timespecs. */
const itimerspec = (interval: readonly [bigint | number, bigint | number], value: readonly [bigint | number, bigint | number]) => {
  const bytes = new Uint8Array(32)
  bytes.set(timespec(interval[0], interval[1]), 0)
  bytes.set(timespec(value[0], value[1]), 16)
  return bytes
}

/** struct sigevent { notify, signo, value, function, attributes }. */
const sigevent = (notify: number, signo: number, value = 0n): Uint8Array => {
  const bytes = new Uint8Array(32)
  const v = new DataView(bytes.buffer)
  v.setInt32(0, notify, true)
  v.setInt32(4, signo, true)
  v.setBigInt64(8, value, true)
  return bytes
}

const readItimerval = (g: Guest, addr: bigint) => ({
  interval: [peekI64(g, addr), peekI32(g, addr + 8n)] as const,
  value: [peekI64(g, addr + 16n), peekI32(g, addr + 24n)] as const
})

const nsAt = (g: Guest, addr: bigint) => peekI64(g, addr) * NS + peekI64(g, addr + 8n)

const ok = callOk

const count = (g: Guest, sig: number) => g.mem.signals.filter((s) => s === sig).length

/** When each signal came (ms), from now on. */
const arrivals = (g: Guest): Array<number> => {
  const times: Array<number> = []
  g.mem.onRaise(() => times.push(performance.now()))
  return times
}

/** The median time between signals: the period, whatever a loaded machine delays now and then. */
const medianGap = (times: ReadonlyArray<number>): number => {
  const gaps = times.slice(1).map((t, i) => t - (times[i] ?? t)).sort((a, b) => a - b)
  return gaps[Math.floor(gaps.length / 2)] ?? Number.NaN
}

/** timer_create: the new id. */
const create = (g: Guest, clock: number, ev?: Uint8Array) =>
  Effect.gen(function*() {
    const idp = g.mem.alloc(4)
    yield* ok(g, SYS.timer_create, clock, ev === undefined ? 0 : g.mem.alloc(ev), idp)
    return peekI32(g, idp)
  })

describe("setitimer and getitimer", () => {
  it.live("ITIMER_REAL once: SIGALRM to the client after the time, getitimer counts down to zeros", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const start = performance.now()
      const fired = new Promise<number>((resolve) => g.mem.onRaise(() => resolve(performance.now())))
      yield* ok(g, SYS.__setitimer50, ITIMER_REAL, g.mem.alloc(itimerval([0, 0], [0, 300_000])), 0)
      const itv = g.mem.alloc(32)
      yield* ok(g, SYS.__getitimer50, ITIMER_REAL, itv)
      const left = readItimerval(g, itv)
      assert.deepStrictEqual(left.interval, [0n, 0])
      assert.isTrue(left.value[0] === 0n && left.value[1] > 0 && left.value[1] <= 300_000, `left ${left.value}`)
      assert.strictEqual(k.kernel.stats().timers, 1)
      const at = yield* Effect.promise(() => fired)
      assert.isTrue(at - start >= 299, `fired after ${at - start} ms`)
      assert.deepStrictEqual(g.mem.signals, [SIGALRM])
      yield* ok(g, SYS.__getitimer50, ITIMER_REAL, itv)
      assert.deepStrictEqual(readItimerval(g, itv), { interval: [0n, 0], value: [0n, 0] })
      assert.strictEqual(k.kernel.stats().timers, 0)
    }))

  it.live("a periodic ITIMER_REAL signals once per interval until set to zero", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const times = arrivals(g)
      yield* ok(g, SYS.__setitimer50, ITIMER_REAL, g.mem.alloc(itimerval([0, 30_000], [0, 30_000])), 0)
      yield* Effect.sleep("600 millis")
      const old = g.mem.alloc(32)
      yield* ok(g, SYS.__setitimer50, ITIMER_REAL, g.mem.alloc(itimerval([0, 0], [0, 0])), old)
      const n = count(g, SIGALRM)
      assert.isTrue(n >= 10 && n <= 21, `${n} SIGALRMs in 600 ms of a 30 ms timer`)
      const gap = medianGap(times)
      assert.isTrue(gap >= 25 && gap <= 40, `a signal every ${gap} ms`)
      assert.deepStrictEqual(readItimerval(g, old).interval, [0n, 30_000])
      yield* Effect.sleep("100 millis")
      assert.strictEqual(count(g, SIGALRM), n, "no signal after it was stopped")
      assert.strictEqual(k.kernel.stats().timers, 0)
    }))

  it.effect("times under a tick are one tick; the old setting goes to oitv before the new one is set", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const old = g.mem.alloc(32)
      yield* ok(g, SYS.__setitimer50, ITIMER_REAL, g.mem.alloc(itimerval([0, 1], [100, 0])), old)
      assert.deepStrictEqual(readItimerval(g, old), { interval: [0n, 0], value: [0n, 0] })
      yield* ok(g, SYS.__setitimer50, ITIMER_REAL, 0, old)
      const got = readItimerval(g, old)
      assert.deepStrictEqual(got.interval, [0n, 10_000])
      assert.isTrue(got.value[0] >= 99n && got.value[0] <= 100n, `value ${got.value}`)
      // a NULL itv only reads: the timer is still set
      yield* ok(g, SYS.__getitimer50, ITIMER_REAL, old)
      assert.isTrue(readItimerval(g, old).value[0] >= 99n)
    }))

  it.effect("ITIMER_VIRTUAL and ITIMER_PROF are kept but never run: no process time passes in a rump kernel", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      yield* ok(g, SYS.__setitimer50, ITIMER_VIRTUAL, g.mem.alloc(itimerval([1, 0], [2, 5])), 0)
      yield* ok(g, SYS.__setitimer50, ITIMER_PROF, g.mem.alloc(itimerval([0, 0], [0, 20_000])), 0)
      const itv = g.mem.alloc(32)
      yield* ok(g, SYS.__getitimer50, ITIMER_VIRTUAL, itv)
      assert.deepStrictEqual(readItimerval(g, itv), { interval: [1n, 0], value: [2n, 5] })
      yield* ok(g, SYS.__getitimer50, ITIMER_PROF, itv)
      assert.deepStrictEqual(readItimerval(g, itv), { interval: [0n, 0], value: [0n, 20_000] })
      assert.strictEqual(k.kernel.stats().timers, 0)
      assert.deepStrictEqual(g.mem.signals, [])
    }))

  it.effect("EINVAL for a bad which or time (negative included), EFAULT for bad pointers", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const good = g.mem.alloc(itimerval([0, 0], [1, 0]))
      for (const which of [4, -1, 100]) {
        assert.strictEqual(yield* errnoOf(g, SYS.__setitimer50, which, good, 0), Errno.EINVAL)
        assert.strictEqual(yield* errnoOf(g, SYS.__getitimer50, which, g.mem.alloc(32)), Errno.EINVAL)
      }
      for (const bad of [itimerval([0, 0], [0, 1_000_000]), itimerval([0, -1], [1, 0]), itimerval([0, 0], [-1, 0])]) {
        assert.strictEqual(yield* errnoOf(g, SYS.__setitimer50, ITIMER_REAL, g.mem.alloc(bad), 0), Errno.EINVAL)
      }
      assert.strictEqual(yield* errnoOf(g, SYS.__setitimer50, ITIMER_REAL, 0x10n, 0), Errno.EFAULT)
      assert.strictEqual(yield* errnoOf(g, SYS.__setitimer50, ITIMER_REAL, good, 0x10n), Errno.EFAULT)
      assert.strictEqual(yield* errnoOf(g, SYS.__getitimer50, ITIMER_REAL, 0x10n), Errno.EFAULT)
      // the failed calls set nothing
      assert.strictEqual(k.kernel.stats().timers, 0)
    }))

  it.live("ITIMER_MONOTONIC sends SIGALRM too; a process that goes takes its timers with it", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const h = yield* k.guest()
      yield* ok(g, SYS.__setitimer50, ITIMER_MONOTONIC, g.mem.alloc(itimerval([0, 20_000], [0, 20_000])), 0)
      yield* ok(h, SYS.__setitimer50, ITIMER_REAL, h.mem.alloc(itimerval([0, 20_000], [0, 20_000])), 0)
      yield* Effect.sleep("100 millis")
      assert.isTrue(count(g, SIGALRM) >= 1)
      assert.strictEqual(k.kernel.stats().timers, 2)
      yield* k.hypervisor.releaseProcess(h.handle)
      const seen = count(h, SIGALRM)
      assert.strictEqual(k.kernel.stats().timers, 1)
      yield* Effect.sleep("60 millis")
      assert.strictEqual(count(h, SIGALRM), seen, "a released process gets no more signals")
    }))
})

describe("POSIX timers", () => {
  it.live("timer_create without a sigevent: SIGEV_SIGNAL with SIGALRM, ids from 3; settime, gettime, delete", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const id = yield* create(g, CLOCK_MONOTONIC)
      assert.strictEqual(id, 3)
      assert.strictEqual(yield* create(g, CLOCK_REALTIME), 4)
      const value = g.mem.alloc(32)
      yield* ok(g, SYS.__timer_gettime50, id, value)
      assert.strictEqual(nsAt(g, value + 16n), 0n, "a new timer is disarmed")
      yield* ok(g, SYS.__timer_settime50, id, 0, g.mem.alloc(itimerspec([0, 0], [0, 60_000_000])), 0)
      yield* ok(g, SYS.__timer_gettime50, id, value)
      const left = nsAt(g, value + 16n)
      assert.isTrue(left > 0n && left <= 60_000_000n, `${left} ns left`)
      yield* Effect.sleep("120 millis")
      assert.deepStrictEqual(g.mem.signals, [SIGALRM])
      yield* ok(g, SYS.timer_delete, id)
      assert.strictEqual(yield* errnoOf(g, SYS.timer_delete, id), Errno.EINVAL)
      assert.strictEqual(yield* errnoOf(g, SYS.__timer_gettime50, id, value), Errno.EINVAL)
      assert.strictEqual(yield* create(g, CLOCK_MONOTONIC), 3, "the lowest free id again")
    }))

  it.live("SIGEV_SIGNAL with a signal of its own; SIGEV_NONE runs without a signal; TIMER_ABSTIME on the kernel's clock", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const usr = yield* create(g, CLOCK_REALTIME, sigevent(sigev.SIGEV_SIGNAL, SIGUSR1, 77n))
      const none = yield* create(g, CLOCK_MONOTONIC, sigevent(sigev.SIGEV_NONE, 0))
      yield* ok(g, SYS.__settimeofday50, g.mem.alloc(new Uint8Array(16)), 0) // the epoch: far from the host's time
      const tp = g.mem.alloc(16)
      yield* ok(g, SYS.__clock_gettime50, CLOCK_REALTIME, tp)
      const at = nsAt(g, tp) + 40_000_000n
      yield* ok(g, SYS.__timer_settime50, usr, timerFlags.TIMER_ABSTIME, g.mem.alloc(itimerspec([0, 0], [at / NS, at % NS])), 0)
      yield* ok(g, SYS.__timer_settime50, none, 0, g.mem.alloc(itimerspec([0, 0], [0, 20_000_000])), 0)
      yield* Effect.sleep("150 millis")
      assert.deepStrictEqual(g.mem.signals, [SIGUSR1])
      const value = g.mem.alloc(32)
      yield* ok(g, SYS.__timer_gettime50, none, value)
      assert.strictEqual(nsAt(g, value + 16n), 0n, "the SIGEV_NONE timer ran out")
    }))

  it.effect("EINVAL for a bad clock or sigevent, EFAULT for bad pointers, EAGAIN past 29 timers", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const idp = g.mem.alloc(4)
      for (const clock of [4, -1, CLOCK_REALTIME | 0x40000000]) {
        assert.strictEqual(yield* errnoOf(g, SYS.timer_create, clock, 0, idp), Errno.EINVAL)
      }
      for (const ev of [sigevent(4, SIGALRM), sigevent(-1, SIGALRM), sigevent(sigev.SIGEV_SIGNAL, 0), sigevent(sigev.SIGEV_SIGNAL, 64)]) {
        assert.strictEqual(yield* errnoOf(g, SYS.timer_create, CLOCK_REALTIME, g.mem.alloc(ev), idp), Errno.EINVAL)
      }
      assert.strictEqual(yield* errnoOf(g, SYS.timer_create, CLOCK_REALTIME, 0x10n, idp), Errno.EFAULT)
      // the id cannot be copied out, but the timer is made
      assert.strictEqual(yield* errnoOf(g, SYS.timer_create, CLOCK_REALTIME, 0, 0x10n), Errno.EFAULT)
      assert.strictEqual(yield* create(g, CLOCK_VIRTUAL, sigevent(sigev.SIGEV_THREAD, 0)), 4)
      for (let id = 5; id < 32; id++) assert.strictEqual(yield* create(g, CLOCK_REALTIME), id)
      assert.strictEqual(yield* errnoOf(g, SYS.timer_create, CLOCK_REALTIME, 0, idp), Errno.EAGAIN)
      yield* ok(g, SYS.timer_delete, 17)
      assert.strictEqual(yield* create(g, CLOCK_REALTIME), 17)
    }))

  it.effect("timer ids: 0, 1, 32 and empty slots are EINVAL, as is every id of a process that never had a timer", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const spec = g.mem.alloc(itimerspec([0, 0], [1, 0]))
      const out = g.mem.alloc(32)
      assert.strictEqual(yield* errnoOf(g, SYS.timer_delete, 3), Errno.EINVAL)
      assert.strictEqual(yield* errnoOf(g, SYS.__timer_settime50, 3, 0, spec, 0), Errno.EINVAL)
      assert.strictEqual(yield* errnoOf(g, SYS.__timer_gettime50, 3, out), Errno.EINVAL)
      assert.strictEqual(yield* errnoOf(g, SYS.timer_getoverrun, 3), Errno.EINVAL)
      yield* create(g, CLOCK_REALTIME)
      for (const id of [0, 1, 2, 5, 31, 32, -1]) {
        assert.strictEqual(yield* errnoOf(g, SYS.timer_delete, id), Errno.EINVAL, `timer_delete ${id}`)
        assert.strictEqual(yield* errnoOf(g, SYS.__timer_settime50, id, 0, spec, 0), Errno.EINVAL, `settime ${id}`)
        assert.strictEqual(yield* errnoOf(g, SYS.__timer_gettime50, id, out), Errno.EINVAL, `gettime ${id}`)
        assert.strictEqual(yield* errnoOf(g, SYS.timer_getoverrun, id), Errno.EINVAL, `getoverrun ${id}`)
      }
      // slot 2 is ITIMER_PROF's: once setitimer made it, the POSIX calls reach it
      yield* ok(g, SYS.__setitimer50, ITIMER_PROF, g.mem.alloc(itimerval([0, 0], [3, 0])), 0)
      yield* ok(g, SYS.__timer_gettime50, 2, out)
      assert.strictEqual(nsAt(g, out + 16n), 3n * NS)
      yield* ok(g, SYS.timer_delete, 2)
      yield* ok(g, SYS.__getitimer50, ITIMER_PROF, out)
      assert.deepStrictEqual(readItimerval(g, out).value, [0n, 0])
    }))

  it.effect("settime: EINVAL for tv_nsec out of range, ETIMEDOUT for a negative time, EFAULT; ovalue is the time as kept", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const id = yield* create(g, CLOCK_MONOTONIC)
      assert.strictEqual(yield* errnoOf(g, SYS.__timer_settime50, id, 0, g.mem.alloc(itimerspec([0, 0], [0, NS])), 0), Errno.EINVAL)
      assert.strictEqual(yield* errnoOf(g, SYS.__timer_settime50, id, 0, g.mem.alloc(itimerspec([0, -1], [1, 0])), 0), Errno.EINVAL)
      assert.strictEqual(yield* errnoOf(g, SYS.__timer_settime50, id, 0, g.mem.alloc(itimerspec([0, 0], [-1, 0])), 0), Errno.ETIMEDOUT)
      assert.strictEqual(yield* errnoOf(g, SYS.__timer_settime50, id, 0, g.mem.alloc(itimerspec([-1, 0], [1, 0])), 0), Errno.ETIMEDOUT)
      assert.strictEqual(yield* errnoOf(g, SYS.__timer_settime50, id, 0, 0x10n, 0), Errno.EFAULT)
      yield* ok(g, SYS.__timer_settime50, id, 0, g.mem.alloc(itimerspec([0, 1], [50, 0])), 0)
      const old = g.mem.alloc(32)
      const mono = g.mem.alloc(16)
      yield* ok(g, SYS.__clock_gettime50, CLOCK_MONOTONIC, mono)
      yield* ok(g, SYS.__timer_settime50, id, 0, g.mem.alloc(itimerspec([0, 0], [0, 0])), old)
      // the interval was rounded up to a tick; the value is the absolute time it was set for
      assert.strictEqual(nsAt(g, old), 10_000_000n)
      const abs = nsAt(g, old + 16n)
      assert.isTrue(abs > nsAt(g, mono) + 49n * NS && abs <= nsAt(g, mono) + 50n * NS, `ovalue ${abs}`)
      assert.strictEqual(yield* errnoOf(g, SYS.__timer_settime50, id, 0, g.mem.alloc(itimerspec([0, 0], [1, 0])), 0x10n), Errno.EFAULT)
      assert.strictEqual(k.kernel.stats().timers, 1, "set before ovalue failed")
    }))

  it.live("a 10 ms timer fires on every other tick (a tick to wait, one more for the tick under way), counting an overrun each time", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const id = yield* create(g, CLOCK_MONOTONIC)
      const times = arrivals(g)
      yield* ok(g, SYS.__timer_settime50, id, 0, g.mem.alloc(itimerspec([0, 10_000_000], [0, 10_000_000])), 0)
      yield* Effect.sleep("500 millis")
      const n = count(g, SIGALRM)
      assert.isTrue(n >= 10 && n <= 28, `${n} signals in 500 ms`)
      const gap = medianGap(times)
      assert.isTrue(gap >= 15 && gap <= 30, `a signal every ${gap} ms`)
      // each signal stands for two expirations (or more, when the machine held the timer up)
      assert.isTrue((yield* ok(g, SYS.timer_getoverrun, id)) >= 1n)
      yield* ok(g, SYS.timer_delete, id)
    }))
})
