/**
 * Handshakes end to end, with the real client over real unix sockets and
 * the test kernel behind the server: GUEST, PREFORK + FORK (including the
 * daemon case, cancel, reuse, corruption and expiry) and EXEC (including
 * the requests refused while an exec is in progress).
 */
import { assert, describe, it } from "@effect/vitest"
import { type ClientConnection, connect } from "@sysproxy/client"
import { failure, success } from "@sysproxy/hypervisor/testing"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { Deferred, Effect, Exit, Fiber, Option } from "effect"
import { pollUntil, startServer } from "./support.ts"

/** The server must close this connection soon. */
const awaitClosed = (c: ClientConnection) =>
  c.closed.pipe(
    Effect.timeoutOption("2 seconds"),
    Effect.map((o) => assert.isTrue(Option.isSome(o), "the server should have closed the connection"))
  )

/** `eff` must fail with an ERROR frame of `code`, reported as `errno`. */
const expectServerError = <A, E extends { readonly _tag: string }>(
  eff: Effect.Effect<A, E>,
  code: string,
  errno: number
) =>
  Effect.gen(function*() {
    const e: unknown = yield* Effect.flip(eff)
    assert.include(e as object, { _tag: "ClientError", reason: "ServerError", code, errno })
  })

const pidOf = (c: ClientConnection) =>
  c.syscall(SYS.getpid).pipe(
    Effect.map((r) => {
      assert.strictEqual(r.error, 0)
      return Number(r.retval0)
    })
  )

/** A guest connection and its pid. */
const guest = (url: string, comm = "parent") =>
  Effect.gen(function*() {
    const c = yield* connect(url)
    yield* c.handshakeGuest(comm)
    return { c, pid: yield* pidOf(c) }
  })

/** A syscall number whose handler ignores lwpExit: it stays in the kernel until `gate` opens. */
const STUCK = 2000
/** A syscall that sleeps until ordered out, then takes a while longer to return. */
const SLOW_TO_LEAVE = 2001

describe("guest handshake", () => {
  it.live("creates a process named as sent; getpid answers its pid and ppid", () =>
    Effect.gen(function*() {
      const { kernel, server, url } = yield* startServer()
      const c = yield* connect(url)
      assert.strictEqual(yield* kernel.processCount, 0)
      assert.strictEqual(server.stats().bound, 0)

      yield* c.handshakeGuest("guestprog")
      const procs = yield* kernel.processes
      assert.strictEqual(procs.length, 1)
      const p = procs[0]!
      assert.isAtLeast(p.pid, 2)
      assert.strictEqual(p.comm, "guestprog")
      assert.strictEqual(p.mode, "clear")
      assert.strictEqual(p.ppid, 1)
      assert.strictEqual(server.stats().handshakes.guest, 1)
      assert.strictEqual(server.stats().bound, 1)

      const r = yield* c.syscall(SYS.getpid)
      assert.deepStrictEqual(r, { error: 0, retval0: BigInt(p.pid), retval1: 1n })

      // a second guest is a second process with its own descriptor table
      const other = yield* guest(url, "other")
      assert.notStrictEqual(other.pid, p.pid)
      const q = yield* kernel.process(other.pid)
      assert.strictEqual(q?.comm, "other")
      assert.notStrictEqual(q?.descriptors.id, p.descriptors.id)
    }))
})

