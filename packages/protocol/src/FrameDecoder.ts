/**
 * The streaming decoder: arbitrary chunks in, frames out.
 *
 * Why a small stateful parser and not a Channel: the server's read loop
 * already pulls chunk arrays from the socket and must react to each frame
 * in order (answer, schedule, close), so a synchronous `push` that returns
 * the frames of one chunk is the cheapest fit and keeps the hot path free
 * of per-chunk fibers. `decodeFrames` wraps it as a Stream pipeline for
 * callers that hold a Stream of bytes.
 *
 * Guarantees: a header's `len` is read as soon as its 24 bytes are in, and
 * a `len` shorter than the header or longer than the limit is an error
 * before any body byte is kept (the other header fields cannot be wrong on
 * their own: they are checked with the body, by the frame's Schema); body bytes are only
 * gathered as they arrive, so nothing is ever allocated from an untrusted
 * length. A complete frame goes through FrameFromBytes in one piece (a view
 * when it lies in one chunk).
 */
import { Result, Stream } from "effect"
import { DEFAULT_MAX_FRAME_LENGTH, HEADER_SIZE } from "./Constants.ts"
import type { Frame } from "./Frame.ts"
import { decodeFrame, decodeOwnedFrame, FrameDecodeError } from "./FrameCodec.ts"
import { type Header, readFrameLength, readHeaderFields } from "./Header.ts"

export interface FrameDecoderOptions {
  /** Largest accepted `len`, header included. Default 1 MiB + 40. */
  readonly maxFrameLength?: number | undefined
}

/** One decoded frame, or a frame the stream could be cut past but not read. */
export type DecodedFrame = Result.Result<Frame, FrameDecodeError>

export class FrameDecoder {
  readonly maxFrameLength: number
  private chunks: Array<Uint8Array> = []
  private headOffset = 0
  private buffered = 0
  /** The length of the frame in progress once its header is in; 0 before. */
  private frameLength = 0
  /** Whether the last take() gathered its bytes into a new buffer (one only that frame owns). */
  private gathered = false
  private failure: FrameDecodeError | undefined = undefined

  constructor(options: FrameDecoderOptions = {}) {
    this.maxFrameLength = options.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH
  }

  /** Bytes held for the frame in progress (never more than one frame). */
  get bufferedBytes(): number {
    return this.buffered
  }

  /** The stream hit an error it cannot recover from; no more frames. */
  get failed(): FrameDecodeError | undefined {
    return this.failure
  }

  /**
   * Feeds one chunk. Returns the frames it completed, in order; after a
   * fatal error the last element is that error and later input is ignored.
   * A `lent` chunk is the caller's only until push returns (a read buffer
   * used again): the part of it a frame in progress needs is copied. The
   * frames themselves never point into a chunk (their bytes are copies).
   */
  push(chunk: Uint8Array, lent = false): Array<DecodedFrame> {
    const out: Array<DecodedFrame> = []
    if (this.failure !== undefined || chunk.byteLength === 0) return out
    if (this.buffered === 0) {
      // the usual case, nothing pending: the chunk's whole frames are cut in place
      let at = 0
      while (chunk.byteLength - at >= HEADER_SIZE) {
        const len = readFrameLength(chunk, at)
        // a bad len, or a frame that goes on past the chunk: the buffered way below
        if (len < HEADER_SIZE || len > this.maxFrameLength || chunk.byteLength - at < len) break
        out.push(decodeFrame(chunk.subarray(at, at + len)))
        at += len
      }
      if (at === chunk.byteLength) return out
      if (at > 0) chunk = chunk.subarray(at)
    }
    this.chunks.push(lent ? new Uint8Array(chunk) : chunk)
    this.buffered += chunk.byteLength
    for (;;) {
      if (this.frameLength === 0) {
        if (this.buffered < HEADER_SIZE) return out
        // peek: the header stays buffered and is cut out with its body
        const head = this.peek(HEADER_SIZE)
        const len = readFrameLength(head)
        if (len < HEADER_SIZE) {
          const header = readHeaderFields(head)
          return this.fail(out, "len", `len ${header.len} is shorter than the ${HEADER_SIZE}-byte header`, undefined)
        }
        if (len > this.maxFrameLength) {
          const header = readHeaderFields(head)
          return this.fail(out, "len", `frame length ${header.len} exceeds the limit of ${this.maxFrameLength} bytes`, header)
        }
        this.frameLength = len
      }
      const frameLength = this.frameLength
      if (this.buffered < frameLength) return out
      this.frameLength = 0
      const bytes = this.take(frameLength)
      // a frame gathered from several chunks is in a buffer of its own: its data need no second copy
      out.push(this.gathered ? decodeOwnedFrame(bytes) : decodeFrame(bytes))
    }
  }

