/**
 * `connect`: one client connection to a sysproxy server, as a scoped
 * resource. The connection carries many concurrent requests (each with its
 * own reqno, answered in any order) and serves the server's requests from
 * its simulated address space while they are in flight.
 */
import * as Net from "node:net"
import {
  type ParsedBanner,
  parseServerUrl,
  type PreforkResponse,
  type ServerUrl,
  type SyscallResponse
} from "@sysproxy/protocol"
import { Errno } from "@sysproxy/protocol/netbsd"
import { Deferred, Effect, Queue, Result, type Scope } from "effect"
import { AddressSpace } from "./AddressSpace.ts"
import { type ClientStats, ConnectionState } from "./ConnectionState.ts"
import { ClientError, type ConnectionClosed, errnoOfNodeError, type RequestError } from "./Errors.ts"
import { encodeSyscallArgs, type SyscallArg } from "./SyscallArgs.ts"

export interface ConnectOptions {
  /** The address space to serve copyin/copyout from; a fresh one by default. */
  readonly space?: AddressSpace | undefined
  /** Largest frame accepted from the server (the decoder's limit). */
  readonly maxFrameLength?: number | undefined
  /**
   * Called with each signal the server raises, as it arrives, instead of
   * the connection keeping it: with it, `signals` stays empty and
   * `takeSignal` only ever sees the close (the caller keeps the signals).
   */
  readonly onSignal?: ((signo: number) => void) | undefined
}

export interface HandshakeForkOptions {
  /** Tell the server to drop the preforked process; it then closes without answering. */
  readonly cancel?: boolean | undefined
}

/** A syscall's outcome as the server reports it: `error` is a NetBSD errno, 0 on success. */
export interface SyscallResult {
  readonly error: number
  readonly retval0: bigint
  readonly retval1: bigint
}

export interface ClientConnection {
  readonly url: ServerUrl
  readonly banner: ParsedBanner
  readonly space: AddressSpace
  readonly handshakeGuest: (comm: string) => Effect.Effect<void, RequestError>
  readonly handshakeExec: (comm: string) => Effect.Effect<void, RequestError>
  readonly handshakeFork: (cookie: Uint8Array, options?: HandshakeForkOptions) => Effect.Effect<void, RequestError>
  /** The 16-byte cookie a forked child presents in HANDSHAKE FORK. */
  readonly prefork: () => Effect.Effect<Uint8Array, RequestError>
  /** `args` is the raw argument block, or one value per 8-byte slot. */
  readonly syscall: (
    sysnum: number,
    args?: Uint8Array | ReadonlyArray<SyscallArg>
  ) => Effect.Effect<SyscallResult, RequestError>
  /** Every signal the server raised, in order (none kept when `onSignal` was given). */
  readonly signals: ReadonlyArray<number>
  /** The next raised signal not taken yet; fails once the connection is closed and none is left (see `onSignal`). */
  readonly takeSignal: Effect.Effect<number, ConnectionClosed>
  /** Bytes straight onto the socket (for tests that send garbage). */
  readonly writeRaw: (bytes: Uint8Array) => Effect.Effect<void, ConnectionClosed>
  /** Requests waiting for an answer. */
  readonly pendingCount: number
  readonly stats: ClientStats
  /** Set once the connection is closed, by either side. */
  readonly closedWith: ConnectionClosed | undefined
  /** Completes when the socket has closed. */
  readonly closed: Effect.Effect<void>
  /** Flushes, closes the socket and waits for it; pending requests fail with ConnectionClosed. */
  readonly close: Effect.Effect<void>
}

/** A URL to connect to; a wildcard address is refused (a client needs a real one). */
export const parseClientUrl = (url: string | ServerUrl): Result.Result<ServerUrl, ClientError> =>
  typeof url !== "string"
    ? Result.succeed(url)
    : Result.mapError(
      parseServerUrl(url, { role: "client" }),
      (e) => new ClientError({ reason: "BadUrl", errno: Errno.EINVAL, code: undefined, message: e.message })
    )

/** Opens the socket and wires up the state machine in the same tick, so no event is missed. */
const open = (
  url: ServerUrl,
  space: AddressSpace,
  signals: Queue.Queue<number, ConnectionClosed>,
  options: ConnectOptions
): Effect.Effect<ConnectionState, ClientError> =>
  Effect.callback<ConnectionState, ClientError>((resume) => {
    const socket = url._tag === "Unix"
      ? Net.createConnection({ path: url.path })
      : Net.createConnection({ host: url.host, port: url.port, noDelay: true })
    const onError = (error: Error) => {
      socket.destroy()
      resume(Effect.fail(
        new ClientError({
          reason: "ConnectFailed",
          errno: errnoOfNodeError(error),
          code: undefined,
          message: `cannot connect to ${url._tag === "Unix" ? url.path : `${url.host}:${url.port}`}: ${error.message}`
        })
      ))
    }
    socket.once("error", onError)
    socket.once("connect", () => {
      socket.off("error", onError)
      // both sides set TCP_NODELAY: frames are small and latency-bound
      if (url._tag !== "Unix") socket.setNoDelay(true)
      resume(Effect.succeed(new ConnectionState(socket, space, signals, options.maxFrameLength, options.onSignal)))
    })
    return Effect.sync(() => socket.destroy())
  })

