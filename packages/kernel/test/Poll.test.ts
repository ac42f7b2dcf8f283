import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Errno, openFlags, pollEvents, SYS } from "@sysproxy/protocol/netbsd"
import type { Lwp } from "../src/proc/Lwp.ts"
import { boot, type Guest, peek, text, timespec } from "./support/SyscallHarness.ts"

const { POLLIN, POLLRDNORM, POLLOUT, POLLWRNORM, POLLHUP, POLLNVAL, POLLPRI, INFTIM } = pollEvents
const IN = POLLIN | POLLRDNORM
const OUT = POLLOUT | POLLWRNORM

const pipe = (g: Guest) =>
  Effect.gen(function*() {
    const r = yield* g.call(SYS.pipe)
    assert.strictEqual(r.error, 0, "pipe")
    return [Number(r.retval0), Number(r.retval1)] as const
  })

const write = (g: Guest, fd: number, s: string) => g.call(SYS.write, fd, g.mem.alloc(text(s)), s.length)

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** struct pollfd[]: fd, events, and revents set to a junk value the kernel must overwrite. */
const pollfds = (entries: ReadonlyArray<readonly [number, number]>, junk = 0x7777): Uint8Array => {
  const bytes = new Uint8Array(entries.length * 8)
  entries.forEach(([fd, events], i) => {
    view(bytes).setInt32(i * 8, fd, true)
    view(bytes).setInt16(i * 8 + 4, events, true)
    view(bytes).setUint16(i * 8 + 6, junk, true)
  })
  return bytes
}

/** The revents of each entry. */
const revents = (g: Guest, addr: bigint, n: number): Array<number> =>
  Array.from({ length: n }, (_, i) => view(peek(g, addr + BigInt(i * 8) + 6n, 2)).getUint16(0, true))

/** poll(entries, timeout): the result and the revents. */
const poll = (g: Guest, entries: ReadonlyArray<readonly [number, number]>, timeout: number) =>
  Effect.gen(function*() {
    const addr = g.mem.alloc(pollfds(entries))
    const r = yield* g.call(SYS.poll, addr, entries.length, timeout)
    return { error: r.error, n: Number(r.retval0), revents: revents(g, addr, entries.length) }
  })

/** An fd_set of 256 bits with `fds` set. */
const fdset = (...fds: ReadonlyArray<number>): Uint8Array => {
  const bytes = new Uint8Array(32)
  for (const fd of fds) bytes[fd >> 3] = (bytes[fd >> 3] ?? 0) | (1 << (fd & 7))
  return bytes
}

/** The descriptors set in the fd_set at `addr` (below `nd`). */
const members = (g: Guest, addr: bigint, nd: number): Array<number> => {
  const bytes = peek(g, addr, 32)
  return Array.from({ length: nd }, (_, fd) => fd).filter((fd) => ((bytes[fd >> 3] ?? 0) & (1 << (fd & 7))) !== 0)
}

/** A struct timeval. */
const timeval = (sec: number, usec: number): Uint8Array => {
  const bytes = new Uint8Array(16)
  view(bytes).setBigInt64(0, BigInt(sec), true)
  view(bytes).setInt32(8, usec, true)
  return bytes
}

const untilAsleep = (lwp: Lwp) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200 && lwp.wakeup === undefined; i++) yield* Effect.sleep("5 millis")
    assert.isDefined(lwp.wakeup, "the lwp went to sleep")
  })

const inLwp = (g: Guest, number: number, ...args: ReadonlyArray<bigint | number>) =>
  Effect.gen(function*() {
    const lwp = yield* g.newLwp()
    const fiber = yield* g.callIn(lwp, number, ...args).pipe(Effect.forkChild)
    return { lwp: lwp as Lwp, fiber }
  })

const elapsed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = performance.now()
    const a = yield* effect
    return [a, performance.now() - start] as const
  })

