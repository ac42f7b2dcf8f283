/**
 * SysproxyClient as a service against the real kernel and server: the
 * layer (URL or RUMP_SERVER), many fibers on one connection, fork, exec,
 * reconnect, the address space not leaking, and a server dying mid-call.
 */
import { assert, describe, it } from "@effect/vitest"
import { encodeFrameResult } from "@sysproxy/protocol"
import { fdFlags, openFlags, rebootFlags, SYS } from "@sysproxy/protocol/netbsd"
import { ConfigProvider, Duration, Effect, Exit, Fiber, References, Result, Scope, Stream } from "effect"
import * as Path from "node:path"
import {
  ClientError,
  ConnectionClosed,
  makeClient,
  attachForked,
  reconnectDelay,
  SysproxyClient,
  type SysproxyProcess
} from "../src/index.ts"
import { fakeServer } from "./FakeServer.ts"
import { spawnServer } from "./support/ServerProcess.ts"
import { serve, startServer, startWorld, tempDir } from "./support/World.ts"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

/** Polls `check` every 5 ms until it holds (dies after `timeoutMs` of real time, a bound and not an assertion). */
const eventually = (what: string, check: () => boolean, timeoutMs = 10_000) =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    while (!check()) {
      if (Date.now() > deadline) return yield* Effect.die(new Error(`timed out waiting for ${what}`))
      yield* Effect.sleep("5 millis")
    }
  })

/** Without the reconnect warnings in the test output. */
const quiet = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provideService(effect, References.MinimumLogLevel, "Error")

/** The live processes with this program name. */
const named = (c: SysproxyProcess, comm: string) =>
  Effect.map(c.processes(), (ps) => ps.filter((p) => p.comm === comm))

/**
 * Kills the connection from the server's side without stopping the
 * server: a second HANDSHAKE GUEST on a running connection is a protocol
 * error the server answers by shutting the connection.
 */
const provokeDisconnect = (c: SysproxyProcess) =>
  Effect.gen(function*() {
    const frame = encodeFrameResult({ _tag: "HandshakeGuest", reqno: 999_999n, comm: "again" })
    assert.isTrue(Result.isSuccess(frame))
    const conn = c.connection
    if (Result.isSuccess(frame)) yield* conn.writeRaw(frame.success)
    yield* conn.closed
  })

describe("SysproxyClient layer", () => {
  it.live("connects to the URL given, handshakes as a guest, and closes with the layer", () =>
    Effect.gen(function*() {
      const url = yield* startServer()
      const observer = yield* makeClient({ url, comm: "observer" })
      const pid = yield* SysproxyClient.use((c) => c.getpid()).pipe(
        Effect.provide(SysproxyClient.layer({ url, comm: "layered" }))
      )
      assert.isAbove(pid, 1)
      // the layer is gone, and so is its process
      yield* Effect.gen(function*() {
        for (;;) {
          if ((yield* named(observer, "layered")).length === 0) return
          yield* Effect.sleep("5 millis")
        }
      }).pipe(Effect.timeout("10 seconds"))
    }))

  it.live("takes the URL from RUMP_SERVER when none is given, and fails clearly without one", () =>
    Effect.gen(function*() {
      const url = yield* startServer()
      const comm = yield* SysproxyClient.use((c) => Effect.map(c.processes(), (ps) => ps[0]?.comm)).pipe(
        Effect.provide(SysproxyClient.layer({ comm: "from-env" })),
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { RUMP_SERVER: url } })))
      )
      assert.strictEqual(comm, "from-env")
      const missing = yield* Effect.flip(
        SysproxyClient.use((c) => c.getpid()).pipe(
          Effect.provide(SysproxyClient.layer()),
          Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: {} })))
        )
      )
      assert.instanceOf(missing, ClientError)
      assert.strictEqual(missing.reason, "BadUrl")
      assert.match(missing.message, /RUMP_SERVER/)
      const bad = yield* Effect.flip(Effect.scoped(makeClient("http://nope")))
      assert.strictEqual(bad._tag === "ClientError" ? bad.reason : bad._tag, "BadUrl")
    }))

  it.live("many fibers share one connection: syscalls run concurrently while one blocks", () =>
    Effect.gen(function*() {
      const url = yield* startServer()
      const c = yield* makeClient({ url, comm: "shared" })
      const conn = c.connection
      const [r, w] = yield* c.pipe()
      const blocked = yield* Effect.forkChild(c.read(r, 100))
      yield* eventually("the read to block", () => conn.pendingCount === 1)
      const results = yield* Effect.forEach(
        Array.from({ length: 40 }, (_, i) => i),
        (i) =>
          Effect.gen(function*() {
            yield* c.writeFile(`/f${i}`, `file ${i}`)
            return text(yield* c.readFile(`/f${i}`))
          }),
        { concurrency: "unbounded" }
      )
      assert.deepStrictEqual(results, results.map((_, i) => `file ${i}`))
      assert.isUndefined(blocked.pollUnsafe(), "the blocked read is still waiting")
      yield* c.write(w, "unblocked")
      assert.strictEqual(text(yield* Fiber.join(blocked)), "unblocked")
      // one connection, one process
      assert.strictEqual(c.connection, conn)
      assert.strictEqual((yield* named(c, "shared")).length, 1)
    }))
})

