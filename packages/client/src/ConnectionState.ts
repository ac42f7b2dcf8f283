/**
 * The per-socket state machine behind a ClientConnection: the banner
 * phase, the frame decoder, the table of requests waiting for an answer
 * (keyed by reqno), and the answers to the server's own requests.
 *
 * Why synchronous socket callbacks and not a reader fiber: every step
 * here is synchronous (decode, look up, copy, write), and doing it in the
 * 'data' and 'close' handlers keeps the order of the byte stream exactly
 * (responses that arrived before EOF complete before the EOF fails the
 * rest) with nothing to interrupt or leak. The callbacks cross into
 * Effect only through Deferred.doneUnsafe / Queue.offerUnsafe.
 */
import type * as Net from "node:net"
import {
  errorCodeInfo,
  type ErrorFrame,
  encodeFrameChunksResult,
  type Frame,
  FrameDecoder,
  type FrameOf,
  type FrameTag,
  MAX_BANNER,
  parseBanner,
  type ParsedBanner
} from "@sysproxy/protocol"
import { Errno } from "@sysproxy/protocol/netbsd"
import { Cause, Deferred, Effect, Queue, Result } from "effect"
import type { AddressSpace } from "./AddressSpace.ts"
import { ClientError, type ConnectionClosed, connectionClosed, type RequestError } from "./Errors.ts"
import { answerServerRequest, isServerRequest } from "./ServerRequests.ts"

/** The responses a client request waits for. */
export type ResponseTag = "HandshakeResponse" | "PreforkResponse" | "SyscallResponse"

type Answer = FrameOf<ResponseTag>

interface Pending {
  readonly expects: ResponseTag
  readonly deferred: Deferred.Deferred<Answer, RequestError>
  /** Written to the socket (a close then fails it with `sent`). */
  sent: boolean
}

/** Counters of what the client met on the wire, for tests and diagnostics. */
export interface ClientStats {
  /** COPYIN/COPYINSTR of unmapped memory (answered with an empty body). */
  readonly copyinFaults: number
  /** COPYOUT/COPYOUTSTR to unmapped memory (dropped). */
  readonly copyoutFaults: number
  /** Responses and errors whose reqno no request was waiting for. */
  readonly unmatchedResponses: number
  /** Well-formed frames a server has no business sending a client. */
  readonly unexpectedFrames: number
  /** Frames that could be cut from the stream but not decoded. */
  readonly badFrames: number
}

const NEWLINE = 0x0a

const isTag = <T extends FrameTag>(frame: Frame, tag: T): frame is FrameOf<T> => frame._tag === tag

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.byteLength + b.byteLength)
  out.set(a)
  out.set(b, a.byteLength)
  return out
}

export class ConnectionState {
  readonly signals: Array<number> = []
  readonly bannerResult = Deferred.makeUnsafe<ParsedBanner, RequestError>()
  readonly socketClosed = Deferred.makeUnsafe<void>()

  private readonly decoder: FrameDecoder
  private readonly pending = new Map<bigint, Pending>()
  // our own request numbers; like librumpclient, counting from 0
  private nextReqno = 0n
  // bytes of the banner line gathered so far; undefined once it is read
  private bannerBytes: Uint8Array | undefined = new Uint8Array(0)
  private closedError: ConnectionClosed | undefined = undefined
  private socketError: Error | undefined = undefined
  private counters = { copyinFaults: 0, copyoutFaults: 0, unmatchedResponses: 0, unexpectedFrames: 0, badFrames: 0 }

  private readonly socket: Net.Socket
  readonly space: AddressSpace
  private readonly signalQueue: Queue.Queue<number, ConnectionClosed>
  private readonly onSignal: ((signo: number) => void) | undefined

  constructor(
    socket: Net.Socket,
    space: AddressSpace,
    signalQueue: Queue.Queue<number, ConnectionClosed>,
    maxFrameLength: number | undefined,
    onSignal?: (signo: number) => void
  ) {
    this.socket = socket
    this.space = space
    this.signalQueue = signalQueue
    this.onSignal = onSignal
    this.decoder = new FrameDecoder({ maxFrameLength })
    socket.on("data", (chunk: Buffer) => this.onData(chunk))
    socket.on("error", (error) => {
      this.socketError ??= error
    })
    socket.on("close", () => {
      this.shutdown(this.socketError === undefined
        ? connectionClosed("Eof", "the server closed the connection")
        : connectionClosed("SocketError", `socket error: ${this.socketError.message}`))
      Deferred.doneUnsafe(this.socketClosed, Effect.void)
    })
  }

