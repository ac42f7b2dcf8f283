/**
 * `sysproxy trace`: another client's syscalls shown live in strace's
 * format, read from a real sysproxy-server's /trace (both as processes),
 * filtered by comm and syscall; and the ways it refuses to start (no
 * endpoint, a bad one, a bad filter, nothing listening).
 */
import { assert, describe, it } from "@effect/vitest"
import { makeClient } from "@sysproxy/client"
import { openFlags } from "@sysproxy/protocol/netbsd"
import { Agent, getGlobalDispatcher, setGlobalDispatcher } from "@effect/platform-node/Undici"
import { Effect, Fiber, Schedule, type Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as Net from "node:net"
import * as Path from "node:path"
import { spawnApp, tempDir } from "../../server/test/ChildApp.ts"
import { traceUrl } from "../src/commands/Trace.ts"
import { run } from "./support/Harness.ts"

const SLOW = 60_000
const MAIN = new URL("../src/main.ts", import.meta.url).pathname

/** `sysproxy ...args` as a process whose output can be read while it runs; SIGKILLed with the scope. */
const liveCtl = (args: ReadonlyArray<string>): Effect.Effect<{
  readonly stdout: () => string
  readonly stderr: () => string
  readonly kill: (signal: NodeJS.Signals) => void
  readonly exitCode: () => number | null
}, never, Scope.Scope> =>
  Effect.gen(function*() {
    let stdout = ""
    let stderr = ""
    let code: number | null = null
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const c = ChildProcess.spawn(process.execPath, ["--conditions=@sysproxy/source", MAIN, ...args], {
          stdio: ["ignore", "pipe", "pipe"]
        })
        c.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s))
        c.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s))
        // killed by a signal it did not handle: -1
        c.once("exit", (exit) => (code = exit ?? -1))
        return c
      }),
      (c) => Effect.sync(() => c.exitCode === null && c.signalCode === null && c.kill("SIGKILL"))
    )
    return { stdout: () => stdout, stderr: () => stderr, kill: (s) => void child.kill(s), exitCode: () => code }
  })

const until = (what: string, check: () => boolean, out: () => string) =>
  Effect.sync(check).pipe(
    Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("20 millis") }),
    Effect.timeoutOrElse({
      duration: "50 seconds",
      orElse: () => Effect.die(new Error(`timed out waiting for ${what}\n${out()}`))
    })
  )

/** A started app with --metrics: its socket URL and the metrics address. */
const startApp = Effect.gen(function*() {
  const url = `unix://${Path.join(yield* tempDir, "rump.sock")}`
  const app = yield* spawnApp(["--metrics", "127.0.0.1:0", url])
  yield* app.waitForStdout(/live trace on http:\/\/127\.0\.0\.1:\d+\/trace/)
  const endpoint = /live trace on http:\/\/(127\.0\.0\.1:\d+)\/trace/.exec(app.stdout())![1]!
  return { url, endpoint, app }
})

/** The time and duration blanked out, for comparing lines. */
const shape = (l: string) =>
  l.replace(/ \d\d:\d\d:\d\d\.\d{6} /, " T ").replace(/<\d+\.\d{6}>$/, "<D>").replace(/0x[0-9a-f]+</g, "ADDR<")

describe("sysproxy trace", () => {
  it.live("shows another client's calls as they happen, only those the filter asks for; Ctrl-C ends it", () =>
    Effect.gen(function*() {
      const { url, endpoint } = yield* startApp
      const tracer = yield* liveCtl(["trace", "--endpoint", endpoint, "--comm", "watch*", "--syscall", "getpid,open", "--syscall", "write"])
      const out = () => `stdout:\n${tracer.stdout()}\nstderr:\n${tracer.stderr()}`
      yield* until("tracing", () => tracer.stderr().includes("tracing "), out)
      assert.strictEqual(
        tracer.stderr(),
        `sysproxy trace: tracing http://${endpoint}/trace?comm=watch*&syscall=getpid%2Copen%2Cwrite\n`
      )
      const pid = yield* Effect.scoped(Effect.gen(function*() {
        const other = yield* makeClient({ url, comm: "other" })
        yield* other.getpid()
        const watched = yield* makeClient({ url, comm: "watched" })
        const fd = yield* watched.open("/tmp/w", openFlags.O_WRONLY | openFlags.O_CREAT, 0o644)
        yield* watched.write(fd, "hello")
        yield* watched.close(fd)
        return yield* watched.getpid()
      }))
      yield* until("three lines", () => tracer.stdout().split("\n").length > 3, out)
      const flags = openFlags.O_WRONLY | openFlags.O_CREAT
      assert.deepStrictEqual(tracer.stdout().trimEnd().split("\n").map(shape), [
        `[pid ${pid}<watched>] T open("/tmp/w", ${flags}, 0644) = 3 <D>`,
        `[pid ${pid}<watched>] T write(3, ADDR<5 bytes>, 5) = 5 <D>`,
        `[pid ${pid}<watched>] T getpid() = ${pid} <D>`
      ])
      tracer.kill("SIGINT")
      yield* until("the exit", () => tracer.exitCode() !== null, out)
      assert.strictEqual(tracer.exitCode(), 130)
    }), SLOW)

  it.live("a bad filter exits 2 with the server's reason; --json prints records as they come", () =>
    Effect.gen(function*() {
      const { url, endpoint } = yield* startApp
      const json = yield* liveCtl(["trace", "--endpoint", endpoint, "--json", "--comm", "j"])
      const out = () => `stdout:\n${json.stdout()}\nstderr:\n${json.stderr()}`
      yield* until("tracing", () => json.stderr().includes("tracing "), out)
      const pid = yield* Effect.scoped(Effect.flatMap(makeClient({ url, comm: "j" }), (c) => c.getpid()))
      yield* until("a line", () => json.stdout().includes("\n"), out)
      const record = JSON.parse(json.stdout()) as Record<string, unknown>
      assert.deepInclude(record, { pid, comm: "j", syscall: "getpid", args: [], retval: pid, errno: null })
      const bad = yield* run(["trace", "--endpoint", endpoint, "--syscall", "wrte"])
      assert.deepStrictEqual([bad.code, bad.stderr], [2, 'sysproxy trace: syscall: unknown syscall "wrte"\n'])
      const glob = yield* run(["trace", "--comm", "[x"], { env: { SYSPROXY_METRICS: endpoint } })
      assert.deepStrictEqual([glob.code, glob.stderr], [2, 'sysproxy trace: comm: bad glob "[x": unclosed [ at 1\n'])
    }), SLOW)
})

