/**
 * The rules the server enforces on what a client sends, checked with raw
 * frames over node:net (bytes the real client would never send): what is
 * refused, whether the connection survives it, and that one client's
 * garbage does not disturb another.
 */
import { assert, describe, it } from "@effect/vitest"
import { connect } from "@sysproxy/client"
import { FrameClasses, FrameTypes, HandshakeKinds } from "@sysproxy/protocol"
import { SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import * as Crypto from "node:crypto"
import {
  encode,
  getpidFrame,
  guestFrame,
  header,
  pollUntil,
  rawConnect,
  rawFrame,
  rawGuest,
  startServer
} from "./support.ts"

const AUTH = 2
const MALFORMED_REQUEST = 7

const { REQ, RESP, ERROR } = FrameClasses

/** A connection past its banner, nothing sent yet. */
const fresh = (url: string) =>
  Effect.gen(function*() {
    const conn = yield* rawConnect(url)
    yield* conn.readBanner()
    return conn
  })

describe("the first request", () => {
  it.live("a SYSCALL before any handshake: ERROR AUTH with its reqno, then the server closes", () =>
    Effect.gen(function*() {
      const { kernel, url } = yield* startServer()
      const conn = yield* fresh(url)
      yield* conn.write(getpidFrame(42n))
      const e = yield* conn.next("ErrorFrame")
      assert.deepStrictEqual(e, { _tag: "ErrorFrame", reqno: 42n, code: AUTH })
      yield* conn.awaitClosed()
      assert.strictEqual(conn.pendingFrames, 0)
      assert.strictEqual(yield* kernel.processCount, 0)
    }))

  it.live("a HANDSHAKE of kind AUTH (1) first: ERROR AUTH and close", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const conn = yield* fresh(url)
      yield* conn.write(rawFrame(7n, REQ, FrameTypes.HANDSHAKE, HandshakeKinds.AUTH, new TextEncoder().encode("x\0")))
      const e = yield* conn.next("ErrorFrame")
      assert.deepStrictEqual(e, { _tag: "ErrorFrame", reqno: 7n, code: AUTH })
      yield* conn.awaitClosed()
    }))

  it.live("a HANDSHAKE EXEC first: ERROR AUTH and close", () =>
    Effect.gen(function*() {
      const { kernel, url } = yield* startServer()
      const conn = yield* fresh(url)
      yield* conn.write(encode({ _tag: "HandshakeExec", reqno: 9n, comm: "prog" }))
      const e = yield* conn.next("ErrorFrame")
      assert.deepStrictEqual(e, { _tag: "ErrorFrame", reqno: 9n, code: AUTH })
      yield* conn.awaitClosed()
      assert.strictEqual(yield* kernel.processCount, 0)
    }))

  it.live.each([
    { name: "PREFORK", bytes: rawFrame(11n, REQ, FrameTypes.PREFORK, 0) },
    { name: "a COPYIN-type request", bytes: rawFrame(11n, REQ, FrameTypes.COPYIN, 0, new Uint8Array(16)) },
    { name: "a request of unknown type 9", bytes: rawFrame(11n, REQ, 9, 0) },
    { name: "a HANDSHAKE of unknown kind 4", bytes: rawFrame(11n, REQ, FrameTypes.HANDSHAKE, 4, new Uint8Array(2)) }
  ])("$name first: ERROR AUTH and close", ({ bytes }) =>
    Effect.gen(function*() {
      const { kernel, url } = yield* startServer()
      const conn = yield* fresh(url)
      yield* conn.write(bytes)
      assert.deepStrictEqual(yield* conn.next("ErrorFrame"), { _tag: "ErrorFrame", reqno: 11n, code: AUTH })
      yield* conn.awaitClosed()
      assert.strictEqual(yield* kernel.processCount, 0)
    }))

  it.live("a FORK handshake with a 19-byte body: ERROR MALFORMED_REQUEST and close", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const conn = yield* fresh(url)
      yield* conn.write(rawFrame(3n, REQ, FrameTypes.HANDSHAKE, HandshakeKinds.FORK, new Uint8Array(19)))
      const e = yield* conn.next("ErrorFrame")
      assert.deepStrictEqual(e, { _tag: "ErrorFrame", reqno: 3n, code: MALFORMED_REQUEST })
      yield* conn.awaitClosed()
    }))
})

