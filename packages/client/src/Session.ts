/**
 * One client process as the server sees it, across connections: the
 * current connection (each in its own scope under the session's), the
 * program name, the address space every connection serves, the signals
 * raised in it, and reconnecting with librumpclient's semantics.
 *
 * Reconnect (rumpclient_setconnretry): a request made while the
 * connection is gone dials again, with the C client's backoff (at once,
 * then 100 ms more per try up to 900 ms, then 1 s more up to 10 s),
 * until it works or the timeout has passed (each dial bounded by what is
 * left of it, and by DIAL_TIMEOUT); the new connection says
 * HANDSHAKE GUEST with the same program name, so the server makes a new
 * process, and the request goes out on it. Requests that were in flight
 * when the connection died fail with ConnectionClosed (ENOTCONN), as in C.
 */
import { formatServerUrl, type ServerUrl } from "@sysproxy/protocol"
import { type Cause, Clock, Duration, Effect, Exit, Option, Queue, Result, Scope, Semaphore } from "effect"
import { AddressSpace } from "./AddressSpace.ts"
import { type ClientConnection, connect } from "./Connection.ts"
import type { ConnectionClosed, RequestError } from "./Errors.ts"

/** How long a lost connection is redialled: a duration, a single try, or until it works. */
export type ReconnectTimeout = Duration.Input | "once" | "forever"

export type Handshake =
  | { readonly _tag: "Guest" }
  | { readonly _tag: "Fork"; readonly cookie: Uint8Array }

export interface SessionOptions {
  readonly url: ServerUrl
  readonly comm: string
  readonly handshake: Handshake
  /** Off (undefined) by default: a lost connection stays lost. */
  readonly reconnect: ReconnectTimeout | undefined
  readonly maxFrameLength: number | undefined
}

export interface Session {
  readonly url: ServerUrl
  readonly space: AddressSpace
  /** The connection requests go to now. */
  readonly current: ClientConnection
  readonly comm: string
  /** How many times the session has reconnected (each time a new process). */
  readonly reconnects: number
  /** Dials of a lost connection that failed (each followed by the next try, after the backoff). */
  readonly failedDials: number
  /** The signals raised in the process, across reconnects (the newest SIGNAL_BACKLOG untaken); ends with the session. */
  readonly signals: Queue.Dequeue<number, Cause.Done>
  /** Runs `use` on the current connection, reconnecting first if it is lost and reconnect is on. */
  readonly withConnection: <A>(
    use: (conn: ClientConnection) => Effect.Effect<A, RequestError>
  ) => Effect.Effect<A, RequestError>
  /** HANDSHAKE EXEC on the current connection; later reconnects use the new name. */
  readonly exec: (comm: string) => Effect.Effect<void, RequestError>
}

/**
 * How many raised signals a session keeps untaken; past that the oldest
 * go (a sliding queue), so a long-lived client nobody reads signals from
 * holds at most this many. As many as NetBSD has signals: a C process's
 * pending set holds each signal at most once, so it never sees more.
 */
export const SIGNAL_BACKLOG = 64

/**
 * The longest one dial (connect, banner, handshake) of a reconnect may
 * take when the reconnect timeout does not bound it sooner ("once",
 * "forever"): a server whose backlog accepts but never answers costs a
 * try, not the session. As long as the longest pause between tries.
 */
export const DIAL_TIMEOUT = Duration.seconds(10)

/** The pause before reconnect try `n` (0-based), as librumpclient's send_with_recon. */
export const reconnectDelay = (n: number): Duration.Duration =>
  n < 10 ? Duration.millis(100 * n) : Duration.seconds(Math.min(10, n - 9))

interface Live {
  readonly conn: ClientConnection
  readonly scope: Scope.Closeable
}

