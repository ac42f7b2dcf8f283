/**
 * Cuts the server's byte stream into frames: chunks in, decoded frames out.
 *
 * Why not the protocol package's FrameDecoder: at the time of writing its
 * `push` throws a TypeError when a frame with an empty body (PREFORK,
 * RAISE, ERROR, a SYSCALL without arguments) ends exactly at the end of
 * the bytes pushed so far, which is the common case for a socket read.
 * This reader keeps the same contract (fatal errors for an unusable `len`,
 * recoverable per-frame errors otherwise) and decodes each whole frame
 * with the package's own `decodeFrame`, so the wire rules stay in one
 * place. It can be swapped back once the decoder is fixed.
 */
import {
  DEFAULT_MAX_FRAME_LENGTH,
  type DecodedFrame,
  decodeFrame,
  FrameDecodeError,
  HEADER_SIZE,
  readHeaderFields
} from "@sysproxy/protocol"
import { Result } from "effect"

export class FrameReader {
  private chunks: Array<Uint8Array> = []
  private offset = 0
  private buffered = 0
  // length of the frame in progress, once its header is in
  private frameLength: number | undefined = undefined
  private failure: FrameDecodeError | undefined = undefined

  constructor(readonly maxFrameLength: number = DEFAULT_MAX_FRAME_LENGTH) {}

  /** The stream hit an error it cannot recover from; no more frames. */
  get failed(): FrameDecodeError | undefined {
    return this.failure
  }

  /** Feeds one chunk; returns the frames it completed, in order (after a fatal error, that error last). */
  push(chunk: Uint8Array): Array<DecodedFrame> {
    const out: Array<DecodedFrame> = []
    if (this.failure !== undefined || chunk.byteLength === 0) return out
    this.chunks.push(chunk)
    this.buffered += chunk.byteLength
    for (;;) {
      if (this.frameLength === undefined) {
        if (this.buffered < HEADER_SIZE) return out
        const header = readHeaderFields(this.peek(HEADER_SIZE))
        // checked before any body byte is kept: nothing is sized from an untrusted len
        if (header.len < BigInt(HEADER_SIZE) || header.len > BigInt(this.maxFrameLength)) {
          this.failure = new FrameDecodeError({
            field: "len",
            message: header.len < BigInt(HEADER_SIZE)
              ? `len ${header.len} is shorter than the ${HEADER_SIZE}-byte header`
              : `frame length ${header.len} exceeds the limit of ${this.maxFrameLength} bytes`,
            header: undefined,
            fatal: true
          })
          this.chunks = []
          this.buffered = 0
          out.push(Result.fail(this.failure))
          return out
        }
        this.frameLength = Number(header.len)
      }
      if (this.buffered < this.frameLength) return out
      const frame = this.take(this.frameLength)
      this.frameLength = undefined
      out.push(decodeFrame(frame))
    }
  }

  /** The first `n` buffered bytes (n > 0), without consuming them. */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0]
    if (first !== undefined && first.byteLength - this.offset >= n) {
      return first.subarray(this.offset, this.offset + n)
    }
    const out = new Uint8Array(n)
    let filled = 0
    let offset = this.offset
    for (const chunk of this.chunks) {
      const part = Math.min(n - filled, chunk.byteLength - offset)
      out.set(chunk.subarray(offset, offset + part), filled)
      filled += part
      offset = 0
      if (filled === n) break
    }
    return out
  }

  /** Removes and returns the first `n` buffered bytes (n <= buffered). */
  private take(n: number): Uint8Array {
    const out = this.peek(n)
    this.buffered -= n
    let left = n
    while (left > 0) {
      const chunk = this.chunks[0]
      if (chunk === undefined) break
      const part = Math.min(left, chunk.byteLength - this.offset)
      left -= part
      this.offset += part
      if (this.offset === chunk.byteLength) {
        this.chunks.shift()
        this.offset = 0
      }
    }
    return out
  }
}
