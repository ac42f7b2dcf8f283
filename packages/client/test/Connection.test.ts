import { assert, describe, it } from "@effect/vitest"
import { encodeFrame, type Frame, type FrameOf, type FrameTag } from "@sysproxy/protocol"
import { Errno, signals as Signals, SYS } from "@sysproxy/protocol/netbsd"
import { Cause, Deferred, Effect, Exit, Fiber, Result } from "effect"
import { type ClientConnection, connect } from "../src/Connection.ts"
import { ClientError, ConnectionClosed } from "../src/Errors.ts"
import { BANNER, fakeServer, type Peer } from "./FakeServer.ts"

const utf8 = new TextEncoder()

const isTag = <T extends FrameTag>(frame: Frame, tag: T): frame is FrameOf<T> => frame._tag === tag

/** The client's next frame, which must be a `tag`. */
const nextOf = <T extends FrameTag>(peer: Peer, tag: T): Effect.Effect<FrameOf<T>> =>
  peer.next.pipe(
    Effect.flatMap((f) => isTag(f, tag) ? Effect.succeed(f) : Effect.die(`expected ${tag}, got ${f._tag}`))
  )

/** A header, built by hand so the wire checks do not trust the encoder under test. */
const header = (len: number, reqno: bigint, cls: number, type: number, arg: number): Uint8Array => {
  const b = new Uint8Array(24)
  const v = new DataView(b.buffer)
  v.setBigUint64(0, BigInt(len), true)
  v.setBigUint64(8, reqno, true)
  v.setUint16(16, cls, true)
  v.setUint16(18, type, true)
  v.setUint32(20, arg, true)
  return b
}

const cat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => Buffer.concat(parts)

const slots = (...values: ReadonlyArray<bigint>): Uint8Array => {
  const b = new Uint8Array(values.length * 8)
  const v = new DataView(b.buffer)
  values.forEach((x, i) => v.setBigUint64(i * 8, x, true))
  return b
}

/** Connects to a fresh fake server and accepts the connection on the server side. */
const setup = Effect.gen(function*() {
  const server = yield* fakeServer()
  const client = yield* connect(server.url)
  const peer = yield* server.accept
  return { server, client, peer }
})

/** `setup`, then a successful guest handshake (reqno 0). */
const guest = Effect.gen(function*() {
  const s = yield* setup
  const handshake = yield* s.client.handshakeGuest("test").pipe(Effect.forkChild)
  const request = yield* nextOf(s.peer, "HandshakeGuest")
  yield* s.peer.send({ _tag: "HandshakeResponse", reqno: request.reqno, error: 0 })
  yield* Fiber.join(handshake)
  return s
})

/** A COPYIN round trip: once it is answered, every frame sent before it has been handled. */
const fence = (client: ClientConnection, peer: Peer) =>
  Effect.gen(function*() {
    const addr = client.space.alloc(1)
    yield* peer.send({ _tag: "CopyinRequest", reqno: 9999n, len: 1n, addr })
    yield* nextOf(peer, "CopyinResponse")
  })

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error("expected a failure, got a success")
  const error = Cause.findError(exit.cause)
  if (Result.isFailure(error)) throw new Error(`expected a typed failure, got ${String(exit.cause)}`)
  return error.success
}

