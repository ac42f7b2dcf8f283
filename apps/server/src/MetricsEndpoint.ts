/**
 * `--metrics ADDR`: Prometheus text at http://ADDR/metrics, served with
 * node:http for as long as the scope is open. Anything else is 404.
 */
import { Effect } from "effect"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { StartupError } from "./AppErrors.ts"
import type { ListenAddress } from "./OptionRules.ts"

const CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

const formatAddress = (a: AddressInfo) => (a.family === "IPv6" ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`)

/** Serves `render()` at /metrics; the URL it is reachable at (the real port when 0 was asked). */
export const serveMetrics = (at: ListenAddress, render: () => string) =>
  Effect.acquireRelease(
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
        resume(Effect.fail(new StartupError({ message: `cannot serve metrics on ${at.host}:${at.port}: ${e.message}` })))
      server.once("error", onError)
      server.listen({ host: at.host, port: at.port }, () => {
        server.off("error", onError)
        resume(Effect.succeed(server))
      })
    }),
    (server) =>
      Effect.sync(() => {
        server.close()
        server.closeAllConnections()
      })
  ).pipe(
    Effect.map((server) => `http://${formatAddress(server.address() as AddressInfo)}/metrics`)
  )