describe("poll", () => {
  it.effect("a pipe: the write end is writable, the read end readable once there is data; nothing asked, nothing told", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe(g)
      const empty = yield* poll(g, [[r, IN], [w, OUT], [r, OUT], [w, IN]], 0)
      assert.deepStrictEqual(empty, { error: 0, n: 1, revents: [0, OUT, 0, 0] })
      yield* write(g, w, "x")
      const full = yield* poll(g, [[r, IN | POLLPRI], [w, POLLOUT], [r, POLLRDNORM]], 0)
      assert.deepStrictEqual(full, { error: 0, n: 3, revents: [IN, POLLOUT, POLLRDNORM] })
    }))

  it.effect("POLLHUP once the other end is gone: a widowed read end is readable (end of file), a widowed write end too", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe(g)
      yield* g.call(SYS.close, w)
      assert.deepStrictEqual((yield* poll(g, [[r, IN]], 0)).revents, [IN | POLLHUP])
      assert.deepStrictEqual((yield* poll(g, [[r, 0]], 0)).revents, [POLLHUP], "reported unasked")
      const [r2, w2] = yield* pipe(g)
      yield* g.call(SYS.close, r2)
      assert.deepStrictEqual((yield* poll(g, [[w2, OUT]], 0)).revents, [OUT | POLLHUP])
    }))

  it.effect("POLLNVAL for a descriptor that is not open (counted); a negative one is skipped", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const res = yield* poll(g, [[9, IN], [-1, IN], [1, OUT]], 0)
      assert.deepStrictEqual(res, { error: 0, n: 2, revents: [POLLNVAL, 0, OUT] })
    }))

  it.live("regular files are always ready; the console is writable but never readable", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fd = Number((yield* g.call(SYS.open, g.mem.allocString("/tmp/f"), openFlags.O_RDWR | openFlags.O_CREAT, 0o644)).retval0)
      assert.deepStrictEqual(yield* poll(g, [[fd, IN | OUT]], INFTIM), { error: 0, n: 1, revents: [IN | OUT] })
      assert.deepStrictEqual(yield* poll(g, [[1, IN | OUT]], INFTIM), { error: 0, n: 1, revents: [OUT] })
      const [res, took] = yield* elapsed(poll(g, [[0, IN]], 40))
      assert.deepStrictEqual(res, { error: 0, n: 0, revents: [0] })
      assert.isTrue(took >= 35, `waited ${took} ms`)
    }))

  it.live("a timeout with nothing ready: 0, every revents cleared, after the time asked", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r] = yield* pipe(g)
      const [res, took] = yield* elapsed(poll(g, [[r, IN], [r, IN]], 50))
      assert.deepStrictEqual(res, { error: 0, n: 0, revents: [0, 0] })
      assert.isTrue(took >= 45 && took < 1000, `waited ${took} ms`)
      const [zero, quick] = yield* elapsed(poll(g, [[r, IN]], 0))
      assert.strictEqual(zero.n, 0)
      assert.isTrue(quick < 30, `a zero timeout only looks (${quick} ms)`)
    }))

  it.live("no timeout: a poll sleeps until another process writes into the pipe", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const parent = yield* k.guest()
      const [r, w] = yield* pipe(parent)
      const child = yield* k.guest({ parent, mode: "copy" })
      const fds = parent.mem.alloc(pollfds([[r, IN], [w, IN]]))
      const { lwp, fiber } = yield* inLwp(parent, SYS.poll, fds, 2, INFTIM)
      yield* untilAsleep(lwp)
      assert.isUndefined(fiber.pollUnsafe(), "still waiting")
      yield* write(child, w, "wake")
      assert.deepStrictEqual(yield* Fiber.join(fiber), { error: 0, retval0: 1n, retval1: 0n })
      assert.deepStrictEqual(revents(parent, fds, 2), [IN, 0])
    }))

  it.live("a poll waiting on a pipe wakes when the writer closes (POLLHUP)", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe(g)
      const fds = g.mem.alloc(pollfds([[r, IN]]))
      const { lwp, fiber } = yield* inLwp(g, SYS.poll, fds, 1, 10_000)
      yield* untilAsleep(lwp)
      yield* g.call(SYS.close, w)
      assert.strictEqual((yield* Fiber.join(fiber)).retval0, 1n)
      assert.deepStrictEqual(revents(g, fds, 1), [IN | POLLHUP])
    }))

  it.live("lwpExit ends a poll with EINTR and leaves the array as it was", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r] = yield* pipe(g)
      const fds = g.mem.alloc(pollfds([[r, IN]]))
      const { lwp, fiber } = yield* inLwp(g, SYS.poll, fds, 1, INFTIM)
      yield* untilAsleep(lwp)
      yield* k.hypervisor.lwpExit(g.handle)
      assert.strictEqual((yield* Fiber.join(fiber)).error, Errno.EINTR)
      assert.deepStrictEqual(revents(g, fds, 1), [0x7777])
    }))

  it.effect("EINVAL for a negative timeout other than INFTIM and for more entries than the table allows; EFAULT for a bad array", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fds = g.mem.alloc(pollfds([[1, OUT]]))
      assert.strictEqual((yield* g.call(SYS.poll, fds, 1, -2)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.poll, fds, 1, -1500)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.poll, fds, 20 + 1001, 0)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.poll, 0x10n, 1, 0)).error, Errno.EFAULT)
      assert.deepStrictEqual(yield* g.call(SYS.poll, 0, 0, 0), { error: 0, retval0: 0n, retval1: 0n })
    }))
})