describe("fork and exec", () => {
  it.live("fork: a second connection takes over a copy of the process, descriptors shared", () =>
    Effect.gen(function*() {
      const url = yield* startServer()
      const parent = yield* makeClient({ url, comm: "forker" })
      const fd = yield* parent.open("/shared", openFlags.O_RDWR | openFlags.O_CREAT)
      const childScope = yield* Scope.make()
      const child = yield* parent.fork().pipe(Scope.provide(childScope))
      assert.notStrictEqual(child.connection, parent.connection)
      const childPid = yield* child.getpid()
      assert.notStrictEqual(childPid, yield* parent.getpid())
      assert.strictEqual(child.comm, "forker")
      // the child's descriptor is the same open file: one offset
      assert.strictEqual(yield* child.write(fd, "from the child"), 14)
      assert.strictEqual(yield* parent.lseek(fd, 0, 1), 14)
      assert.strictEqual(text(yield* parent.pread(fd, 100, 0)), "from the child")
      assert.deepStrictEqual((yield* named(parent, "forker")).map((p) => p.pid).sort(), [yield* parent.getpid(), childPid].sort())
      // closing the child's scope ends the child process, not the parent
      yield* Scope.close(childScope, Exit.void)
      yield* Effect.gen(function*() {
        while ((yield* named(parent, "forker")).length !== 1) yield* Effect.sleep("5 millis")
      }).pipe(Effect.timeout("10 seconds"))
      assert.strictEqual(yield* parent.write(fd, "!"), 1)
    }))

  it.live("prefork and attachForked: the two halves of a fork across host processes", () =>
    Effect.gen(function*() {
      const url = yield* startServer()
      const parent = yield* makeClient({ url, comm: "halves" })
      yield* parent.writeFile("/x", "inherited")
      const fd = yield* parent.open("/x")
      const cookie = yield* parent.prefork()
      assert.strictEqual(cookie.byteLength, 16)
      const child = yield* attachForked(cookie, { url, comm: "ignored" })
      assert.strictEqual(text(yield* child.read(fd, 100)), "inherited")
      // a cookie is good once
      const again = yield* Effect.flip(Effect.scoped(attachForked(cookie, url)))
      assert.deepInclude(again, { _tag: "ClientError", reason: "ServerError", code: "INVALID_PREFORK" })
    }))

  it.live("exec renames the process and closes close-on-exec descriptors", () =>
    Effect.gen(function*() {
      const url = yield* startServer()
      const c = yield* makeClient({ url, comm: "before" })
      const kept = yield* c.open("/kept", openFlags.O_RDWR | openFlags.O_CREAT)
      const dropped = yield* c.open("/dropped", openFlags.O_RDWR | openFlags.O_CREAT | openFlags.O_CLOEXEC)
      assert.strictEqual(yield* c.fcntl(dropped, 1), fdFlags.FD_CLOEXEC)
      yield* c.exec("after")
      assert.strictEqual(c.comm, "after")
      assert.strictEqual((yield* named(c, "after")).length, 1)
      assert.strictEqual((yield* named(c, "before")).length, 0)
      assert.strictEqual(yield* c.write(kept, "ok"), 2)
      const gone = yield* Effect.flip(c.write(dropped, "no"))
      assert.deepInclude(gone, { _tag: "SyscallError", code: "EBADF" })
    }))
})

