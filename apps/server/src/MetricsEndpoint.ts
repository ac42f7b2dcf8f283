/**
 * `--metrics ADDR`: the server's HTTP endpoint, on effect/http's HttpRouter
 * served by @effect/platform-node's NodeHttpServer for as long as the scope
 * is open: Prometheus text at /metrics (GET or HEAD), the live syscall
 * trace at /trace (see TraceRoute.ts), 404 for anything else.
 *
 * A failure to listen fails the start. An error after that (accept failing
 * with EMFILE, ...) is logged: with no "error" listener node would throw it
 * and end the whole program. Closing the scope ends every /trace response
 * (its reader sees the trace end), closes every connection and stops
 * listening.
 */
import { NodeHttpServer } from "@effect/platform-node"
import type { LiveTrace } from "@sysproxy/hypervisor"
import { Deferred, Duration, Effect } from "effect"
import { HttpRouter, HttpServerRequest, HttpServerResponse } from "effect/http"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { StartupError } from "./AppErrors.ts"
import type { ListenAddress } from "./OptionRules.ts"
import { traceRoute } from "./TraceRoute.ts"

/** How long the last chunks of ended trace responses get before every connection is closed. */
const TRACE_END_GRACE = Duration.millis(100)

const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

const formatAddress = (a: AddressInfo) => (a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`)

export interface MetricsEndpoint {
  /** Where /metrics is reachable (the real port when 0 was asked). */
  readonly url: string
  /** Where /trace is, when the endpoint serves it. */
  readonly traceUrl: string | undefined
  readonly server: Http.Server
}

const notFound = HttpServerResponse.text("not found; try /metrics\n", { status: 404 })

const metricsRoute = (render: () => string) =>
  Effect.map(Effect.service(HttpServerRequest.HttpServerRequest), (request) =>
    request.method === "GET" || request.method === "HEAD"
      ? HttpServerResponse.text(render(), { headers: { "content-type": CONTENT_TYPE } })
      : notFound)

/** Serves `render()` at /metrics, and `trace` at /trace when given, while the scope is open. */
export const serveMetrics = (at: ListenAddress, render: () => string, trace?: LiveTrace) =>
  Effect.gen(function*() {
    const run = Effect.runForkWith(yield* Effect.context<never>())
    const where = `${at.host}:${at.port}`
    const node = Http.createServer()
    const closing = yield* Deferred.make<void>()
    const server = yield* NodeHttpServer.make(() => node, { host: at.host, port: at.port }).pipe(
      Effect.mapError((e) =>
        new StartupError({
          message: `cannot serve metrics on ${where}: ${e.cause instanceof Error ? e.cause.message : String(e.cause)}`
        })
      )
    )
    node.on("error", (e: Error) => void run(Effect.logError(`metrics on ${where}: ${e.message}; still serving`)))
    const app = yield* HttpRouter.toHttpEffect(HttpRouter.use((router) =>
      Effect.gen(function*() {
        yield* router.add("*", "/metrics", metricsRoute(render))
        if (trace !== undefined) yield* router.add("*", "/trace", traceRoute(trace, Deferred.await(closing)))
        yield* router.add("*", "*", notFound)
      })
    ))
    yield* server.serve(app)
    // added last, so it runs first: the server's graceful shutdown would wait for a /trace reader to leave.
    // The trace responses are ended first (a reader sees the trace end, not a reset), given a moment to go out.
    yield* Effect.addFinalizer(() =>
      Effect.andThen(
        Deferred.succeed(closing, undefined),
        Effect.andThen(trace === undefined || trace.listeners() === 0 ? Effect.void : Effect.sleep(TRACE_END_GRACE), Effect.sync(() => node.closeAllConnections()))
      )
    )
    const address = formatAddress(node.address() as AddressInfo)
    return {
      url: `http://${address}/metrics`,
      traceUrl: trace === undefined ? undefined : `http://${address}/trace`,
      server: node
    } satisfies MetricsEndpoint
  })