describe("pollts", () => {
  it.live("a timespec timeout (NULL: none); the signal mask is read but does not matter", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe(g)
      const fds = g.mem.alloc(pollfds([[r, IN]]))
      const mask = g.mem.alloc(new Uint8Array(16).fill(0xff))
      const [res, took] = yield* elapsed(g.call(SYS.__pollts50, fds, 1, g.mem.alloc(timespec(0, 30_000_000)), mask))
      assert.deepStrictEqual([res.error, res.retval0], [0, 0n])
      assert.isTrue(took >= 25, `waited ${took} ms`)
      const { lwp, fiber } = yield* inLwp(g, SYS.__pollts50, fds, 1, 0, 0)
      yield* untilAsleep(lwp)
      yield* write(g, w, "x")
      assert.strictEqual((yield* Fiber.join(fiber)).retval0, 1n)
      assert.deepStrictEqual(revents(g, fds, 1), [IN])
    }))

  it.effect("EINVAL for tv_nsec out of range or a negative time; EFAULT for a bad timespec or mask", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fds = g.mem.alloc(pollfds([[1, OUT]]))
      assert.strictEqual((yield* g.call(SYS.__pollts50, fds, 1, g.mem.alloc(timespec(0, 1_000_000_000)), 0)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.__pollts50, fds, 1, g.mem.alloc(timespec(-1, 0)), 0)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.__pollts50, fds, 1, 0x10n, 0)).error, Errno.EFAULT)
      assert.strictEqual((yield* g.call(SYS.__pollts50, fds, 1, 0, 0x10n)).error, Errno.EFAULT)
      assert.strictEqual((yield* g.call(SYS.__pollts50, fds, 1, g.mem.alloc(timespec(0, 0)), 0)).retval0, 1n)
    }))
})