describe("a running connection", () => {
  it.live("HANDSHAKE GUEST again: ERROR MALFORMED_REQUEST and close", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const { conn } = yield* rawGuest(url)
      yield* conn.write(guestFrame(5n, "again"))
      const e = yield* conn.next("ErrorFrame")
      assert.deepStrictEqual(e, { _tag: "ErrorFrame", reqno: 5n, code: MALFORMED_REQUEST })
      yield* conn.awaitClosed()
    }))

  it.live("HANDSHAKE FORK on a running connection: MALFORMED_REQUEST and close; the cookie is not used up", () =>
    Effect.gen(function*() {
      const { server, url } = yield* startServer()
      const parent = yield* connect(url)
      yield* parent.handshakeGuest("parent")
      const cookie = yield* parent.prefork()

      const { conn } = yield* rawGuest(url)
      yield* conn.write(encode({ _tag: "HandshakeFork", reqno: 6n, cookie, cancel: 0 }))
      assert.deepStrictEqual(yield* conn.next("ErrorFrame"), { _tag: "ErrorFrame", reqno: 6n, code: MALFORMED_REQUEST })
      yield* conn.awaitClosed()
      assert.strictEqual(server.stats().preforks, 1)
      const child = yield* connect(url)
      yield* child.handshakeFork(cookie)
    }))

  it.live("a HANDSHAKE of unknown kind on a running connection: MALFORMED_REQUEST and close", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const { conn } = yield* rawGuest(url)
      yield* conn.write(rawFrame(8n, REQ, FrameTypes.HANDSHAKE, 4))
      assert.deepStrictEqual(yield* conn.next("ErrorFrame"), { _tag: "ErrorFrame", reqno: 8n, code: MALFORMED_REQUEST })
      yield* conn.awaitClosed()
    }))

  it.live("a COPYIN request from the client: MALFORMED_REQUEST, the connection stays usable", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const { conn, pid } = yield* rawGuest(url)
      yield* conn.write(encode({ _tag: "CopyinRequest", reqno: 10n, len: 4n, addr: 0x1000n }))
      assert.deepStrictEqual(yield* conn.next("ErrorFrame"), { _tag: "ErrorFrame", reqno: 10n, code: MALFORMED_REQUEST })
      yield* conn.write(getpidFrame(11n))
      const r = yield* conn.next("SyscallResponse")
      assert.strictEqual(r.reqno, 11n)
      assert.strictEqual(r.error, 0)
      assert.strictEqual(Number(r.retval0), pid)
      assert.isFalse(conn.closed)
    }))

  it.live("a request of unknown type (9): MALFORMED_REQUEST, the connection stays usable", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const { conn, pid } = yield* rawGuest(url)
      yield* conn.write(rawFrame(20n, REQ, 9, 0, new Uint8Array(8)))
      assert.deepStrictEqual(yield* conn.next("ErrorFrame"), { _tag: "ErrorFrame", reqno: 20n, code: MALFORMED_REQUEST })
      yield* conn.write(getpidFrame(21n))
      const r = yield* conn.next("SyscallResponse")
      assert.deepStrictEqual([r.reqno, r.error, Number(r.retval0)], [21n, 0, pid])
    }))

  it.live("a frame of class 3: MALFORMED_REQUEST, the connection stays usable", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const { conn, pid } = yield* rawGuest(url)
      yield* conn.write(rawFrame(30n, 3, FrameTypes.SYSCALL, 20))
      assert.deepStrictEqual(yield* conn.next("ErrorFrame"), { _tag: "ErrorFrame", reqno: 30n, code: MALFORMED_REQUEST })
      yield* conn.write(getpidFrame(31n))
      const r = yield* conn.next("SyscallResponse")
      assert.deepStrictEqual([r.reqno, r.error, Number(r.retval0)], [31n, 0, pid])
    }))

  it.live("an ERROR frame from the client: MALFORMED_REQUEST, the connection stays usable", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const { conn, pid } = yield* rawGuest(url)
      yield* conn.write(rawFrame(40n, ERROR, 0, 1))
      assert.deepStrictEqual(yield* conn.next("ErrorFrame"), { _tag: "ErrorFrame", reqno: 40n, code: MALFORMED_REQUEST })
      yield* conn.write(getpidFrame(41n))
      const r = yield* conn.next("SyscallResponse")
      assert.deepStrictEqual([r.reqno, r.error, Number(r.retval0)], [41n, 0, pid])
    }))

  it.live("a RESP with a reqno nobody waits for is dropped silently", () =>
    Effect.gen(function*() {
      const { server, url } = yield* startServer()
      const { conn, pid } = yield* rawGuest(url)
      const errors = server.stats().protocolErrors
      yield* conn.write(encode({ _tag: "CopyinResponse", reqno: 12345n, data: new Uint8Array([1, 2, 3]) }))
      yield* conn.write(encode({ _tag: "AnonmmapResponse", reqno: 999n, addr: 0x5000n }))
      yield* conn.write(rawFrame(777n, RESP, FrameTypes.SYSCALL, 0, new Uint8Array(24)))
      yield* Effect.sleep("150 millis")
      assert.strictEqual(conn.pendingFrames, 0, "nothing may be sent back for a stray answer")
      assert.isFalse(conn.closed)
      yield* conn.write(getpidFrame(50n))
      const r = yield* conn.next("SyscallResponse")
      assert.deepStrictEqual([r.reqno, r.error, Number(r.retval0)], [50n, 0, pid])
      assert.strictEqual(conn.pendingFrames, 0)
      assert.strictEqual(server.stats().protocolErrors, errors)
    }))
})

