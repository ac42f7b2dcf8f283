/**
 * The real kernel behind a real SysproxyServer on a unix socket in a fresh
 * temporary directory, for typed calls and tools to run against end to
 * end (the client's tests and the sysproxy tool's). `serve` can be run
 * again on the same socket path (a restarted server).
 */
import { layer as kernelLayer } from "@sysproxy/kernel"
import { type ServerOptions, SysproxyServer, type SysproxyServerService } from "@sysproxy/server"
import { Context, Effect, Layer, References, type Scope } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

export interface WorldOptions {
  /** kern.hostname: "client-test" unless given. */
  readonly hostname?: string
  readonly server?: Partial<Omit<ServerOptions, "url">>
}

/** A fresh temporary directory, removed with everything in it when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "sp-client-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** A kernel and a server on `unix://<path>`, as long as the scope lives (logs below Error dropped). */
export const serveWorld = (
  path: string,
  options: WorldOptions = {}
): Effect.Effect<SysproxyServerService, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const server = SysproxyServer.layer({ ...options.server, url: `unix://${path}` }).pipe(
      Layer.provide(kernelLayer({ hostname: options.hostname ?? "client-test", console: () => undefined }))
    )
    const context = yield* Layer.build(server).pipe(Effect.provideService(References.MinimumLogLevel, "Error"))
    return Context.get(context, SysproxyServer)
  })

/** `serveWorld` in a fresh directory. */
export const startWorld = (options: WorldOptions = {}) =>
  Effect.flatMap(tempDir, (dir) => serveWorld(Path.join(dir, "sp.sock"), options))

/** `serveWorld`'s URL. */
export const serve = (path: string, options: WorldOptions = {}) =>
  Effect.map(serveWorld(path, options), (server) => server.address.url)

/** `startWorld`'s URL. */
export const startServer = (options: WorldOptions = {}) => Effect.map(startWorld(options), (server) => server.address.url)