describe("prefork and fork handshake", () => {
  it.live("prefork returns a 16-byte cookie; a fork handshake with it binds a child sharing the prefork's table", () =>
    Effect.gen(function*() {
      const { kernel, server, url } = yield* startServer()
      const parent = yield* guest(url)
      const parentInfo = (yield* kernel.process(parent.pid))!

      const cookie = yield* parent.c.prefork()
      assert.strictEqual(cookie.byteLength, 16)
      assert.strictEqual(server.stats().preforks, 1)
      assert.strictEqual(server.stats().handshakes.prefork, 1)
      const procs = yield* kernel.processes
      assert.strictEqual(procs.length, 2)
      const pre = procs.find((p) => p.pid !== parent.pid)!
      assert.strictEqual(pre.mode, "copy")
      assert.strictEqual(pre.ppid, parent.pid)
      assert.strictEqual(pre.descriptors.copiedFrom, parentInfo.descriptors.id)
      assert.notStrictEqual(pre.descriptors.id, parentInfo.descriptors.id)

      // a second prefork gets a different cookie
      const cookie2 = yield* parent.c.prefork()
      assert.notDeepEqual(Array.from(cookie2), Array.from(cookie))
      assert.strictEqual(server.stats().preforks, 2)

      const released = yield* kernel.releasedCount
      const child = yield* connect(url)
      yield* child.handshakeFork(cookie)
      const childPid = yield* pidOf(child)
      assert.notStrictEqual(childPid, parent.pid)
      assert.notStrictEqual(childPid, pre.pid)
      const childInfo = yield* kernel.process(childPid)
      assert.isDefined(childInfo)
      assert.strictEqual(childInfo!.descriptors.id, pre.descriptors.id)
      assert.strictEqual(childInfo!.comm, "parent")
      // the prefork process itself is released once the child has taken over
      assert.isUndefined(yield* kernel.process(pre.pid))
      assert.strictEqual(yield* kernel.releasedCount, released + 1)
      assert.strictEqual(server.stats().preforks, 1)
      assert.strictEqual(server.stats().handshakes.fork, 1)
      assert.deepStrictEqual(yield* kernel.misuse, [])
    }))

  it.live("the same cookie a second time: ERROR INVALID_PREFORK (ESRCH), and the server closes", () =>
    Effect.gen(function*() {
      const { kernel, server, url } = yield* startServer()
      const parent = yield* guest(url)
      const cookie = yield* parent.c.prefork()
      const child = yield* connect(url)
      yield* child.handshakeFork(cookie)
      const count = yield* kernel.processCount

      const again = yield* connect(url)
      yield* expectServerError(again.handshakeFork(cookie), "INVALID_PREFORK", Errno.ESRCH)
      yield* awaitClosed(again)
      assert.strictEqual(yield* kernel.processCount, count)
      assert.strictEqual(server.stats().handshakes.fork, 1)
      // the child that did claim it is unaffected
      assert.strictEqual((yield* child.syscall(SYS.getpid)).error, 0)
    }))

  it.live("a corrupted cookie: ESRCH and close; the true cookie still works afterwards", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const parent = yield* guest(url)
      const cookie = yield* parent.c.prefork()
      const bad = new Uint8Array(cookie)
      bad[7] = bad[7]! ^ 0x01

      const wrong = yield* connect(url)
      yield* expectServerError(wrong.handshakeFork(bad), "INVALID_PREFORK", Errno.ESRCH)
      yield* awaitClosed(wrong)

      const right = yield* connect(url)
      yield* right.handshakeFork(cookie)
      assert.strictEqual((yield* right.syscall(SYS.getpid)).error, 0)
    }))

  it.live("cancel=1: no answer, the connection is closed, the prefork process is released", () =>
    Effect.gen(function*() {
      const { kernel, server, url } = yield* startServer()
      const parent = yield* guest(url)
      const cookie = yield* parent.c.prefork()
      const pre = (yield* kernel.processes).find((p) => p.pid !== parent.pid)!
      const released = yield* kernel.releasedCount

      const child = yield* connect(url)
      yield* child.handshakeFork(cookie, { cancel: true })
      yield* awaitClosed(child)
      assert.strictEqual(child.closedWith?.reason, "Eof")
      // nothing at all came back: no handshake answer, no error frame
      assert.strictEqual(child.stats.unmatchedResponses, 0)
      assert.strictEqual(child.stats.badFrames, 0)
      assert.strictEqual(child.stats.unexpectedFrames, 0)

      yield* pollUntil(kernel.process(pre.pid), (p) => p === undefined, "the prefork process to be released")
      assert.strictEqual(yield* kernel.releasedCount, released + 1)
      assert.strictEqual(server.stats().preforks, 0)
      assert.strictEqual(server.stats().handshakes.fork, 0)
      // the parent is untouched
      assert.isDefined(yield* kernel.process(parent.pid))

      const late = yield* connect(url)
      yield* expectServerError(late.handshakeFork(cookie), "INVALID_PREFORK", Errno.ESRCH)
    }))

  it.live("daemon pattern: the parent disconnects right after prefork; the child connects later and forks", () =>
    Effect.gen(function*() {
      const { kernel, server, url } = yield* startServer()
      const parent = yield* guest(url)
      const cookie = yield* parent.c.prefork()
      const pre = (yield* kernel.processes).find((p) => p.pid !== parent.pid)!
      yield* parent.c.close

      yield* pollUntil(Effect.sync(() => server.stats().clients), (n) => n === 0, "the parent's connection cleanup")
      yield* pollUntil(kernel.process(parent.pid), (p) => p === undefined, "the parent process to be released")
      assert.isDefined(yield* kernel.process(pre.pid), "the prefork must outlive its parent's connection")
      assert.strictEqual(server.stats().preforks, 1)

      yield* Effect.sleep("50 millis")
      const child = yield* connect(url)
      yield* child.handshakeFork(cookie)
      const childPid = yield* pidOf(child)
      const childInfo = (yield* kernel.process(childPid))!
      assert.strictEqual(childInfo.descriptors.id, pre.descriptors.id)
      assert.isUndefined(yield* kernel.process(pre.pid))
      assert.strictEqual(server.stats().preforks, 0)
      assert.deepStrictEqual(yield* kernel.misuse, [])
    }))

  it.live("expiry: an unclaimed prefork is released after preforkExpiry; a late fork handshake gets ESRCH", () =>
    Effect.gen(function*() {
      const { kernel, server, url } = yield* startServer({ preforkExpiry: "200 millis" })
      const parent = yield* guest(url)
      const cookie = yield* parent.c.prefork()
      const pre = (yield* kernel.processes).find((p) => p.pid !== parent.pid)!
      const start = Date.now()
      assert.isDefined(yield* kernel.process(pre.pid))
      assert.strictEqual(server.stats().preforks, 1)

      yield* pollUntil(kernel.process(pre.pid), (p) => p === undefined, "the expired prefork to be released", {
        timeoutMs: 2000
      })
      assert.isAtLeast(Date.now() - start, 150, "released too early")
      assert.strictEqual(server.stats().preforks, 0)
      assert.isDefined(yield* kernel.process(parent.pid))

      const late = yield* connect(url)
      yield* expectServerError(late.handshakeFork(cookie), "INVALID_PREFORK", Errno.ESRCH)
      yield* awaitClosed(late)
      assert.deepStrictEqual(yield* kernel.misuse, [])
    }))
  it.live("a claimed prefork is left alone when its expiry time comes", () =>
    Effect.gen(function*() {
      const { kernel, server, url } = yield* startServer({ preforkExpiry: "150 millis" })
      const parent = yield* guest(url)
      const cookie = yield* parent.c.prefork()
      const child = yield* connect(url)
      yield* child.handshakeFork(cookie)
      const childPid = yield* pidOf(child)
      const released = yield* kernel.releasedCount
      yield* Effect.sleep("300 millis")
      assert.strictEqual(yield* kernel.releasedCount, released)
      assert.isDefined(yield* kernel.process(childPid))
      assert.strictEqual(yield* pidOf(child), childPid)
      assert.strictEqual(server.stats().preforks, 0)
      assert.deepStrictEqual(yield* kernel.misuse, [])
    }))
})