export const openSession = Effect.fn("SysproxyClient.openSession")(function*(
  options: SessionOptions
): Effect.fn.Return<Session, RequestError, Scope.Scope> {
  const scope = yield* Effect.scope
  const space = new AddressSpace()
  const signals = yield* Queue.sliding<number, Cause.Done>(SIGNAL_BACKLOG)
  yield* Effect.addFinalizer(() => Queue.end(signals))
  const lock = yield* Semaphore.make(1)
  let comm = options.comm
  let reconnects = 0
  let failedDials = 0

  const dial = (handshake: Handshake): Effect.Effect<Live, RequestError> =>
    Effect.gen(function*() {
      const connScope = yield* Scope.fork(scope)
      return yield* Effect.gen(function*() {
        const conn = yield* connect(options.url, {
          space,
          maxFrameLength: options.maxFrameLength,
          onSignal: (signo) => Queue.offerUnsafe(signals, signo)
        }).pipe(Scope.provide(connScope))
        if (handshake._tag === "Guest") yield* conn.handshakeGuest(comm)
        else yield* conn.handshakeFork(handshake.cookie)
        // without reconnect the process ends with its connection, and so do its signals
        if (options.reconnect === undefined) {
          yield* conn.closed.pipe(Effect.andThen(Queue.end(signals)), Effect.forkIn(connScope))
        }
        return { conn, scope: connScope }
      }).pipe(Effect.onError((cause) => Scope.close(connScope, Exit.failCause(cause))))
    })

  let live = yield* dial(options.handshake)

  const redial = (lost: Live, timeout: ReconnectTimeout): Effect.Effect<ClientConnection, RequestError> =>
    Effect.gen(function*() {
      const gone: ConnectionClosed = lost.conn.closedWith ?? (yield* Effect.die(new Error("redial of a live connection")))
      const limit = timeout === "once" || timeout === "forever" ? undefined : Duration.toMillis(timeout)
      const deadline = limit === undefined ? undefined : (yield* Clock.currentTimeMillis) + limit
      yield* Effect.logWarning(`connection to ${formatServerUrl(options.url)} lost, trying to reconnect`)
      for (let attempt = 0;; attempt++) {
        if (attempt >= 1 && timeout === "once") return yield* gone
        if (deadline !== undefined && (yield* Clock.currentTimeMillis) >= deadline) return yield* gone
        yield* Effect.sleep(reconnectDelay(attempt))
        // each dial gets what is left of the timeout, and never more than DIAL_TIMEOUT
        const left = deadline === undefined
          ? DIAL_TIMEOUT
          : Duration.min(DIAL_TIMEOUT, Duration.millis(Math.max(0, deadline - (yield* Clock.currentTimeMillis))))
        const next = yield* Effect.result(Effect.timeoutOption(dial({ _tag: "Guest" }), left))
        if (Result.isFailure(next) || Option.isNone(next.success)) {
          failedDials++
          continue
        }
        yield* Scope.close(lost.scope, Exit.void)
        live = next.success.value
        reconnects++
        yield* Effect.logInfo("reconnected")
        return live.conn
      }
    })

  const ensure = (timeout: ReconnectTimeout) =>
    lock.withPermit(Effect.suspend(() => live.conn.closedWith === undefined ? Effect.succeed(live.conn) : redial(live, timeout)))

  const withConnection = <A>(use: (conn: ClientConnection) => Effect.Effect<A, RequestError>) =>
    Effect.suspend(() =>
      live.conn.closedWith === undefined || options.reconnect === undefined
        ? use(live.conn)
        : Effect.flatMap(ensure(options.reconnect), use)
    )

  return {
    url: options.url,
    space,
    get current() {
      return live.conn
    },
    get comm() {
      return comm
    },
    get reconnects() {
      return reconnects
    },
    get failedDials() {
      return failedDials
    },
    signals,
    withConnection,
    exec: (next) =>
      withConnection((conn) => conn.handshakeExec(next)).pipe(
        Effect.tap(() =>
          Effect.sync(() => {
            comm = next
          })
        )
      )
  } satisfies Session
})
