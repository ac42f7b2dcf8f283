/**
 * The listening side: the banner on every transport, the unix socket file
 * (mode, stale and live files, removal), bad URLs, and the client limit.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Logger, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Path from "node:path"
import { listen } from "../src/Listener.ts"
import { type RawConn, BANNER, hasIpv6Loopback, pollUntil, rawConnect, startServer, tempDir, tempSocketPath } from "./support.ts"

/** Connects, waits for the banner, then checks that nothing else follows it. */
const bannerOf = (url: string) =>
  Effect.gen(function*() {
    const conn = yield* rawConnect(url)
    const banner = yield* conn.readBanner()
    yield* Effect.sleep("30 millis")
    assert.strictEqual(conn.received.toString("latin1"), banner, "bytes after the banner")
    return banner
  })

/** Is anything accepting connections on this unix socket path? */
const probeUnix = (path: string) =>
  Effect.callback<"connected" | string>((resume) => {
    const s = Net.createConnection({ path })
    s.once("connect", () => {
      s.destroy()
      resume(Effect.succeed("connected"))
    })
    s.once("error", (e: NodeJS.ErrnoException) => resume(Effect.succeed(e.code ?? "error")))
    return Effect.sync(() => s.destroy())
  })

/** Starting a server with `options` must fail with a ServerStartError. */
const startError = (options: Parameters<typeof startServer>[0]) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(startServer(options))
    if (Exit.isSuccess(exit)) {
      return yield* Effect.die(new Error(`expected a ServerStartError, the server started on ${exit.value.url}`))
    }
    const failure = exit.cause.reasons.find((r) => r._tag === "Fail")
    if (failure === undefined) {
      return yield* Effect.die(new Error(`expected a ServerStartError, got ${String(exit.cause)}`))
    }
    assert.strictEqual(failure.error._tag, "ServerStartError")
    return failure.error
  })

/** Leaves a socket file behind with nobody listening: a listener in a process killed with SIGKILL. */
const staleSocketFile = (path: string) =>
  Effect.callback<void, Error>((resume) => {
    const child = ChildProcess.spawn(
      process.execPath,
      ["-e", "require('net').createServer().listen(process.argv[1], () => console.log('ready'))", path],
      { stdio: ["ignore", "pipe", "inherit"] }
    )
    child.stdout.once("data", () => child.kill("SIGKILL"))
    child.once("exit", () => resume(Effect.void))
    child.once("error", (e) => resume(Effect.fail(e)))
    return Effect.sync(() => void child.kill("SIGKILL"))
  })

describe("banner", () => {
  it.live("on a unix socket", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      assert.match(url, /^unix:\/\//)
      assert.strictEqual(yield* bannerOf(url), BANNER)
    }))

  it.live("on tcp 127.0.0.1 port 0: address.url has the real port", () =>
    Effect.gen(function*() {
      const { server, url } = yield* startServer({ url: "tcp://127.0.0.1:0" })
      const m = /^tcp:\/\/127\.0\.0\.1:(\d+)$/.exec(url)
      assert.isNotNull(m, url)
      const port = Number(m![1])
      assert.isAbove(port, 0)
      assert.strictEqual(server.address.parsed._tag, "Tcp")
      assert.strictEqual(yield* bannerOf(url), BANNER)
    }))

  it.live("a tcp port in use gives ServerStartError AddressInUse", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer({ url: "tcp://127.0.0.1:0" })
      const e = yield* startError({ url })
      assert.strictEqual(e.reason, "AddressInUse")
      assert.strictEqual(yield* bannerOf(url), BANNER)
    }))

  it.live.skipIf(!hasIpv6Loopback)("on tcp6 [::1] port 0: address.url has the real port", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer({ url: "tcp6://[::1]:0" })
      const m = /^tcp6:\/\/\[::1\]:(\d+)$/.exec(url)
      assert.isNotNull(m, url)
      assert.isAbove(Number(m![1]), 0)
      assert.strictEqual(yield* bannerOf(url), BANNER)
    }))
})

