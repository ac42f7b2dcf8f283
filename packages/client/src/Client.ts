/**
 * `SysproxyClient`: one rump client process as an Effect service. Its
 * Layer connects to a server (the URL given, else `RUMP_SERVER`), says
 * HANDSHAKE GUEST, and serves the typed syscalls of Syscalls.ts over that
 * one connection to every fiber that uses it, concurrently; the
 * connection closes when the layer is torn down. `fork` gives a second
 * connection that takes over a preforked copy of the process, `exec` the
 * exec handshake, `signals` what the kernel raised in the process.
 */
import type { ParsedBanner, ServerUrl } from "@sysproxy/protocol"
import { Errno } from "@sysproxy/protocol/netbsd"
import { Config, Context, Effect, Layer, type Scope, Stream } from "effect"
import type { AddressSpace } from "./AddressSpace.ts"
import { type ClientConnection, parseClientUrl } from "./Connection.ts"
import { ClientError, type RequestError } from "./Errors.ts"
import { type Handshake, openSession, type ReconnectTimeout, type Session } from "./Session.ts"
import { makeSyscalls, type Syscalls } from "./Syscalls.ts"

export interface ClientOptions {
  /** unix:///path, tcp://host:port or tcp6://[addr]:port; `RUMP_SERVER` when absent. */
  readonly url?: string | ServerUrl | undefined
  /**
   * The program name the process gets (p_comm); "sysproxy-client" by
   * default. A forked process keeps its parent's; its `comm` here is the
   * name it takes if it reconnects.
   */
  readonly comm?: string | undefined
  /**
   * Redial a lost connection, as rumpclient_setconnretry does: for this
   * long, once, or forever. Each reconnect is a new process. Off by default.
   */
  readonly reconnect?: ReconnectTimeout | undefined
  /** Largest frame accepted from the server. */
  readonly maxFrameLength?: number | undefined
}

export interface SysproxyProcess extends Syscalls {
  readonly url: ServerUrl
  /** The current connection's banner. */
  readonly banner: ParsedBanner
  readonly comm: string
  /** The simulated memory the server's copyin/copyout act on. */
  readonly space: AddressSpace
  /** The current connection (a new one after a reconnect). */
  readonly connection: ClientConnection
  readonly reconnects: number
  /** Dials of a lost connection that failed, for diagnostics. */
  readonly failedDials: number
  /**
   * The signals the kernel raised in the process (RAISE), each once, in
   * order, from the handshake on (buffered until taken: the newest
   * SIGNAL_BACKLOG, older untaken ones dropped). The stream ends
   * when the process does: its connection lost without reconnect, or the
   * client closed.
   */
  readonly signals: Stream.Stream<number>
  /** HANDSHAKE EXEC: the process continues as `comm`; close-on-exec descriptors are closed. */
  readonly exec: (comm: string) => Effect.Effect<void, RequestError>
  /** PREFORK: the cookie with which another connection takes over a copy of this process. */
  readonly prefork: () => Effect.Effect<Uint8Array, RequestError>
  /**
   * prefork, then a second connection that takes the copy over (HANDSHAKE
   * FORK): the child process, alive as long as the caller's scope.
   */
  readonly fork: () => Effect.Effect<SysproxyProcess, RequestError, Scope.Scope>
}

const DEFAULT_COMM = "sysproxy-client"

const noServer = (message: string) =>
  new ClientError({ reason: "BadUrl", errno: Errno.EINVAL, code: undefined, message })

/** The URL given, else RUMP_SERVER. */
const serverUrl = (url: string | ServerUrl | undefined): Effect.Effect<ServerUrl, ClientError> =>
  Effect.gen(function*() {
    const text = url ?? (yield* Config.String("RUMP_SERVER").pipe(
      Effect.mapError(() => noServer("no server URL given and RUMP_SERVER is not set"))
    ))
    return yield* Effect.fromResult(parseClientUrl(text))
  })

const processOf = (session: Session, options: ClientOptions): SysproxyProcess => {
  const syscalls = makeSyscalls((sysnum, slots) => session.withConnection((c) => c.syscall(sysnum, slots)), session.space)
  const prefork = () => session.withConnection((c) => c.prefork())
  return {
    ...syscalls,
    url: session.url,
    get banner() {
      return session.current.banner
    },
    get comm() {
      return session.comm
    },
    space: session.space,
    get connection() {
      return session.current
    },
    get reconnects() {
      return session.reconnects
    },
    get failedDials() {
      return session.failedDials
    },
    signals: Stream.fromQueue(session.signals),
    exec: session.exec,
    prefork,
    fork: () =>
      Effect.flatMap(
        prefork(),
        (cookie) => start({ ...options, url: session.url, comm: session.comm }, { _tag: "Fork", cookie })
      )
  }
}

const start = (options: ClientOptions, handshake: Handshake): Effect.Effect<SysproxyProcess, RequestError, Scope.Scope> =>
  Effect.gen(function*() {
    const url = yield* serverUrl(options.url)
    const session = yield* openSession({
      url,
      comm: options.comm ?? DEFAULT_COMM,
      handshake,
      reconnect: options.reconnect,
      maxFrameLength: options.maxFrameLength
    })
    return processOf(session, options)
  })

const optionsOf = (options: ClientOptions | string | undefined): ClientOptions =>
  typeof options === "string" ? { url: options } : options ?? {}

/** A new client process (HANDSHAKE GUEST), closed with the scope. */
export const makeClient = (options?: ClientOptions | string): Effect.Effect<SysproxyProcess, RequestError, Scope.Scope> =>
  start(optionsOf(options), { _tag: "Guest" })

/**
 * The child's side of a fork done across host processes: the parent called
 * `prefork()` and handed over the cookie; this connection takes the
 * preforked process over (HANDSHAKE FORK).
 */
export const attachForked = (
  cookie: Uint8Array,
  options?: ClientOptions | string
): Effect.Effect<SysproxyProcess, RequestError, Scope.Scope> => start(optionsOf(options), { _tag: "Fork", cookie })

export class SysproxyClient extends Context.Service<SysproxyClient, SysproxyProcess>()("@sysproxy/client/SysproxyClient") {
  /** A guest process on the server at `url` (or RUMP_SERVER), for the layer's lifetime. */
  static readonly layer = (options?: ClientOptions | string): Layer.Layer<SysproxyClient, RequestError> =>
    Layer.effect(SysproxyClient, makeClient(options))

  /** The preforked process of `cookie`, taken over on a new connection. */
  static readonly layerForked = (
    cookie: Uint8Array,
    options?: ClientOptions | string
  ): Layer.Layer<SysproxyClient, RequestError> => Layer.effect(SysproxyClient, attachForked(cookie, options))
}