describe("frames that cannot be cut", () => {
  it.live("len < 24: the connection is closed", () =>
    Effect.gen(function*() {
      const { server, url } = yield* startServer()
      const { conn } = yield* rawGuest(url)
      const errors = server.stats().protocolErrors
      yield* conn.write(header(10, 60n, REQ, FrameTypes.SYSCALL, SYS.getpid))
      yield* conn.awaitClosed()
      assert.strictEqual(conn.pendingFrames, 0)
      assert.isAbove(server.stats().protocolErrors, errors)
    }))

  it.live("a frame claiming 1 GiB: closed before any body byte is sent; protocolErrors grows", () =>
    Effect.gen(function*() {
      const { server, url } = yield* startServer()
      const { conn } = yield* rawGuest(url)
      const errors = server.stats().protocolErrors
      yield* conn.write(header(1024 * 1024 * 1024, 61n, REQ, FrameTypes.SYSCALL, SYS.write))
      // only the header was sent: the server must not wait for the body
      yield* conn.awaitClosed(2000)
      assert.strictEqual(conn.pendingFrames, 0)
      assert.strictEqual(server.stats().protocolErrors, errors + 1)
    }))

  it.live("maxFrameLength: a frame of exactly the limit is served, one byte more closes the connection", () =>
    Effect.gen(function*() {
      const { server, url } = yield* startServer({ maxFrameLength: 1024 })
      const { conn, pid } = yield* rawGuest(url)
      // getpid ignores its argument block, so the frame's size is all that matters
      yield* conn.write(rawFrame(70n, REQ, FrameTypes.SYSCALL, SYS.getpid, new Uint8Array(1024 - 24)))
      const r = yield* conn.next("SyscallResponse")
      assert.deepStrictEqual([r.reqno, r.error, Number(r.retval0)], [70n, 0, pid])
      const errors = server.stats().protocolErrors
      yield* conn.write(header(1025, 71n, REQ, FrameTypes.SYSCALL, SYS.getpid))
      yield* conn.awaitClosed()
      assert.strictEqual(conn.pendingFrames, 0)
      assert.strictEqual(server.stats().protocolErrors, errors + 1)
    }))

  it.live("garbage on one connection does not disturb another client's syscalls", () =>
    Effect.gen(function*() {
      const { server, url } = yield* startServer()
      const good = yield* connect(url)
      yield* good.handshakeGuest("good")
      const pid = (yield* good.syscall(SYS.getpid)).retval0

      const { conn: bad } = yield* rawGuest(url, "bad")
      const noise = Effect.gen(function*() {
        for (let i = 0; i < 20 && !bad.closed; i++) {
          yield* bad.write(new Uint8Array(Crypto.randomBytes(4096)))
          yield* Effect.sleep("2 millis")
        }
      })
      const work = Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        () => good.syscall(SYS.getpid),
        { concurrency: 8 }
      )
      const [, results] = yield* Effect.all([noise, work], { concurrency: 2 })
      assert.strictEqual(results.length, 200)
      for (const r of results) {
        assert.strictEqual(r.error, 0)
        assert.strictEqual(r.retval0, pid)
      }
      yield* bad.awaitClosed()
      assert.isAbove(server.stats().protocolErrors, 0)
      assert.isUndefined(good.closedWith)
      assert.strictEqual((yield* good.syscall(SYS.getpid)).retval0, pid)
    }))
})