const handshakeAnswer = (error: number, what: string): Effect.Effect<void, ClientError> =>
  error === 0
    ? Effect.void
    : Effect.fail(
      new ClientError({
        reason: "HandshakeFailed",
        errno: error,
        code: undefined,
        message: `${what} handshake refused with error ${error}`
      })
    )

const badArgs = (message: string) =>
  new ClientError({ reason: "BadRequest", errno: Errno.EINVAL, code: undefined, message })

/**
 * Connects, reads the banner and returns the connection. The socket is
 * closed when the scope closes.
 */
export const connect = Effect.fn("SysproxyClient.connect")(function*(
  url: string | ServerUrl,
  options: ConnectOptions = {}
): Effect.fn.Return<ClientConnection, RequestError, Scope.Scope> {
  const serverUrl = yield* Effect.fromResult(parseClientUrl(url))
  const space = options.space ?? new AddressSpace()
  const signals = yield* Queue.unbounded<number, ConnectionClosed>()
  const state = yield* Effect.acquireRelease(open(serverUrl, space, signals, options), (s) => s.close)
  const banner = yield* Deferred.await(state.bannerResult).pipe(Effect.onError(() => state.close))

  const handshakeGuest = Effect.fn("SysproxyClient.handshakeGuest")(function*(comm: string) {
    const answer = yield* state.request((reqno) => ({ _tag: "HandshakeGuest", reqno, comm }), "HandshakeResponse")
    yield* handshakeAnswer(answer.error, "guest")
  })

  const handshakeExec = Effect.fn("SysproxyClient.handshakeExec")(function*(comm: string) {
    const answer = yield* state.request((reqno) => ({ _tag: "HandshakeExec", reqno, comm }), "HandshakeResponse")
    yield* handshakeAnswer(answer.error, "exec")
  })

  const handshakeFork = Effect.fn("SysproxyClient.handshakeFork")(function*(
    cookie: Uint8Array,
    forkOptions?: HandshakeForkOptions
  ) {
    // the frame schema wants an ArrayBuffer-backed copy; this also detaches the caller's buffer
    const bytes = new Uint8Array(cookie)
    if (forkOptions?.cancel === true) {
      // the server drops the prefork and closes the connection without an answer
      return yield* state.notify((reqno) => ({ _tag: "HandshakeFork", reqno, cookie: bytes, cancel: 1 }))
    }
    const answer = yield* state.request(
      (reqno) => ({ _tag: "HandshakeFork", reqno, cookie: bytes, cancel: 0 }),
      "HandshakeResponse"
    )
    yield* handshakeAnswer(answer.error, "fork")
  })

  const prefork = Effect.fn("SysproxyClient.prefork")(function*() {
    const answer: PreforkResponse = yield* state.request(
      (reqno) => ({ _tag: "PreforkRequest", reqno }),
      "PreforkResponse"
    )
    return answer.cookie
  })

  const syscall = Effect.fn("SysproxyClient.syscall")(function*(
    sysnum: number,
    args: Uint8Array | ReadonlyArray<SyscallArg> = []
  ) {
    const block = args instanceof Uint8Array ? Result.succeed(new Uint8Array(args)) : encodeSyscallArgs(args)
    if (Result.isFailure(block)) return yield* badArgs(block.failure)
    const answer: SyscallResponse = yield* state.request(
      (reqno) => ({ _tag: "SyscallRequest", reqno, sysnum, args: block.success }),
      "SyscallResponse"
    )
    return { error: answer.error, retval0: answer.retval0, retval1: answer.retval1 } satisfies SyscallResult
  })

  return {
    url: serverUrl,
    banner,
    space,
    handshakeGuest,
    handshakeExec,
    handshakeFork,
    prefork,
    syscall,
    signals: state.signals,
    takeSignal: Queue.take(signals),
    writeRaw: (bytes) => state.writeRaw(bytes),
    get pendingCount() {
      return state.pendingCount
    },
    get stats() {
      return state.stats
    },
    get closedWith() {
      return state.closedWith
    },
    closed: Deferred.await(state.socketClosed),
    close: state.close
  }
})