describe("the unix socket file", () => {
  it.live("has mode 0600 by default", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath
      yield* startServer({ url: `unix://${path}` })
      const st = Fs.statSync(path)
      assert.isTrue(st.isSocket())
      assert.strictEqual(st.mode & 0o777, 0o600)
    }))

  it.live("has the configured mode otherwise", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath
      const { url } = yield* startServer({ url: `unix://${path}`, unixSocketMode: 0o660 })
      assert.strictEqual(Fs.statSync(path).mode & 0o777, 0o660)
      assert.strictEqual(yield* bannerOf(url), BANNER)
    }))

  it.live("a stale socket file (its listener was killed) is replaced", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath
      yield* staleSocketFile(path)
      assert.isTrue(Fs.statSync(path).isSocket(), "the stale socket file is there")
      assert.strictEqual(yield* probeUnix(path), "ECONNREFUSED")

      const { url } = yield* startServer({ url: `unix://${path}` })
      assert.strictEqual(yield* bannerOf(url), BANNER)
    }), 10_000)

  it.live("a live one gives ServerStartError AddressInUse and is left alone", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath
      const { url } = yield* startServer({ url: `unix://${path}` })
      const e = yield* startError({ url: `unix://${path}` })
      assert.strictEqual(e.reason, "AddressInUse")
      // the first server still owns its file and serves
      assert.isTrue(Fs.existsSync(path))
      assert.strictEqual(yield* bannerOf(url), BANNER)
    }))

  it.live("a live listener of another program also gives AddressInUse", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath
      const other = Net.createServer((s) => {
        s.on("error", () => {}) // probes connect and reset at once
        s.end("other\n")
      })
      yield* Effect.acquireRelease(
        Effect.callback<void>((resume) => void other.listen(path, () => resume(Effect.void))),
        () => Effect.sync(() => void other.close())
      )
      const e = yield* startError({ url: `unix://${path}` })
      assert.strictEqual(e.reason, "AddressInUse")
      assert.strictEqual(yield* probeUnix(path), "connected")
    }))

  it.live("a regular file at the socket path is not deleted: the server refuses to start", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = Path.join(dir, "not-a-socket")
      Fs.writeFileSync(path, "precious data")
      const e = yield* startError({ url: `unix://${path}` })
      assert.notStrictEqual(e.reason, "BadUrl")
      assert.isTrue(Fs.existsSync(path), "the server deleted a regular file")
      assert.strictEqual(Fs.readFileSync(path, "utf8"), "precious data")
    }))

  it.live("a directory at the socket path: a typed ServerStartError, not a defect", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const path = Path.join(dir, "a-directory")
      Fs.mkdirSync(path)
      const e = yield* startError({ url: `unix://${path}` })
      assert.notStrictEqual(e.reason, "BadUrl")
      assert.isTrue(Fs.statSync(path).isDirectory())
    }))

  it.live("is removed when the server's scope closes", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath
      const scope = yield* Scope.make()
      yield* startServer({ url: `unix://${path}` }).pipe(Scope.provide(scope))
      assert.isTrue(Fs.existsSync(path))
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(Fs.existsSync(path))
      assert.notStrictEqual(yield* probeUnix(path), "connected")
    }))

  it.live("an error after listening (accept's EMFILE) is logged; the listener goes on accepting", () =>
    Effect.gen(function*() {
      const path = yield* tempSocketPath
      const lines: Array<string> = []
      const collector = Logger.make((o) => lines.push(`${o.logLevel}: ${[o.message].flat().map(String).join(" ")}`))
      let accepted = 0
      const listener = yield* listen(`unix://${path}`, 0o600, (socket) => {
        accepted++
        socket.destroy()
      }).pipe(Effect.provide(Logger.layer([collector])))
      const emfile = Object.assign(new Error("accept EMFILE"), { code: "EMFILE", syscall: "accept" })
      // what node:net does when accept fails; without a listener, emit throws it
      assert.doesNotThrow(() => listener.server.emit("error", emfile))
      yield* pollUntil(Effect.sync(() => lines.length), (n) => n > 0, "the log line")
      assert.deepStrictEqual(lines, [`Error: unix://${path}: accept EMFILE; still listening`])
      assert.strictEqual(yield* probeUnix(path), "connected")
      yield* pollUntil(Effect.sync(() => accepted), (n) => n === 1, "the connection accepted")
    }))

  it.live("a relative unix:// path is resolved against the working directory", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const rel = Path.relative(process.cwd(), Path.join(dir, "rel.sock"))
      if (rel.startsWith("/") || Buffer.byteLength(rel) > 100) return
      const { url } = yield* startServer({ url: `unix://${rel}` })
      assert.isTrue(Fs.existsSync(Path.join(dir, "rel.sock")))
      assert.strictEqual(yield* bannerOf(url), BANNER)
    }))
})

describe("bad URLs", () => {
  it.live.each([
    "http://127.0.0.1:1234",
    "tcp://127.0.0.1",
    "tcp://127.0.0.1:99999",
    "tcp://localhost:1234",
    "tcp6://::1:1234",
    "unix://",
    "nonsense"
  ])("%s: ServerStartError BadUrl", (url) =>
    Effect.gen(function*() {
      const e = yield* startError({ url })
      assert.strictEqual(e.reason, "BadUrl")
      assert.strictEqual(e.url, url)
    }))
})

describe("maxClients", () => {
  /** Opens `n` connections at once; each ends with a banner or a close. */
  const openMany = (url: string, n: number) =>
    Effect.forEach(
      Array.from({ length: n }, (_, i) => i),
      () =>
        Effect.gen(function*() {
          const conn = yield* rawConnect(url)
          yield* conn.waitFor(() => (conn.banner !== undefined || conn.closed ? true : undefined), "a banner or a close", 5000)
          return conn
        }),
      { concurrency: "unbounded" }
    )

  const tally = (conns: ReadonlyArray<RawConn>) => ({
    banner: conns.filter((c) => c.banner === BANNER).length,
    silentlyClosed: conns.filter((c) => c.closed && c.receivedLength === 0).length
  })

  it.live("256 of 300 simultaneous connections get a banner, 44 are closed without a byte; slots are reusable", () =>
    Effect.gen(function*() {
      const { server, url } = yield* startServer({ maxClients: 256 })
      const first = yield* Scope.make()
      const conns = yield* openMany(url, 300).pipe(Scope.provide(first))
      // whoever got a banner must not be closed a moment later
      yield* Effect.sleep("100 millis")
      assert.deepStrictEqual(tally(conns), { banner: 256, silentlyClosed: 44 })
      assert.strictEqual(conns.filter((c) => c.banner !== undefined && c.closed).length, 0)
      assert.strictEqual(server.stats().refused, 44)
      assert.strictEqual(server.stats().clients, 256)

      yield* Scope.close(first, Exit.void)
      yield* pollUntil(Effect.sync(() => server.stats().clients), (n) => n === 0, "every slot to be freed")

      const again = yield* openMany(url, 256)
      assert.deepStrictEqual(tally(again), { banner: 256, silentlyClosed: 0 })
      assert.strictEqual(server.stats().refused, 44)
      assert.strictEqual(server.stats().clients, 256)
    }), 20_000)
})