  get pendingCount(): number {
    return this.pending.size
  }

  get stats(): ClientStats {
    return { ...this.counters }
  }

  get closedWith(): ConnectionClosed | undefined {
    return this.closedError
  }

  /**
   * Sends a request and waits for its answer. The pending entry is removed
   * however the wait ends (answer, error, close, interruption).
   */
  request<T extends ResponseTag>(build: (reqno: bigint) => Frame, expects: T): Effect.Effect<FrameOf<T>, RequestError> {
    return Effect.acquireUseRelease(
      Effect.suspend(() => {
        if (this.closedError !== undefined) return Effect.fail(this.closedError)
        const reqno = this.nextReqno++
        const entry: Pending = { expects, deferred: Deferred.makeUnsafe<Answer, RequestError>(), sent: false }
        this.pending.set(reqno, entry)
        return Effect.succeed({ reqno, entry })
      }),
      ({ entry, reqno }) =>
        Effect.suspend(() => {
          const sent = this.send(build(reqno))
          if (Result.isFailure(sent)) return Effect.fail(sent.failure)
          entry.sent = true
          return Deferred.await(entry.deferred)
        }),
      ({ reqno }) => Effect.sync(() => this.pending.delete(reqno))
    ).pipe(
      Effect.flatMap((answer) =>
        isTag(answer, expects)
          ? Effect.succeed(answer)
          : Effect.fail(badResponse(`expected ${expects}, got ${answer._tag}`))
      )
    )
  }

  /** Sends a request that gets no answer (HANDSHAKE FORK with cancel). */
  notify(build: (reqno: bigint) => Frame): Effect.Effect<void, RequestError> {
    return Effect.suspend(() => {
      const sent = this.send(build(this.nextReqno++))
      return Result.isFailure(sent) ? Effect.fail(sent.failure) : Effect.void
    })
  }

  writeRaw(bytes: Uint8Array): Effect.Effect<void, ConnectionClosed> {
    return Effect.suspend(() => {
      if (this.closedError !== undefined) return Effect.fail(this.closedError)
      this.socket.write(bytes)
      return Effect.void
    })
  }

  /** Flushes what was written, closes the socket and waits until it is closed. */
  readonly close: Effect.Effect<void> = Effect.suspend(() => {
    this.shutdown(connectionClosed("Local", "the connection was closed by the client"))
    const socket = this.socket
    if (!socket.destroyed) {
      if (socket.writableEnded) socket.destroy()
      else socket.end(() => socket.destroy())
    }
    return Deferred.await(this.socketClosed)
  })

  /**
   * One frame, its pieces written back to back in this tick (so concurrent
   * requests never interleave on the wire); a large payload (a COPYIN
   * answer) goes out as it is, not copied into the frame.
   */
  private send(frame: Frame): Result.Result<void, RequestError> {
    if (this.closedError !== undefined) return Result.fail(this.closedError)
    const pieces = encodeFrameChunksResult(frame)
    if (Result.isFailure(pieces)) {
      return Result.fail(
        new ClientError({ reason: "BadRequest", errno: Errno.EINVAL, code: undefined, message: pieces.failure.message })
      )
    }
    if (pieces.success.length === 1) {
      this.socket.write(pieces.success[0]!)
      return Result.void
    }
    this.socket.cork()
    for (const piece of pieces.success) this.socket.write(piece)
    this.socket.uncork()
    return Result.void
  }

  /**
   * Marks the connection closed (once): every waiting request, the banner
   * and signal takers fail with `error`, and later requests fail at once.
   */
  private shutdown(error: ConnectionClosed): void {
    if (this.closedError !== undefined) return
    this.closedError = error
    const waiting = [...this.pending.values()]
    this.pending.clear()
    const afterSend = connectionClosed(error.reason, error.message, true)
    for (const { deferred, sent } of waiting) Deferred.doneUnsafe(deferred, Effect.fail(sent ? afterSend : error))
    Deferred.doneUnsafe(this.bannerResult, Effect.fail(error))
    // signals already queued can still be taken; then takers see the close
    Queue.failCauseUnsafe(this.signalQueue, Cause.fail(error))
  }