describe("connect", () => {
  it.live("parses the banner and sends a guest handshake byte for byte", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* guest
      assert.deepStrictEqual(client.banner, {
        major: 0,
        minor: 4,
        identity: { ostype: "NetBSD", osrelease: "7.99.34", machine: "amd64" }
      })
      // REQ HANDSHAKE GUEST, reqno 0, "test\0"
      assert.deepStrictEqual(peer.bytes, cat(header(29, 0n, 0, 0, 0), utf8.encode("test\0")))
      assert.strictEqual(client.pendingCount, 0)
    }))

  it.live("refuses a wildcard or malformed URL and reports a refused connection", () =>
    Effect.gen(function*() {
      const wildcard = failureOf(yield* Effect.exit(connect("tcp://*:1234")))
      assert.instanceOf(wildcard, ClientError)
      assert.strictEqual(wildcard._tag === "ClientError" && wildcard.reason, "BadUrl")
      const missing = failureOf(yield* Effect.exit(connect("unix:///nonexistent/sysproxy.sock")))
      assert.instanceOf(missing, ClientError)
      if (missing._tag === "ClientError") {
        assert.strictEqual(missing.reason, "ConnectFailed")
        assert.strictEqual(missing.errno, Errno.ENOENT)
      }
    }))

  it.live("fails without a newline in the first 96 bytes", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer({ banner: "x".repeat(100) })
      const error = failureOf(yield* Effect.exit(connect(server.url)))
      assert.instanceOf(error, ClientError)
      assert.strictEqual(error._tag === "ClientError" && error.reason, "BadBanner")
    }))

  it.live("fails with ConnectionClosed when a full server closes before the banner", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer({ banner: undefined, closeOnAccept: true })
      const error = failureOf(yield* Effect.exit(connect(server.url)))
      assert.instanceOf(error, ConnectionClosed)
    }))

  it.live("handles frames that arrive in the same chunk as the banner", () =>
    Effect.gen(function*() {
      const raise = yield* encodeFrame({ _tag: "RaiseRequest", reqno: 7n, signo: Signals.SIGUSR1 })
      const server = yield* fakeServer({ banner: cat(utf8.encode(BANNER), raise) })
      const client = yield* connect(server.url)
      assert.strictEqual(yield* client.takeSignal, Signals.SIGUSR1)
    }))

  it.live("speaks the same over tcp://", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer({ banner: BANNER, tcp: true })
      assert.match(server.url, /^tcp:\/\/127\.0\.0\.1:\d+$/)
      const client = yield* connect(server.url)
      const peer = yield* server.accept
      const handshake = yield* client.handshakeGuest("tcp").pipe(Effect.forkChild)
      const req = yield* nextOf(peer, "HandshakeGuest")
      assert.strictEqual(req.comm, "tcp")
      yield* peer.send({ _tag: "HandshakeResponse", reqno: req.reqno, error: 0 })
      yield* Fiber.join(handshake)
      assert.strictEqual(client.url._tag, "Tcp")
    }))

  it.live("closes the socket when the scope closes", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer()
      const client = yield* Effect.scoped(connect(server.url))
      const peer = yield* server.accept
      yield* peer.end // completes only once the server side saw the close
      yield* client.closed
      assert.strictEqual(client.closedWith?.reason, "Local")
    }))
})

