/**
 * The metrics endpoint in-process: it serves what it is given at /metrics,
 * survives a server error after listening (logged, still serving), and
 * stops when its scope closes; its routes (GET and HEAD /metrics, 404
 * otherwise) and the live trace at /trace (NDJSON, filtered, 400 for a bad
 * query, ended with the scope).
 */
import { assert, describe, it } from "@effect/vitest"
import { makeLiveTrace, type TraceRecord } from "@sysproxy/hypervisor"
import { Effect, Exit, Logger, Schedule, Scope } from "effect"
import { serveMetrics } from "../src/MetricsEndpoint.ts"

const LOOPBACK = { host: "127.0.0.1", port: 0 }

const status = (url: string) =>
  Effect.promise(() => fetch(url).then((r) => r.status, (e: unknown) => (e instanceof Error ? e.message : String(e))))

describe("the metrics endpoint", () => {
  it.live("an error after listening (accept's EMFILE) is logged, and scrapes go on", () =>
    Effect.gen(function*() {
      const lines: Array<string> = []
      const collector = Logger.make((o) => lines.push(`${o.logLevel}: ${[o.message].flat().map(String).join(" ")}`))
      const endpoint = yield* serveMetrics(LOOPBACK, () => "up 1\n").pipe(Effect.provide(Logger.layer([collector])))
      const emfile = Object.assign(new Error("accept EMFILE"), { code: "EMFILE", syscall: "accept" })
      // what node:net does when accept fails; without a listener, emit throws it
      assert.doesNotThrow(() => endpoint.server.emit("error", emfile))
      assert.strictEqual(yield* status(endpoint.url), 200)
      assert.deepStrictEqual(lines, ["Error: metrics on 127.0.0.1:0: accept EMFILE; still serving"])
    }))

  it.live("closing the scope stops serving", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      const endpoint = yield* serveMetrics(LOOPBACK, () => "up 1\n").pipe(Scope.provide(scope))
      assert.strictEqual(yield* status(endpoint.url), 200)
      yield* Scope.close(scope, Exit.void)
      assert.isFalse(endpoint.server.listening)
      assert.strictEqual(yield* status(endpoint.url), "fetch failed")
    }))
})

const get = (url: string, init?: RequestInit) =>
  Effect.promise(async () => {
    const res = await fetch(url, init)
    return { status: res.status, type: res.headers.get("content-type"), text: await res.text() }
  })

const record = (pid: number, comm: string, syscall: string): TraceRecord => ({
  time: "2025-01-01T00:00:00.000000Z",
  pid,
  comm,
  lwp: 1,
  syscall,
  number: 0,
  args: [],
  retval: 0,
  errno: null,
  duration: 0,
  copyin: 0,
  copyout: 0
})

/** A /trace reader: the response once its headers are in, and its lines as they come. */
const readTrace = (url: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const abort = new AbortController()
      const res = await fetch(url, { signal: abort.signal })
      const lines: Array<string> = []
      let ended = false
      let partial = ""
      const reading = (async () => {
        const decoder = new TextDecoder()
        try {
          for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
            partial += decoder.decode(chunk, { stream: true })
            const cut = partial.lastIndexOf("\n")
            if (cut >= 0) {
              lines.push(...partial.slice(0, cut).split("\n"))
              partial = partial.slice(cut + 1)
            }
          }
        } catch {
          // aborted
        }
        ended = true
      })()
      return { res, lines, abort, reading, ended: () => ended }
    }),
    (r) => Effect.sync(() => r.abort.abort())
  )

const until = (what: string, check: () => boolean) =>
  Effect.sync(check).pipe(
    Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("5 millis") }),
    Effect.timeoutOrElse({ duration: "5 seconds", orElse: () => Effect.die(new Error(`timed out waiting for ${what}`)) })
  )

