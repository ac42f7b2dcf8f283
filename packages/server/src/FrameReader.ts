/**
 * A connection's incoming frames, in order. Each chunk is decoded and its
 * frames handled right in the socket's "data" callback: answers are handed
 * to their waiters and syscalls started there, without waking the
 * connection's fiber for every chunk. A frame that needs that fiber (a
 * handshake, a prefork, an exec, an undecodable frame) parks the rest: the
 * fiber runs it, then the frames after it, then the chunks that came
 * meanwhile; while it is behind, the socket is paused (a flooding client is
 * held back by TCP, not by our memory).
 */
import { Effect, Result, type Scope } from "effect"
import type { DecodedFrame, Frame, FrameDecoder } from "@sysproxy/protocol"
import type * as Net from "node:net"
import { readChunks } from "./SocketReads.ts"

/** What the reader hands the frames to. */
export interface FrameSink {
  /** Handles a frame at once, or returns what the connection's fiber must run before the next frame. */
  readonly onFrame: (frame: Frame) => Effect.Effect<void, never, Scope.Scope> | undefined
  /** A frame that could not be decoded: always run on the connection's fiber. */
  readonly onUndecodable: (item: DecodedFrame & { readonly _tag: "Failure" }) => Effect.Effect<void>
  /** No more frames are to be handled (the connection is closing). */
  readonly stopped: () => boolean
  /** Brackets the frames of one chunk (the answers they cause leave in one write). */
  readonly beginBatch: () => void
  readonly endBatch: () => void
}

/** Chunks held while the fiber is behind before the socket is paused. */
const HIGH_WATER_CHUNKS = 16

interface Parked {
  readonly effect: Effect.Effect<void, never, Scope.Scope>
  readonly frames: ReadonlyArray<DecodedFrame>
  readonly next: number
}

export class FrameReader {
  private readonly socket: Net.Socket
  private readonly decoder: FrameDecoder
  private readonly sink: FrameSink
  private parked: Parked | undefined = undefined
  /** Chunks that came while a frame was parked, not decoded yet. */
  private held: Array<Uint8Array> = []
  private ended = false
  /** Resumes the fiber waiting in `run`. */
  private wake: (() => void) | undefined = undefined
  /** Chunks live in the buffer every socket reads into: what is kept past onData is copied. */
  private readonly lent: boolean

  constructor(socket: Net.Socket, decoder: FrameDecoder, sink: FrameSink) {
    this.socket = socket
    this.decoder = decoder
    this.sink = sink
    const onEnd = () => {
      this.ended = true
      this.poke()
    }
    socket.on("end", onEnd)
    socket.on("close", onEnd)
    // errors (ECONNRESET, EPIPE) are followed by "close"; reading just ends
    socket.on("error", () => {})
    this.lent = readChunks(socket, (chunk) => this.onData(chunk)).lent
  }

  private onData(chunk: Uint8Array): void {
    if (this.parked !== undefined || this.held.length > 0) {
      this.held.push(this.lent ? new Uint8Array(chunk) : chunk)
      if (this.held.length >= HIGH_WATER_CHUNKS) this.socket.pause()
      return
    }
    this.handle(this.decoder.push(chunk, this.lent), 0)
  }

  /** Handles `frames` from `from` on, until one must wait for the fiber. */
  private handle(frames: ReadonlyArray<DecodedFrame>, from: number): void {
    const sink = this.sink
    sink.beginBatch()
    try {
      for (let i = from; i < frames.length; i++) {
        if (sink.stopped()) break
        const item = frames[i]!
        const effect = Result.isFailure(item) ? sink.onUndecodable(item) : sink.onFrame(item.success)
        if (effect !== undefined) {
          this.parked = { effect, frames, next: i + 1 }
          this.poke()
          return
        }
      }
    } finally {
      sink.endBatch()
    }
    if (sink.stopped()) this.poke()
  }

  private poke(): void {
    const wake = this.wake
    if (wake === undefined) return
    this.wake = undefined
    wake()
  }

  /** Something for the fiber to do: a parked frame, the end, or a stop. */
  private readonly ready = Effect.callback<void>((resume) => {
    if (this.parked !== undefined || this.ended || this.sink.stopped()) return resume(Effect.void)
    this.wake = () => resume(Effect.void)
    return Effect.sync(() => {
      this.wake = undefined
    })
  })

  /**
   * The connection fiber's part: runs each parked frame's effect, then goes
   * on with the frames and chunks behind it; ends once the client is gone
   * (and all it sent is handled) or the sink has stopped.
   */
  readonly run: Effect.Effect<void, never, Scope.Scope> = Effect.suspend(() => this.loop())

  private loop(): Effect.Effect<void, never, Scope.Scope> {
    if (this.sink.stopped()) return Effect.void
    const parked = this.parked
    if (parked !== undefined) {
      return Effect.andThen(parked.effect, () => {
        this.parked = undefined
        this.handle(parked.frames, parked.next)
        while (this.parked === undefined && this.held.length > 0 && !this.sink.stopped()) {
          this.handle(this.decoder.push(this.held.shift()!), 0)
        }
        if (this.parked === undefined && this.socket.isPaused() && !this.ended) this.socket.resume()
        return this.loop()
      })
    }
    if (this.ended && this.held.length === 0) return Effect.void
    return Effect.andThen(this.ready, () => this.loop())
  }
}