describe("exec handshake", () => {
  it.live("is answered with 0 after the other threads left; the kernel sees execNotify", () =>
    Effect.gen(function*() {
      const { kernel, server, url } = yield* startServer()
      const { c, pid } = yield* guest(url, "before")
      assert.strictEqual((yield* kernel.process(pid))!.execCount, 0)

      // a syscall that, once ordered out, still takes 150 ms to leave the kernel:
      // the exec answer must wait for it
      yield* kernel.setHandler(SLOW_TO_LEAVE, (ctx) =>
        ctx.sleep.pipe(Effect.andThen(Effect.sleep("150 millis")), Effect.as(failure(Errno.EINTR))))
      const slow = yield* c.syscall(SLOW_TO_LEAVE).pipe(Effect.forkChild)
      yield* kernel.awaitSleeping(1).pipe(Effect.timeout("2 seconds"))
      const start = Date.now()
      yield* c.handshakeExec("after")
      assert.isAtLeast(Date.now() - start, 140, "exec answered before the other lwp left the kernel")
      assert.strictEqual(yield* kernel.lwpCount, 0)
      const r = yield* Fiber.join(slow)
      assert.strictEqual(r.error, Errno.EINTR)

      const info = (yield* kernel.process(pid))!
      assert.strictEqual(info.execCount, 1)
      assert.strictEqual(info.comm, "after")
      assert.isFalse(info.lwpExitPending)
      assert.strictEqual(server.stats().handshakes.exec, 1)
      // the same process goes on after exec, and may exec again
      assert.strictEqual(yield* pidOf(c), pid)
      yield* c.handshakeExec("again")
      const again = (yield* kernel.process(pid))!
      assert.strictEqual(again.execCount, 2)
      assert.strictEqual(again.comm, "again")
    }))

  it.live("a second EXEC while the first is pending: ERROR INEXEC (EBUSY) and close", () =>
    Effect.gen(function*() {
      const { kernel, server, url } = yield* startServer({ disconnectGrace: "300 millis" })
      const gate = yield* Deferred.make<void>()
      yield* kernel.setHandler(STUCK, () => Deferred.await(gate).pipe(Effect.as(success())))
      const { c, pid } = yield* guest(url, "before")

      const stuck = yield* c.syscall(STUCK).pipe(Effect.exit, Effect.forkChild)
      yield* pollUntil(kernel.lwpCount, (n) => n === 1, "the stuck syscall to enter the kernel")
      const firstExec = yield* c.handshakeExec("first").pipe(Effect.exit, Effect.forkChild)
      yield* pollUntil(kernel.process(pid), (p) => p?.lwpExitPending === true, "the exec to start draining")
      yield* Effect.sleep("50 millis")
      assert.isUndefined(firstExec.pollUnsafe(), "the first exec must wait for the stuck syscall")

      yield* expectServerError(c.handshakeExec("second"), "INEXEC", Errno.EBUSY)
      yield* awaitClosed(c)
      const first = yield* Fiber.join(firstExec)
      assert.isTrue(Exit.isFailure(first), "the first exec is never answered on a dead connection")
      assert.strictEqual(server.stats().handshakes.exec, 0)

      yield* Deferred.succeed(gate, undefined)
      yield* Fiber.join(stuck)
      yield* pollUntil(kernel.processCount, (n) => n === 0, "the process to be released")
      assert.deepStrictEqual(yield* kernel.misuse, [])
    }))

  it.live("PREFORK while an exec is pending: ERROR INEXEC (EBUSY) and close", () =>
    Effect.gen(function*() {
      const { kernel, server, url } = yield* startServer({ disconnectGrace: "300 millis" })
      const gate = yield* Deferred.make<void>()
      yield* kernel.setHandler(STUCK, () => Deferred.await(gate).pipe(Effect.as(success())))
      const { c, pid } = yield* guest(url, "before")

      yield* c.syscall(STUCK).pipe(Effect.exit, Effect.forkChild)
      yield* pollUntil(kernel.lwpCount, (n) => n === 1, "the stuck syscall to enter the kernel")
      yield* c.handshakeExec("first").pipe(Effect.exit, Effect.forkChild)
      yield* pollUntil(kernel.process(pid), (p) => p?.lwpExitPending === true, "the exec to start draining")

      yield* expectServerError(c.prefork(), "INEXEC", Errno.EBUSY)
      yield* awaitClosed(c)
      assert.strictEqual(server.stats().preforks, 0)
      assert.strictEqual(server.stats().handshakes.prefork, 0)

      yield* Deferred.succeed(gate, undefined)
      yield* pollUntil(kernel.processCount, (n) => n === 0, "the process to be released")
      assert.deepStrictEqual(yield* kernel.misuse, [])
    }))
})
