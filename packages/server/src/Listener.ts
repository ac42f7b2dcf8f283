/**
 * The listening socket, as a scoped resource.
 *
 * node:net directly rather than effect/socket's SocketServer: the server
 * needs to refuse connections beyond its limit before any banner, set the
 * unix socket's mode before a client can connect, tell a stale socket file
 * from a live one, and see each socket's unsent byte count.
 */
import { Effect } from "effect"
import { formatServerUrl, parseServerUrl, type ServerUrl } from "@sysproxy/protocol"
import * as Fs from "node:fs"
import * as Net from "node:net"
import { ServerStartError } from "./ServerErrors.ts"

export interface BoundAddress {
  /** The URL the server is reachable at (the real port when 0 was asked). */
  readonly url: string
  readonly parsed: ServerUrl
}

export interface Listener {
  readonly address: BoundAddress
  readonly server: Net.Server
  /** Stops accepting; connected sockets stay. Removes the unix socket file. */
  readonly stop: Effect.Effect<void>
}

/** Is something accepting on this unix socket path right now? */
const unixPathIsLive = (path: string): Effect.Effect<boolean> =>
  Effect.callback<boolean>((resume) => {
    const probe = Net.createConnection({ path })
    probe.once("connect", () => {
      probe.destroy()
      resume(Effect.succeed(true))
    })
    probe.once("error", () => resume(Effect.succeed(false)))
    return Effect.sync(() => probe.destroy())
  })

/**
 * Binds and listens. An error before listening fails the start; one after
 * (accept failing with EMFILE, ...) goes to `onLaterError`: with no
 * "error" listener node:net would throw it and take the process down.
 */
const listenOn = (
  server: Net.Server,
  url: ServerUrl,
  mode: number,
  raw: string,
  onLaterError: (e: NodeJS.ErrnoException) => void
) =>
  Effect.callback<void, ServerStartError>((resume) => {
    const onError = (e: NodeJS.ErrnoException) =>
      resume(
        Effect.fail(
          new ServerStartError({
            url: raw,
            reason: e.code === "EADDRINUSE" ? "AddressInUse" : "ListenFailed",
            message: `cannot listen on ${raw}: ${e.message}`
          })
        )
      )
    server.once("error", onError)
    const done = () => {
      server.on("error", onLaterError)
      server.off("error", onError)
      resume(Effect.void)
    }
    if (url._tag === "Unix") {
      // bind happens inside listen(): a tight umask makes the file private
      // from its first instant, before chmod sets the asked-for mode
      const previous = process.umask(0o777 & ~mode)
      try {
        server.listen({ path: url.path, backlog: 511 }, done)
      } finally {
        process.umask(previous)
      }
    } else {
      server.listen({ host: url.host, port: url.port, backlog: 511, ipv6Only: url._tag === "Tcp6" }, done)
    }
  })

const boundUrl = (server: Net.Server, url: ServerUrl): BoundAddress => {
  const address = server.address()
  if (url._tag === "Unix" || address === null || typeof address === "string") {
    return { url: formatServerUrl(url), parsed: url }
  }
  const parsed: ServerUrl = { ...url, port: address.port }
  return { url: formatServerUrl(parsed), parsed }
}

/**
 * Listens on `rawUrl`. Connections go to `onConnection`, paused (nothing
 * read yet: see SocketReads); the listener stops (and its socket file is
 * removed) when the scope closes.
 */
export const listen = (rawUrl: string, unixSocketMode: number, onConnection: (socket: Net.Socket) => void) =>
  Effect.gen(function*() {
    const parsed = parseServerUrl(rawUrl, { role: "server" })
    if (parsed._tag === "Failure") {
      return yield* new ServerStartError({ url: rawUrl, reason: "BadUrl", message: parsed.failure.message })
    }
    const url = parsed.success
    const existing = url._tag === "Unix" ? Fs.lstatSync(url.path, { throwIfNoEntry: false }) : undefined
    if (url._tag === "Unix" && existing !== undefined) {
      // never remove anything that is not a socket: a mistyped path must not cost a file
      if (!existing.isSocket()) {
        return yield* new ServerStartError({
          url: rawUrl,
          reason: "AddressInUse",
          message: `${url.path} exists and is not a socket`
        })
      }
      if (yield* unixPathIsLive(url.path)) {
        return yield* new ServerStartError({
          url: rawUrl,
          reason: "AddressInUse",
          message: `another server is listening on ${url.path}`
        })
      }
      // a socket file nobody listens on is left over from a crash
      yield* Effect.sync(() => Fs.rmSync(url.path, { force: true }))
    }
    // sockets come paused: the connection decides how they are read (SocketReads)
    const server = Net.createServer({ pauseOnConnect: true, noDelay: true }, onConnection)
    let stopped = false
    let socketIno: number | undefined
    // close() only stops accepting; its callback would wait for every client
    const stop = Effect.sync(() => {
      if (stopped) return
      stopped = true
      server.close()
      // remove the socket file only while it is still the one this server made
      if (url._tag === "Unix" && Fs.lstatSync(url.path, { throwIfNoEntry: false })?.ino === socketIno) {
        Fs.rmSync(url.path, { force: true })
      }
    })
    const run = Effect.runForkWith(yield* Effect.context<never>())
    const onLaterError = (e: NodeJS.ErrnoException) =>
      void run(Effect.logError(`${rawUrl}: ${e.message}; still listening`))
    yield* Effect.acquireRelease(listenOn(server, url, unixSocketMode, rawUrl, onLaterError), () => stop)
    if (url._tag === "Unix") {
      yield* Effect.sync(() => {
        Fs.chmodSync(url.path, unixSocketMode)
        socketIno = Fs.lstatSync(url.path).ino
      })
    }
    const address = boundUrl(server, url)
    if (url._tag !== "Unix" && url.wildcard) {
      // nothing on the wire authenticates a client: every interface means anyone who can reach the port
      yield* Effect.logWarning(
        `listening on every interface (${address.url}): anyone who can reach this port can connect, and nothing authenticates a client`
      )
    }
    return { address, server, stop } satisfies Listener
  })
