/**
 * The metrics endpoint in-process: it serves what it is given at /metrics,
 * survives a server error after listening (logged, still serving), and
 * stops when its scope closes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Logger, Scope } from "effect"
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
