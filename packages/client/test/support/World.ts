/**
 * The real kernel behind a real SysproxyServer on a unix socket in a fresh
 * temporary directory, for the typed calls to run against end to end.
 * `serve` can be run again on the same socket path (a restarted server).
 */
import { layer as kernelLayer } from "@sysproxy/kernel"
import { type ServerOptions, SysproxyServer } from "@sysproxy/server"
import { Context, Effect, Layer, References, type Scope } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"

/** A fresh temporary directory, removed with everything in it when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "sp-client-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** A kernel and a server on `unix://<path>`, as long as the scope lives; its URL. */
export const serve = (
  path: string,
  options: Partial<Omit<ServerOptions, "url">> = {}
): Effect.Effect<string, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const server = SysproxyServer.layer({ ...options, url: `unix://${path}` }).pipe(
      Layer.provide(kernelLayer({ hostname: "client-test", console: () => undefined }))
    )
    const context = yield* Layer.build(server).pipe(Effect.provideService(References.MinimumLogLevel, "Error"))
    return Context.get(context, SysproxyServer).address.url
  })

/** A server in a fresh directory; its URL. */
export const startServer = (options: Partial<Omit<ServerOptions, "url">> = {}) =>
  Effect.flatMap(tempDir, (dir) => serve(Path.join(dir, "sp.sock"), options))