describe("an idle trace", () => {
  it.live("is waited on however long it is silent: no HTTP body timeout ends it", () =>
    Effect.gen(function*() {
      // fetch's dispatcher made to give up on a body after 300 ms without data (undici's default is 300 s)
      yield* Effect.acquireRelease(
        Effect.sync(() => {
          const before = getGlobalDispatcher()
          setGlobalDispatcher(new Agent({ bodyTimeout: 300 }))
          return before
        }),
        (before) => Effect.sync(() => setGlobalDispatcher(before))
      )
      const { app, endpoint, url } = yield* startApp
      const tracer = yield* Effect.forkChild(run(["trace", "--endpoint", endpoint, "--comm", "late"]))
      yield* Effect.sleep("1500 millis")
      const pid = yield* Effect.scoped(Effect.flatMap(makeClient({ url, comm: "late" }), (c) => c.getpid()))
      yield* Effect.sleep("300 millis")
      // the server's shutdown ends the trace response cleanly, and with it the tool: exit 0, not a reset
      yield* app.kill("SIGTERM")
      const ran = yield* Fiber.join(tracer)
      assert.isTrue(ran.stderr.startsWith(`sysproxy trace: tracing http://${endpoint}/trace?comm=late\n`), ran.stderr)
      assert.notMatch(ran.stderr, /TIMEOUT/)
      assert.notMatch(ran.stderr, /broke off/)
      assert.strictEqual(ran.code, 0, ran.stderr)
      assert.deepStrictEqual(ran.stdout.trimEnd().split("\n").map(shape), [`[pid ${pid}<late>] T getpid() = ${pid} <D>`])
    }), SLOW)
})

describe("sysproxy trace refuses", () => {
  it.effect("no endpoint, or a bad one: exit 2 with one line", () =>
    Effect.gen(function*() {
      const none = yield* run(["trace"])
      assert.deepStrictEqual([none.code, none.stderr], [
        2,
        "sysproxy trace: no endpoint: give --endpoint ADDR (the server's --metrics address) or set SYSPROXY_METRICS\n"
      ])
      const bad = yield* run(["trace", "--endpoint", "ftp://x"])
      assert.deepStrictEqual([bad.code, bad.stderr], [
        2,
        'sysproxy trace: bad endpoint "ftp://x": expected HOST:PORT, [V6]:PORT, PORT or an http URL\n'
      ])
    }))

  it.live("nothing listening there: exit 1 saying so", () =>
    Effect.gen(function*() {
      // a port that was just free
      const port = yield* Effect.promise(() =>
        new Promise<number>((resolve) => {
          const s = Net.createServer().listen(0, "127.0.0.1", () => {
            const p = (s.address() as Net.AddressInfo).port
            s.close(() => resolve(p))
          })
        })
      )
      const r = yield* run(["trace", "--endpoint", String(port)])
      assert.deepStrictEqual([r.code, r.stderr], [
        1,
        `sysproxy trace: cannot reach http://127.0.0.1:${port}/trace: ECONNREFUSED\n`
      ])
    }))

  it("the endpoint forms: the server's --metrics forms and URLs", () => {
    assert.strictEqual(traceUrl("127.0.0.1:9464")?.toString(), "http://127.0.0.1:9464/trace")
    assert.strictEqual(traceUrl("9464")?.toString(), "http://127.0.0.1:9464/trace")
    assert.strictEqual(traceUrl("[::1]:9464")?.toString(), "http://[::1]:9464/trace")
    assert.strictEqual(traceUrl("http://h:1/metrics")?.toString(), "http://h:1/trace")
    assert.strictEqual(traceUrl("http://h:1/")?.toString(), "http://h:1/trace")
    assert.isUndefined(traceUrl("h"))
  })
})