  /**
   * The input has ended: an error if it stopped inside a frame.
   */
  end(): FrameDecodeError | undefined {
    if (this.failure !== undefined) return undefined
    if (this.frameLength === 0 && this.buffered === 0) return undefined
    // the header of the frame in progress is still buffered (peeked, not taken)
    const header = this.frameLength === 0 ? undefined : readHeaderFields(this.peek(HEADER_SIZE))
    const want = header === undefined ? HEADER_SIZE : this.frameLength
    const have = this.buffered
    const error = new FrameDecodeError({
      field: header === undefined ? "header" : "body",
      message: `stream ended inside a frame: ${have} of ${want} bytes`,
      header,
      fatal: true
    })
    this.failure = error
    this.release()
    return error
  }

  private fail(out: Array<DecodedFrame>, field: string, message: string, header: Header | undefined) {
    this.failure = new FrameDecodeError({ field, message, header, fatal: true })
    this.release()
    out.push(Result.fail(this.failure))
    return out
  }

  private release(): void {
    this.chunks = []
    this.headOffset = 0
    this.buffered = 0
    this.frameLength = 0
  }

  /** The first `n` buffered bytes, left in place (n <= buffered). */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!
    if (first.byteLength - this.headOffset >= n) return first.subarray(this.headOffset, this.headOffset + n)
    const out = new Uint8Array(n)
    let filled = 0
    let offset = this.headOffset
    for (const chunk of this.chunks) {
      const part = Math.min(n - filled, chunk.byteLength - offset)
      out.set(chunk.subarray(offset, offset + part), filled)
      filled += part
      offset = 0
      if (filled === n) break
    }
    return out
  }

  /** Removes `n` buffered bytes; a view when they lie in one chunk. */
  private take(n: number): Uint8Array {
    this.gathered = false
    if (n === 0) return new Uint8Array(0)
    this.buffered -= n
    const first = this.chunks[0]!
    const available = first.byteLength - this.headOffset
    if (n <= available) {
      const view = first.subarray(this.headOffset, this.headOffset + n)
      this.headOffset += n
      if (this.headOffset === first.byteLength) {
        this.chunks.shift()
        this.headOffset = 0
      }
      return view
    }
    const out = new Uint8Array(n)
    this.gathered = true
    let filled = 0
    while (filled < n) {
      const chunk = this.chunks[0]!
      const part = Math.min(n - filled, chunk.byteLength - this.headOffset)
      out.set(chunk.subarray(this.headOffset, this.headOffset + part), filled)
      filled += part
      this.headOffset += part
      if (this.headOffset === chunk.byteLength) {
        this.chunks.shift()
        this.headOffset = 0
      }
    }
    return out
  }
}

/**
 * A Stream pipeline over the decoder: emits every frame (or recoverable
 * frame error) and fails with the first fatal error, including input that
 * ends inside a frame.
 */
export const decodeFrames = (options: FrameDecoderOptions = {}) =>
<E, R>(bytes: Stream.Stream<Uint8Array, E, R>): Stream.Stream<DecodedFrame, E | FrameDecodeError, R> =>
  Stream.suspend(() => {
    const decoder = new FrameDecoder(options)
    const frames = bytes.pipe(
      Stream.flatMap((chunk) => Stream.fromIterable(decoder.push(chunk))),
      Stream.flatMap((item) =>
        Result.isFailure(item) && item.failure.fatal ? Stream.fail(item.failure) : Stream.succeed(item)
      )
    )
    return Stream.concat(
      frames,
      Stream.suspend(() => {
        const error = decoder.end()
        return error === undefined ? Stream.empty : Stream.fail(error)
      })
    )
  })