describe("the endpoint's routes", () => {
  it.live("/metrics answers GET and HEAD (query ignored); anything else is 404 saying where to look", () =>
    Effect.gen(function*() {
      const endpoint = yield* serveMetrics(LOOPBACK, () => "up 1\n")
      const ok = yield* get(`${endpoint.url}?x=1`)
      assert.deepStrictEqual(ok, { status: 200, type: "text/plain; version=0.0.4; charset=utf-8", text: "up 1\n" })
      assert.deepStrictEqual(yield* get(endpoint.url, { method: "HEAD" }), {
        status: 200,
        type: "text/plain; version=0.0.4; charset=utf-8",
        text: ""
      })
      const notFound = { status: 404, type: "text/plain", text: "not found; try /metrics\n" }
      assert.deepStrictEqual(yield* get(endpoint.url, { method: "POST" }), notFound)
      assert.deepStrictEqual(yield* get(endpoint.url.replace("/metrics", "/other")), notFound)
      assert.deepStrictEqual(yield* get(endpoint.url.replace("/metrics", "/trace")), notFound, "no trace given")
      assert.isUndefined(endpoint.traceUrl)
    }))

  it.live("/trace streams records as NDJSON from the moment its headers arrive, filtered by the query", () =>
    Effect.gen(function*() {
      const live = makeLiveTrace()
      const endpoint = yield* serveMetrics(LOOPBACK, () => "", live)
      const all = yield* readTrace(endpoint.traceUrl!)
      const some = yield* readTrace(`${endpoint.traceUrl}?comm=b*&syscall=write,stat`)
      assert.strictEqual(all.res.status, 200)
      assert.strictEqual(all.res.headers.get("content-type"), "application/x-ndjson")
      assert.strictEqual(live.listeners(), 2)
      live.sink.write(record(2, "alpha", "write"))
      live.sink.write(record(3, "beta", "getpid"))
      live.sink.write(record(3, "beta", "write"))
      live.sink.write(record(3, "beta", "__stat50"))
      yield* until("four records", () => all.lines.length === 4 && some.lines.length === 2)
      assert.deepStrictEqual(all.lines.map((l) => (JSON.parse(l) as TraceRecord).syscall), ["write", "getpid", "write", "__stat50"])
      assert.deepStrictEqual(some.lines.map((l) => JSON.parse(l) as TraceRecord), [record(3, "beta", "write"), record(3, "beta", "__stat50")])
      // a reader that goes away stops being fed
      some.abort.abort()
      yield* until("one listener", () => live.listeners() === 1)
    }))

  it.live("/trace: HEAD is the headers alone, another method 405 with Allow", () =>
    Effect.gen(function*() {
      const live = makeLiveTrace()
      const endpoint = yield* serveMetrics(LOOPBACK, () => "", live)
      assert.deepStrictEqual(yield* get(endpoint.traceUrl!, { method: "HEAD" }), { status: 200, type: "application/x-ndjson", text: "" })
      assert.strictEqual(live.listeners(), 0, "HEAD subscribes nobody")
      assert.deepStrictEqual(yield* get(endpoint.traceUrl!, { method: "POST" }), {
        status: 405,
        type: "text/plain",
        text: "method not allowed; try GET /trace\n"
      })
      const allow = yield* Effect.promise(() => fetch(endpoint.traceUrl!, { method: "DELETE" }).then((r) => r.headers.get("allow")))
      assert.strictEqual(allow, "GET, HEAD")
    }))

  it.live("/trace: a bad query is 400 with one line naming the parameter", () =>
    Effect.gen(function*() {
      const endpoint = yield* serveMetrics(LOOPBACK, () => "", makeLiveTrace())
      const bad = (query: string) => Effect.map(get(`${endpoint.traceUrl}?${query}`), (r) => `${r.status} ${r.text}`)
      assert.strictEqual(yield* bad("pid=x"), '400 pid: expected a process id, got "x"\n')
      assert.strictEqual(yield* bad("comm=%5Ba"), '400 comm: bad glob "[a": unclosed [ at 1\n')
      assert.strictEqual(yield* bad("syscall=wrte"), '400 syscall: unknown syscall "wrte"\n')
      assert.strictEqual(yield* bad("colour=red"), '400 unknown parameter "colour" (known: pid, comm, syscall)\n')
    }))

  it.live("closing the scope ends a /trace reader's response and stops listening", () =>
    Effect.gen(function*() {
      const live = makeLiveTrace()
      const scope = yield* Scope.make()
      const endpoint = yield* serveMetrics(LOOPBACK, () => "", live).pipe(Scope.provide(scope))
      const reader = yield* readTrace(endpoint.traceUrl!)
      yield* Scope.close(scope, Exit.void)
      yield* until("the reader's end", reader.ended)
      assert.isFalse(endpoint.server.listening)
      assert.strictEqual(live.listeners(), 0)
    }))
})