describe("handshake timeout", () => {
  it.live("an idle connection is closed after handshakeTimeout, not before", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer({ handshakeTimeout: "300 millis" })
      const start = Date.now()
      const conn = yield* fresh(url)
      yield* Effect.sleep("150 millis")
      assert.isFalse(conn.closed, "closed before the handshake timeout")
      yield* conn.awaitClosed(2000)
      assert.isAtLeast(conn.closedAt! - start, 250)
      assert.strictEqual(conn.pendingFrames, 0)
    }))

  it.live("a connection sending one header byte at a time, slower than the timeout, is closed", () =>
    Effect.gen(function*() {
      const { kernel, url } = yield* startServer({ handshakeTimeout: "300 millis" })
      const conn = yield* fresh(url)
      const frame = guestFrame(0n, "slow")
      let sent = 0
      // 24 header bytes at one per 50 ms would take 1.2 s
      while (sent < 24 && !conn.closed) {
        yield* conn.write(frame.subarray(sent, sent + 1))
        sent++
        yield* Effect.sleep("50 millis")
      }
      yield* conn.awaitClosed(2000)
      assert.isBelow(sent, 24, "the server waited for the whole header")
      assert.strictEqual(conn.pendingFrames, 0)
      assert.strictEqual(yield* kernel.processCount, 0)
    }))

  it.live("a connection that completes its handshake in time is not closed by the timer", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer({ handshakeTimeout: "300 millis" })
      const conn = yield* fresh(url)
      yield* Effect.sleep("100 millis")
      yield* conn.write(guestFrame(0n, "intime"))
      assert.strictEqual((yield* conn.next("HandshakeResponse")).error, 0)
      yield* Effect.sleep("450 millis")
      assert.isFalse(conn.closed)
      yield* conn.write(getpidFrame(1n))
      assert.strictEqual((yield* conn.next("SyscallResponse")).error, 0)
    }))
})

describe("cleanup after refusals", () => {
  it.live("every refused connection releases its slot", () =>
    Effect.gen(function*() {
      const { server, url } = yield* startServer()
      const conns = yield* Effect.forEach([1, 2, 3], () => fresh(url))
      yield* Effect.forEach(conns, (c, i) => c.write(getpidFrame(BigInt(i))))
      yield* Effect.forEach(conns, (c) => c.awaitClosed())
      yield* pollUntil(Effect.sync(() => server.stats().clients), (n) => n === 0, "the refused connections' cleanup")
      assert.strictEqual(server.stats().bound, 0)
    }))
})