describe("reconnect", () => {
  it("backs off as librumpclient does", () => {
    const ms = [0, 1, 2, 9, 10, 11, 18, 19, 30].map((n) => Duration.toMillis(reconnectDelay(n)))
    assert.deepStrictEqual(ms, [0, 100, 200, 900, 1000, 2000, 9000, 10_000, 10_000])
  })

  it.live("a lost connection is redialled on the next call: a new process with the same name", () =>
    quiet(Effect.gen(function*() {
      const url = yield* startServer()
      const c = yield* makeClient({ url, comm: "phoenix", reconnect: "10 seconds" })
      const before = yield* c.getpid()
      const fd = yield* c.open("/keep", openFlags.O_RDWR | openFlags.O_CREAT)
      const [r] = yield* c.pipe()
      // a call in flight when the connection dies fails, as in C (ENOTCONN)
      const inFlight = yield* Effect.forkChild(c.read(r, 10))
      yield* eventually("the read to block", () => c.connection.pendingCount === 1)
      yield* provokeDisconnect(c)
      const lost = yield* Effect.flip(Fiber.join(inFlight))
      assert.instanceOf(lost, ConnectionClosed)
      // the next call reconnects
      const after = yield* c.getpid()
      assert.notStrictEqual(after, before)
      assert.strictEqual(c.reconnects, 1)
      const procs = yield* named(c, "phoenix")
      assert.deepStrictEqual(procs.map((p) => p.pid), [after])
      // the old process's descriptors went with it
      assert.deepInclude(yield* Effect.flip(c.fstat(fd)), { _tag: "SyscallError", code: "EBADF" })
    })))

  it.live("redials a restarted server, trying until it is back", () =>
    quiet(Effect.gen(function*() {
      const path = Path.join(yield* tempDir, "sp.sock")
      const first = yield* Scope.make()
      const url = yield* serve(path).pipe(Scope.provide(first))
      const c = yield* makeClient({ url, comm: "patient", reconnect: "forever" })
      yield* c.writeFile("/gone", "with the first server")
      yield* Scope.close(first, Exit.void)
      yield* c.connection.closed
      // the call starts while no server listens; the server comes back later
      const call = yield* Effect.forkChild(c.sysctl("kern.hostname"))
      yield* eventually("a failed dial", () => c.failedDials >= 1)
      assert.isUndefined(call.pollUnsafe())
      yield* serve(path)
      assert.strictEqual(yield* Fiber.join(call), "client-test")
      assert.strictEqual(c.reconnects, 1)
      assert.deepInclude(yield* Effect.flip(c.stat("/gone")), { code: "ENOENT" })
    })))

  it.live("a redial to a server that accepts and never answers ends when the reconnect timeout does", () =>
    quiet(Effect.gen(function*() {
      const path = Path.join(yield* tempDir, "stuck.sock")
      const first = yield* Scope.make()
      const url = yield* serve(path).pipe(Scope.provide(first))
      const c = yield* makeClient({ url, comm: "stuck", reconnect: "300 millis" })
      yield* Scope.close(first, Exit.void)
      yield* c.connection.closed
      // the path now has a listener that takes connections and never writes the banner
      const stuck = yield* fakeServer({ banner: undefined, path })
      const error = yield* Effect.flip(c.getpid())
      assert.instanceOf(error, ConnectionClosed)
      assert.strictEqual(c.reconnects, 0)
      assert.isAtLeast(c.failedDials, 1)
      yield* stuck.accept // the dial did reach it: a stuck listener, not a refused connect
    })))

  it.live("without reconnect, or with a single try, a lost connection stays lost", () =>
    quiet(Effect.gen(function*() {
      const url = yield* startServer()
      const plain = yield* makeClient({ url, comm: "plain" })
      yield* provokeDisconnect(plain)
      assert.instanceOf(yield* Effect.flip(plain.getpid()), ConnectionClosed)
      // its signals stream has ended with it
      assert.deepStrictEqual(yield* Stream.runCollect(plain.signals), [])

      const path = Path.join(yield* tempDir, "once.sock")
      const scope = yield* Scope.make()
      const onceUrl = yield* serve(path).pipe(Scope.provide(scope))
      const once = yield* makeClient({ url: onceUrl, comm: "once", reconnect: "once" })
      yield* Scope.close(scope, Exit.void)
      yield* once.connection.closed
      assert.instanceOf(yield* Effect.flip(once.getpid()), ConnectionClosed)
      assert.strictEqual(once.reconnects, 0)
    })))
})

