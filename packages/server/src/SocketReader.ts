/**
 * Pull-based reading from a node:net socket, so a connection fiber handles
 * its frames in order and the socket is paused while that fiber is behind
 * (a flooding client is held back by TCP, not by our memory).
 */
import { Effect } from "effect"
import type * as Net from "node:net"

export type ReadResult = { readonly _tag: "Data"; readonly chunks: Array<Uint8Array> } | { readonly _tag: "End" }

export interface SocketReader {
  /** The chunks read so far, or End once the socket is closed and drained. */
  readonly pull: Effect.Effect<ReadResult>
}

/** Chunks held before the socket is paused. */
const HIGH_WATER_CHUNKS = 16

export const makeSocketReader = (socket: Net.Socket): SocketReader => {
  let chunks: Array<Uint8Array> = []
  let ended = false
  let waiting: ((result: ReadResult) => void) | undefined

  const wake = () => {
    const resume = waiting
    if (resume === undefined || (chunks.length === 0 && !ended)) return
    waiting = undefined
    if (chunks.length > 0) {
      const out = chunks
      chunks = []
      resume({ _tag: "Data", chunks: out })
    } else {
      resume({ _tag: "End" })
    }
  }
  socket.on("data", (chunk: Buffer) => {
    chunks.push(chunk)
    if (chunks.length >= HIGH_WATER_CHUNKS) socket.pause()
    wake()
  })
  const onEnd = () => {
    ended = true
    wake()
  }
  socket.on("end", onEnd)
  socket.on("close", onEnd)
  // errors (ECONNRESET, EPIPE) are followed by "close"; reading just ends
  socket.on("error", () => {})

  const pull = Effect.callback<ReadResult>((resume) => {
    if (socket.isPaused() && !ended) socket.resume()
    waiting = (result) => resume(Effect.succeed(result))
    wake()
    return Effect.sync(() => {
      waiting = undefined
    })
  })
  return { pull }
}
