/**
 * `--metrics ADDR`: Prometheus text at http://ADDR/metrics, served with
 * node:http for as long as the scope is open. Anything else is 404.
 *
 * Listening happens in acquireRelease's acquire, which is uninterruptible:
 * a signal during it waits for the listen to end, then the release closes
 * the server, so nothing is left listening.
 */
import { Effect } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { StartupError } from "./AppErrors.ts"
import type { ListenAddress } from "./OptionRules.ts"

const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

const formatAddress = (a: AddressInfo) => (a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`)

export interface MetricsEndpoint {
  /** Where it is reachable (the real port when 0 was asked). */
  readonly url: string
  readonly server: Http.Server
}

/**
 * Serves `render()` at /metrics while the scope is open. An error before
 * listening fails the start; one after (accept failing with EMFILE, ...)
 * is logged: with no "error" listener node would throw it and end the
 * whole program.
 */
export const serveMetrics = (at: ListenAddress, render: () => string) =>
  Effect.gen(function*() {
    const run = Effect.runForkWith(yield* Effect.context<never>())
    const where = `${at.host}:${at.port}`
    const onLaterError = (e: Error) => void run(Effect.logError(`metrics on ${where}: ${e.message}; still serving`))
    const server = yield* Effect.acquireRelease(
      Effect.callback<Http.Server, StartupError>((resume) => {
        const server = Http.createServer((req, res) => {
          const path = (req.url ?? "").split("?")[0]
          if (path !== "/metrics" || (req.method !== "GET" && req.method !== "HEAD")) {
            res.writeHead(404, { "content-type": "text/plain" }).end("not found; try /metrics\n")
            return
          }
          const body = render()
          res.writeHead(200, { "content-type": CONTENT_TYPE }).end(req.method === "HEAD" ? undefined : body)
        })
        const onError = (e: Error) =>
          resume(Effect.fail(new StartupError({ message: `cannot serve metrics on ${where}: ${e.message}` })))
        server.once("error", onError)
        server.listen({ host: at.host, port: at.port }, () => {
          server.on("error", onLaterError)
          server.off("error", onError)
          resume(Effect.succeed(server))
        })
      }),
      (server) =>
        Effect.sync(() => {
          server.close()
          server.closeAllConnections()
        })
    )
    return { url: `http://${formatAddress(server.address() as AddressInfo)}/metrics`, server } satisfies MetricsEndpoint
  })