describe("syscalls", () => {
  it.live("serves copyin, copyout and raise while syscalls are in flight, matched by reqno", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* guest
      const hello = client.space.alloc(utf8.encode("hello"))
      const out = client.space.alloc(8)

      const write = yield* client.syscall(SYS.write, [3, hello, 5]).pipe(Effect.forkChild)
      const writeReq = yield* nextOf(peer, "SyscallRequest")
      const getpid = yield* client.syscall(SYS.getpid, []).pipe(Effect.forkChild)
      const getpidReq = yield* nextOf(peer, "SyscallRequest")
      assert.strictEqual(client.pendingCount, 2)

      // each request has its own reqno, and the write is on the wire byte for byte
      assert.strictEqual(writeReq.reqno, 1n)
      assert.strictEqual(getpidReq.reqno, 2n)
      assert.deepStrictEqual(
        peer.bytes.subarray(29, 29 + 48),
        cat(header(48, 1n, 0, 1, SYS.write), slots(3n, hello, 5n))
      )
      assert.deepStrictEqual(peer.bytes.subarray(29 + 48), header(24, 2n, 0, 1, SYS.getpid))

      // the server pulls the buffer behind the write's pointer
      yield* peer.send({ _tag: "CopyinRequest", reqno: 100n, len: 5n, addr: hello })
      const copyin = yield* nextOf(peer, "CopyinResponse")
      assert.strictEqual(copyin.reqno, 100n)
      assert.deepStrictEqual(copyin.data, utf8.encode("hello"))
      assert.deepStrictEqual(peer.bytes.subarray(29 + 48 + 24), cat(header(29, 100n, 1, 2, 0), utf8.encode("hello")))

      // then pushes data out and raises a signal, then answers out of order
      yield* peer.send(
        { _tag: "CopyoutRequest", reqno: 101n, addr: out + 2n, data: new Uint8Array([1, 2, 3]) },
        { _tag: "RaiseRequest", reqno: 102n, signo: Signals.SIGINT },
        { _tag: "SyscallResponse", reqno: getpidReq.reqno, error: 0, retval0: 42n, retval1: 0n },
        { _tag: "SyscallResponse", reqno: writeReq.reqno, error: 0, retval0: 5n, retval1: 0n }
      )
      assert.deepStrictEqual(yield* Fiber.join(getpid), { error: 0, retval0: 42n, retval1: 0n })
      assert.deepStrictEqual(yield* Fiber.join(write), { error: 0, retval0: 5n, retval1: 0n })
      assert.strictEqual(yield* client.takeSignal, Signals.SIGINT)
      assert.deepStrictEqual(client.signals, [Signals.SIGINT])
      assert.deepStrictEqual(client.space.read(out, 8), new Uint8Array([0, 0, 1, 2, 3, 0, 0, 0]))
      assert.strictEqual(client.pendingCount, 0)
      assert.deepStrictEqual(client.stats, {
        copyinFaults: 0,
        copyoutFaults: 0,
        unmatchedResponses: 0,
        unexpectedFrames: 0,
        badFrames: 0
      })
    }))

  it.live("encodes negative arguments as 64-bit two's complement and passes raw blocks through", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* guest
      const path = client.space.allocString("/etc/passwd")
      const open = yield* client.syscall(SYS.openat, [-100, path, 0, 0]).pipe(Effect.forkChild)
      const req = yield* nextOf(peer, "SyscallRequest")
      assert.strictEqual(req.sysnum, SYS.openat)
      assert.deepStrictEqual(req.args, slots(0xffffffffffffff9cn, path, 0n, 0n))
      yield* peer.send({ _tag: "SyscallResponse", reqno: req.reqno, error: Errno.ENOENT, retval0: -1n, retval1: 0n })
      // a syscall error is a result, not a failure
      assert.deepStrictEqual(yield* Fiber.join(open), { error: Errno.ENOENT, retval0: -1n, retval1: 0n })

      const raw = new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])
      const rawCall = yield* client.syscall(SYS.close, raw).pipe(Effect.forkChild)
      const rawReq = yield* nextOf(peer, "SyscallRequest")
      assert.deepStrictEqual(rawReq.args, raw)
      yield* peer.send({ _tag: "SyscallResponse", reqno: rawReq.reqno, error: 0, retval0: 0n, retval1: 0n })
      yield* Fiber.join(rawCall)

      const bad = failureOf(yield* Effect.exit(client.syscall(SYS.close, [1.5])))
      assert.strictEqual(bad._tag === "ClientError" && bad.reason, "BadRequest")
      assert.strictEqual(client.pendingCount, 0)
    }))

  it.live("answers many concurrent syscalls out of order by reqno", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* guest
      const n = 25
      const calls = yield* Effect.forEach(
        Array.from({ length: n }, (_, i) => i),
        (i) => client.syscall(SYS.getpid, [i]).pipe(Effect.forkChild)
      )
      const requests = yield* Effect.forEach(calls, () => nextOf(peer, "SyscallRequest"))
      assert.strictEqual(new Set(requests.map((r) => r.reqno)).size, n)
      assert.strictEqual(client.pendingCount, n)
      // answer in reverse, each with the value of its first argument slot
      for (const req of [...requests].reverse()) {
        const id = new DataView(req.args.buffer, req.args.byteOffset).getBigUint64(0, true)
        yield* peer.send({ _tag: "SyscallResponse", reqno: req.reqno, error: 0, retval0: id * 10n, retval1: id })
      }
      const results = yield* Effect.forEach(calls, Fiber.join)
      results.forEach((r, i) => {
        assert.strictEqual(r.retval0, BigInt(i) * 10n)
        assert.strictEqual(r.retval1, BigInt(i))
      })
      assert.strictEqual(client.pendingCount, 0)
    }))

  it.live("forgets an interrupted request and drops its late answer", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* guest
      const call = yield* client.syscall(SYS.getpid, []).pipe(Effect.forkChild)
      const req = yield* nextOf(peer, "SyscallRequest")
      assert.strictEqual(client.pendingCount, 1)
      yield* Fiber.interrupt(call)
      assert.strictEqual(client.pendingCount, 0)
      yield* peer.send({ _tag: "SyscallResponse", reqno: req.reqno, error: 0, retval0: 1n, retval1: 0n })
      yield* fence(client, peer)
      assert.strictEqual(client.stats.unmatchedResponses, 1)
    }))
})