describe("the address space", () => {
  it.live("every buffer a call maps is unmapped when it ends: success, errno, interruption", () =>
    Effect.gen(function*() {
      const url = yield* startServer()
      const c = yield* makeClient({ url, comm: "tidy" })
      const regions = c.space.regionCount
      const bytes = c.space.mappedBytes
      yield* c.mkdir("/t")
      yield* c.writeFile("/t/a", new Uint8Array(200_000))
      yield* c.readFile("/t/a")
      yield* c.readdir("/t")
      yield* c.stat("/t/a")
      yield* c.sysctl("kern.hostname")
      yield* c.sysctlWrite("kern.hostname", "tidy-host")
      yield* c.processes()
      yield* c.getcwd()
      yield* Effect.flip(c.open("/nope"))
      yield* Effect.flip(c.readdir("/nope"))
      yield* Effect.flip(c.sysctl("kern.maxvnodes"))
      yield* c.withBuffers((b) => c.syscall(20, [b.alloc(64)]).pipe(Effect.ignore))
      // an interrupted call: its buffer goes too
      const [r] = yield* c.pipe()
      const pending = yield* Effect.forkChild(c.read(r, 4096))
      yield* eventually("the read to block", () => c.connection.pendingCount === 1)
      assert.isAbove(c.space.regionCount, regions)
      yield* Fiber.interrupt(pending)
      assert.strictEqual(c.space.regionCount, regions)
      assert.strictEqual(c.space.mappedBytes, bytes)
    }))
})

describe("a server that dies mid-call", () => {
  it.live("closing the server's scope fails the pending call with ConnectionClosed", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const url = yield* startServer().pipe(Scope.provide(scope))
      const c = yield* makeClient({ url, comm: "orphan" })
      const [r] = yield* c.pipe()
      const pending = yield* Effect.forkChild(c.read(r, 10))
      yield* eventually("the read to block", () => c.connection.pendingCount === 1)
      yield* Scope.close(scope, Exit.void)
      const error = yield* Effect.flip(Fiber.join(pending))
      assert.instanceOf(error, ConnectionClosed)
      assert.strictEqual(error.errno, 57) // ENOTCONN
      assert.isTrue(error.sent, "the read had been written")
      // later calls fail at once (never written), and the signals stream ends
      const later = yield* Effect.flip(c.getpid())
      assert.instanceOf(later, ConnectionClosed)
      assert.deepInclude(later, { sent: false })
      assert.deepStrictEqual(yield* Stream.runCollect(c.signals), [])
    }))

  // a server process on the TypeScript sources takes seconds to start on a loaded machine
  it.live("a killed server process fails the pending call with ConnectionClosed", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir, "killed.sock")
      const server = yield* spawnServer(path)
      const c = yield* makeClient({ url: `unix://${path}`, comm: "victim" })
      const [r] = yield* c.pipe()
      const pending = yield* Effect.forkChild(c.read(r, 10))
      yield* eventually("the read to block", () => c.connection.pendingCount === 1)
      yield* server.kill("SIGKILL")
      const error = yield* Effect.flip(Fiber.join(pending))
      assert.instanceOf(error, ConnectionClosed)
      assert.instanceOf(yield* Effect.flip(c.getpid()), ConnectionClosed)
    }), 60_000)
})

describe("reboot", () => {
  it.live("halts the server with the howto given", () =>
    Effect.gen(function*() {
      const world = yield* startWorld()
      const c = yield* makeClient({ url: world.address.url, comm: "halter" })
      yield* c.reboot(rebootFlags.RB_NOSYNC)
      assert.deepInclude(yield* world.halted, { howto: rebootFlags.RB_NOSYNC })
    }))

  it.live("succeeds when the server closes without answering after the request went out", () =>
    Effect.gen(function*() {
      const fake = yield* fakeServer()
      const starting = yield* Effect.forkChild(makeClient({ url: fake.url, comm: "halter" }))
      const peer = yield* fake.accept
      const hello = yield* peer.next
      assert.strictEqual(hello._tag, "HandshakeGuest")
      yield* peer.send({ _tag: "HandshakeResponse", reqno: hello.reqno, error: 0 })
      const c = yield* Fiber.join(starting)
      const rebooting = yield* Effect.forkChild(c.reboot())
      const request = yield* peer.next
      assert.deepInclude(request, { _tag: "SyscallRequest", sysnum: SYS.reboot })
      yield* peer.end
      yield* Fiber.join(rebooting)
    }))

  it.live("fails with ConnectionClosed when the connection was gone before the request was written", () =>
    Effect.gen(function*() {
      const world = yield* startWorld()
      const c = yield* makeClient({ url: world.address.url, comm: "too-late" })
      yield* quiet(provokeDisconnect(c))
      const error = yield* Effect.flip(c.reboot())
      assert.instanceOf(error, ConnectionClosed)
      assert.deepInclude(error, { reason: "Eof", sent: false })
    }))
})