describe("select and pselect", () => {
  it.effect("the sets come back holding the ready descriptors; the result counts them", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe(g)
      const zero = g.mem.alloc(timeval(0, 0))
      const rd = g.mem.alloc(fdset(r, w))
      const wr = g.mem.alloc(fdset(r, w, 1))
      const ex = g.mem.alloc(fdset(r))
      const a = yield* g.call(SYS.__select50, w + 1, rd, wr, ex, zero)
      assert.deepStrictEqual([a.error, a.retval0], [0, 2n])
      assert.deepStrictEqual(members(g, rd, 32), [])
      assert.deepStrictEqual(members(g, wr, 32), [1, w])
      assert.deepStrictEqual(members(g, ex, 32), [])
      yield* write(g, w, "x")
      const rd2 = g.mem.alloc(fdset(r, w))
      const b = yield* g.call(SYS.__select50, w + 1, rd2, 0, 0, zero)
      assert.deepStrictEqual([b.error, b.retval0], [0, 1n])
      assert.deepStrictEqual(members(g, rd2, 32), [r])
    }))

  it.effect("only nd descriptors count; EBADF for a set bit on a descriptor that is not open; EINVAL for nd < 0", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const zero = g.mem.alloc(timeval(0, 0))
      const wr = g.mem.alloc(fdset(1, 9))
      // fd 9 lies beyond nd = 5: not looked at
      assert.strictEqual((yield* g.call(SYS.__select50, 5, 0, wr, 0, zero)).retval0, 1n)
      assert.deepStrictEqual(members(g, wr, 32), [1])
      const bad = g.mem.alloc(fdset(1, 9))
      assert.strictEqual((yield* g.call(SYS.__select50, 10, 0, bad, 0, zero)).error, Errno.EBADF)
      assert.deepStrictEqual(members(g, bad, 32), [1, 9], "the sets are left alone on an error")
      assert.strictEqual((yield* g.call(SYS.__select50, -1, 0, 0, 0, zero)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.__select50, 10, 0x10n, 0, 0, zero)).error, Errno.EFAULT)
    }))

  it.live("a timeval timeout: 0 and cleared sets after the time; EINVAL for tv_usec out of range", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r] = yield* pipe(g)
      const rd = g.mem.alloc(fdset(r))
      const [res, took] = yield* elapsed(g.call(SYS.__select50, r + 1, rd, 0, 0, g.mem.alloc(timeval(0, 40_000))))
      assert.deepStrictEqual([res.error, res.retval0], [0, 0n])
      assert.isTrue(took >= 35 && took < 1000, `waited ${took} ms`)
      assert.deepStrictEqual(members(g, rd, 32), [])
      const tv = g.mem.alloc(timeval(0, 1_000_000))
      assert.strictEqual((yield* g.call(SYS.__select50, r + 1, g.mem.alloc(fdset(r)), 0, 0, tv)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.__select50, 0, 0, 0, 0, g.mem.alloc(timeval(-1, 0)))).error, Errno.EINVAL)
      // select(0, NULL, NULL, NULL, &tv) is a sleep
      const [nap, napTook] = yield* elapsed(g.call(SYS.__select50, 0, 0, 0, 0, g.mem.alloc(timeval(0, 30_000))))
      assert.deepStrictEqual([nap.error, nap.retval0], [0, 0n])
      assert.isTrue(napTook >= 25, `napped ${napTook} ms`)
    }))

  it.live("no timeout: select sleeps until a write from another process; lwpExit ends it with EINTR", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const parent = yield* k.guest()
      const [r, w] = yield* pipe(parent)
      const child = yield* k.guest({ parent, mode: "copy" })
      const rd = parent.mem.alloc(fdset(r))
      const sel = yield* inLwp(parent, SYS.__select50, r + 1, rd, 0, 0, 0)
      yield* untilAsleep(sel.lwp)
      assert.isUndefined(sel.fiber.pollUnsafe())
      yield* write(child, w, "x")
      assert.deepStrictEqual(yield* Fiber.join(sel.fiber), { error: 0, retval0: 1n, retval1: 0n })
      assert.deepStrictEqual(members(parent, rd, 32), [r])

      const [r2] = yield* pipe(parent)
      const rd2 = parent.mem.alloc(fdset(r2))
      const stuck = yield* inLwp(parent, SYS.__select50, r2 + 1, rd2, 0, 0, 0)
      yield* untilAsleep(stuck.lwp)
      yield* k.hypervisor.lwpExit(parent.handle)
      assert.strictEqual((yield* Fiber.join(stuck.fiber)).error, Errno.EINTR)
      assert.deepStrictEqual(members(parent, rd2, 32), [r2], "not copied back")
    }))

  it.live("pselect: a timespec timeout and a signal mask, woken by a write", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [r, w] = yield* pipe(g)
      const mask = g.mem.alloc(16)
      const [res, took] = yield* elapsed(
        g.call(SYS.__pselect50, r + 1, g.mem.alloc(fdset(r)), 0, 0, g.mem.alloc(timespec(0, 30_000_000)), mask)
      )
      assert.deepStrictEqual([res.error, res.retval0], [0, 0n])
      assert.isTrue(took >= 25, `waited ${took} ms`)
      const rd = g.mem.alloc(fdset(r))
      const sel = yield* inLwp(g, SYS.__pselect50, r + 1, rd, 0, 0, g.mem.alloc(timespec(10, 0)), mask)
      yield* untilAsleep(sel.lwp)
      yield* write(g, w, "x")
      assert.strictEqual((yield* Fiber.join(sel.fiber)).retval0, 1n)
      assert.deepStrictEqual(members(g, rd, 32), [r])
      assert.strictEqual((yield* g.call(SYS.__pselect50, 0, 0, 0, 0, g.mem.alloc(timespec(0, 2_000_000_000)), 0)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.__pselect50, 0, 0, 0, 0, 0, 0x10n)).error, Errno.EFAULT)
    }))
})