describe("the server's requests", () => {
  it.live("copyin faults, copyinstr limits, anonmmap and copyout faults", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* guest
      const five = client.space.alloc(utf8.encode("12345"))
      const path = client.space.allocString("/etc/passwd")

      // unmapped and overrunning copyins: an empty answer, counted
      yield* peer.send({ _tag: "CopyinRequest", reqno: 1n, len: 4n, addr: 0x1000n })
      assert.deepStrictEqual((yield* nextOf(peer, "CopyinResponse")).data, new Uint8Array(0))
      yield* peer.send({ _tag: "CopyinRequest", reqno: 2n, len: 6n, addr: five })
      assert.deepStrictEqual((yield* nextOf(peer, "CopyinResponse")).data, new Uint8Array(0))
      assert.strictEqual(client.stats.copyinFaults, 2)

      // copyinstr: the string with its NUL, or cut at len (answered as type COPYIN)
      yield* peer.send({ _tag: "CopyinstrRequest", reqno: 3n, len: 100n, addr: path })
      const whole = yield* nextOf(peer, "CopyinResponse")
      assert.deepStrictEqual(whole.data, utf8.encode("/etc/passwd\0"))
      yield* peer.send({ _tag: "CopyinstrRequest", reqno: 4n, len: 4n, addr: path })
      assert.deepStrictEqual((yield* nextOf(peer, "CopyinResponse")).data, utf8.encode("/etc"))

      // anonmmap: a fresh mapping in the address space; an absurd size gets 0
      yield* peer.send({ _tag: "AnonmmapRequest", reqno: 5n, size: 8192n })
      const mapped = yield* nextOf(peer, "AnonmmapResponse")
      assert.strictEqual(mapped.reqno, 5n)
      assert.notStrictEqual(mapped.addr, 0n)
      assert.isTrue(client.space.isMapped(mapped.addr, 8192))
      yield* peer.send({ _tag: "AnonmmapRequest", reqno: 6n, size: 2n * 1024n * 1024n * 1024n })
      assert.strictEqual((yield* nextOf(peer, "AnonmmapResponse")).addr, 0n)

      // copyout into the new mapping works; past its end it is a counted fault
      yield* peer.send(
        { _tag: "CopyoutstrRequest", reqno: 7n, addr: mapped.addr + 8n, data: utf8.encode("hi\0") },
        { _tag: "CopyoutRequest", reqno: 8n, addr: mapped.addr + 8190n, data: new Uint8Array(4) }
      )
      yield* fence(client, peer)
      assert.strictEqual(client.space.readString(mapped.addr + 8n), "hi")
      assert.strictEqual(client.stats.copyoutFaults, 1)
      assert.strictEqual(client.pendingCount, 0)
    }))
})