  /** The stream cannot go on: fail everything and drop the socket. */
  private abort(error: ConnectionClosed | ClientError): void {
    if (error._tag === "ClientError") Deferred.doneUnsafe(this.bannerResult, Effect.fail(error))
    this.shutdown(error._tag === "ConnectionClosed" ? error : connectionClosed("ProtocolError", error.message))
    this.socket.destroy()
  }

  private onData(chunk: Uint8Array): void {
    if (this.closedError !== undefined) return
    if (this.bannerBytes !== undefined) {
      const rest = this.readBanner(chunk)
      if (rest === undefined || rest.byteLength === 0) return
      chunk = rest
    }
    for (const decoded of this.decoder.push(chunk)) {
      if (Result.isSuccess(decoded)) {
        this.onFrame(decoded.success)
        continue
      }
      const failure = decoded.failure
      if (failure.fatal) {
        this.abort(connectionClosed("ProtocolError", `undecodable stream (${failure.field}): ${failure.message}`))
        return
      }
      this.counters.badFrames++
      // a broken answer to one of our requests fails that request, not the connection
      const header = failure.header
      const entry = header === undefined || header.class === 0 ? undefined : this.pending.get(header.reqno)
      if (header !== undefined && entry !== undefined) {
        this.pending.delete(header.reqno)
        Deferred.doneUnsafe(entry.deferred, Effect.fail(badResponse(`${failure.field}: ${failure.message}`)))
      }
    }
  }

  /**
   * Gathers the banner line. Returns the bytes after it once it is complete,
   * undefined while it is not (or when it failed).
   */
  private readBanner(chunk: Uint8Array): Uint8Array | undefined {
    const gathered = concat(this.bannerBytes ?? new Uint8Array(0), chunk)
    const newline = gathered.subarray(0, MAX_BANNER).indexOf(NEWLINE)
    if (newline === -1) {
      if (gathered.byteLength < MAX_BANNER) {
        this.bannerBytes = gathered
        return undefined
      }
      this.bannerBytes = undefined
      this.abort(bannerError(`no newline in the first ${MAX_BANNER} bytes`))
      return undefined
    }
    this.bannerBytes = undefined
    const parsed = parseBanner(gathered.subarray(0, newline + 1))
    if (Result.isFailure(parsed)) {
      this.abort(bannerError(parsed.failure.message))
      return undefined
    }
    Deferred.doneUnsafe(this.bannerResult, Effect.succeed(parsed.success))
    return gathered.subarray(newline + 1)
  }

  private onFrame(frame: Frame): void {
    switch (frame._tag) {
      case "HandshakeResponse":
      case "PreforkResponse":
      case "SyscallResponse":
      case "ErrorFrame":
        return this.onAnswer(frame)
    }
    if (!isServerRequest(frame)) {
      this.counters.unexpectedFrames++
      return
    }
    const outcome = answerServerRequest(this.space, frame)
    if (outcome.fault === "copyin") this.counters.copyinFaults++
    if (outcome.fault === "copyout") this.counters.copyoutFaults++
    if (outcome.signal !== undefined) {
      // one store per signal: the owner's (a session's bounded queue), else this connection's own
      if (this.onSignal !== undefined) {
        this.onSignal(outcome.signal)
      } else {
        this.signals.push(outcome.signal)
        Queue.offerUnsafe(this.signalQueue, outcome.signal)
      }
    }
    if (outcome.reply !== undefined) this.send(outcome.reply)
  }

  private onAnswer(frame: Answer | ErrorFrame): void {
    const entry = this.pending.get(frame.reqno)
    if (entry === undefined) {
      this.counters.unmatchedResponses++
      return
    }
    this.pending.delete(frame.reqno)
    if (frame._tag === "ErrorFrame") {
      const info = errorCodeInfo(frame.code)
      Deferred.doneUnsafe(
        entry.deferred,
        Effect.fail(
          new ClientError({
            reason: "ServerError",
            errno: info.errno,
            code: info.name,
            message: `the server answered request ${frame.reqno} with ERROR ${info.name}`
          })
        )
      )
      return
    }
    Deferred.doneUnsafe(entry.deferred, Effect.succeed(frame))
  }
}

const badResponse = (message: string): ClientError =>
  new ClientError({ reason: "BadResponse", errno: Errno.EPROTO, code: undefined, message })

const bannerError = (message: string): ClientError =>
  new ClientError({ reason: "BadBanner", errno: Errno.EPROTO, code: undefined, message: `bad banner: ${message}` })