describe("errors and closing", () => {
  it.live("maps an ERROR frame to ClientError with the code name and errno", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* guest
      const prefork = yield* Effect.exit(client.prefork()).pipe(Effect.forkChild)
      const req = yield* nextOf(peer, "PreforkRequest")
      yield* peer.send({ _tag: "ErrorFrame", reqno: req.reqno, code: 3 })
      const error = failureOf(yield* Fiber.join(prefork))
      assert.instanceOf(error, ClientError)
      if (error._tag === "ClientError") {
        assert.strictEqual(error.reason, "ServerError")
        assert.strictEqual(error.code, "INVALID_PREFORK")
        assert.strictEqual(error.errno, Errno.ESRCH)
      }

      const call = yield* Effect.exit(client.syscall(SYS.getpid)).pipe(Effect.forkChild)
      const callReq = yield* nextOf(peer, "SyscallRequest")
      yield* peer.send({ _tag: "ErrorFrame", reqno: callReq.reqno, code: 7 })
      const malformed = failureOf(yield* Fiber.join(call))
      assert.strictEqual(malformed._tag === "ClientError" && malformed.errno, Errno.EINVAL)
      assert.strictEqual(client.pendingCount, 0)
    }))

  it.live("prefork returns the cookie and fork handshakes carry it", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* guest
      const cookie = new Uint8Array(16).map((_, i) => i + 1)
      const prefork = yield* client.prefork().pipe(Effect.forkChild)
      const req = yield* nextOf(peer, "PreforkRequest")
      yield* peer.send({ _tag: "PreforkResponse", reqno: req.reqno, cookie })
      assert.deepStrictEqual(yield* Fiber.join(prefork), cookie)

      const server2 = yield* fakeServer()
      const child = yield* connect(server2.url)
      const childPeer = yield* server2.accept
      const fork = yield* child.handshakeFork(cookie).pipe(Effect.forkChild)
      const forkReq = yield* nextOf(childPeer, "HandshakeFork")
      assert.deepStrictEqual(childPeer.bytes, cat(header(44, 0n, 0, 0, 2), cookie, new Uint8Array(4)))
      assert.strictEqual(forkReq.cancel, 0)
      yield* childPeer.send({ _tag: "HandshakeResponse", reqno: forkReq.reqno, error: 0 })
      yield* Fiber.join(fork)

      // cancel: sent without waiting for an answer
      yield* child.handshakeFork(cookie, { cancel: true })
      assert.strictEqual((yield* nextOf(childPeer, "HandshakeFork")).cancel, 1)
      assert.strictEqual(child.pendingCount, 0)
    }))

  it.live("a refused handshake fails with its error", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* setup
      const exec = yield* Effect.exit(client.handshakeExec("prog")).pipe(Effect.forkChild)
      const req = yield* nextOf(peer, "HandshakeExec")
      assert.strictEqual(req.comm, "prog")
      yield* peer.send({ _tag: "HandshakeResponse", reqno: req.reqno, error: Errno.EBUSY })
      const error = failureOf(yield* Fiber.join(exec))
      assert.strictEqual(error._tag === "ClientError" && error.reason, "HandshakeFailed")
      assert.strictEqual(error.errno, Errno.EBUSY)
    }))

  it.live("the server closing mid-call fails every pending request, and later ones at once", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* guest
      const calls = yield* Effect.forEach([1, 2, 3], (i) =>
        Effect.exit(client.syscall(SYS.getpid, [i])).pipe(Effect.forkChild))
      yield* Effect.forEach(calls, () => nextOf(peer, "SyscallRequest"))
      yield* peer.send({ _tag: "RaiseRequest", reqno: 1n, signo: Signals.SIGHUP })
      assert.strictEqual(client.pendingCount, 3)
      yield* peer.end
      for (const exit of yield* Effect.forEach(calls, Fiber.join)) {
        const error = failureOf(exit)
        assert.instanceOf(error, ConnectionClosed)
        assert.strictEqual(error._tag === "ConnectionClosed" && error.reason, "Eof")
        assert.strictEqual(error.errno, Errno.ENOTCONN)
      }
      assert.strictEqual(client.pendingCount, 0)
      yield* client.closed

      // later calls fail at once; a signal raised before the close can still be taken
      assert.instanceOf(failureOf(yield* Effect.exit(client.syscall(SYS.getpid))), ConnectionClosed)
      assert.instanceOf(failureOf(yield* Effect.exit(client.handshakeGuest("again"))), ConnectionClosed)
      assert.instanceOf(failureOf(yield* Effect.exit(client.writeRaw(new Uint8Array(1)))), ConnectionClosed)
      assert.strictEqual(yield* client.takeSignal, Signals.SIGHUP)
      assert.instanceOf(failureOf(yield* Effect.exit(client.takeSignal)), ConnectionClosed)
      assert.strictEqual(client.pendingCount, 0)
    }))

  it.live("garbage from the server ends the connection with a protocol error", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* guest
      const call = yield* Effect.exit(client.syscall(SYS.getpid)).pipe(Effect.forkChild)
      yield* nextOf(peer, "SyscallRequest")
      // len 3 is shorter than the header: the stream cannot be cut any further
      yield* peer.writeRaw(cat(header(3, 0n, 1, 1, 0)))
      const error = failureOf(yield* Fiber.join(call))
      assert.strictEqual(error._tag === "ConnectionClosed" && error.reason, "ProtocolError")
      yield* client.closed
      yield* Deferred.await(peer.ended)
      assert.strictEqual(client.pendingCount, 0)
    }))

  it.live("a malformed answer fails only its request", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* guest
      const call = yield* Effect.exit(client.syscall(SYS.getpid)).pipe(Effect.forkChild)
      const req = yield* nextOf(peer, "SyscallRequest")
      // RESP SYSCALL with a 4-byte body instead of 24
      yield* peer.writeRaw(cat(header(28, req.reqno, 1, 1, 0), new Uint8Array(4)))
      const error = failureOf(yield* Fiber.join(call))
      assert.strictEqual(error._tag === "ClientError" && error.reason, "BadResponse")
      assert.strictEqual(client.stats.badFrames, 1)
      assert.isUndefined(client.closedWith)
      yield* fence(client, peer)
    }))

  it.live("a frame longer than maxFrameLength ends the connection with a protocol error", () =>
    Effect.gen(function*() {
      const server = yield* fakeServer()
      const client = yield* connect(server.url, { maxFrameLength: 64 })
      const peer = yield* server.accept
      const buf = client.space.alloc(32)
      // 24 + 16 + 24 = 64 bytes: at the limit, served
      yield* peer.send({ _tag: "CopyoutRequest", reqno: 1n, addr: buf, data: new Uint8Array(24).fill(7) })
      yield* fence(client, peer)
      assert.deepStrictEqual(client.space.read(buf, 32), cat(new Uint8Array(24).fill(7), new Uint8Array(8)))

      const call = yield* Effect.exit(client.syscall(SYS.getpid)).pipe(Effect.forkChild)
      yield* nextOf(peer, "SyscallRequest")
      // 65 bytes: refused as soon as its header is in
      yield* peer.send({ _tag: "CopyoutRequest", reqno: 2n, addr: buf, data: new Uint8Array(25).fill(9) })
      const error = failureOf(yield* Fiber.join(call))
      assert.strictEqual(error._tag === "ConnectionClosed" && error.reason, "ProtocolError")
      assert.include(error.message, "exceeds the limit of 64 bytes")
      yield* client.closed
      assert.deepStrictEqual(client.space.read(buf, 32), cat(new Uint8Array(24).fill(7), new Uint8Array(8)))
      assert.strictEqual(client.pendingCount, 0)
    }))

  it.live("writeRaw puts bytes on the wire unchanged", () =>
    Effect.gen(function*() {
      const { client, peer } = yield* setup
      yield* client.writeRaw(new Uint8Array([0xde, 0xad, 0xbe, 0xef]))
      yield* client.close
      yield* Deferred.await(peer.ended)
      assert.deepStrictEqual(peer.bytes, new Uint8Array([0xde, 0xad, 0xbe, 0xef]))
      assert.strictEqual(client.closedWith?._tag, "ConnectionClosed")
    }))
})
