/**
 * Reading client sockets into one buffer the whole server reuses, instead
 * of a new ArrayBuffer for every read.
 *
 * Why: node:net gives each read its own ArrayBuffer (a backing store off
 * the heap). At tens of thousands of round trips a second that is tens of
 * thousands of backing stores a second for the young collector to sweep
 * (half of a scavenge's pause), and the bytes of a larger request count
 * as external memory, whose growth starts full collections of their own
 * (writes of 4 KiB to a file: several mark-compacts a second).
 *
 * How: node:net reads into a caller's buffer when a socket is made with
 * the `onread` option, but a server's sockets are made by net.Server,
 * which passes no such option (Node 24). The listener pauses each new
 * socket before it reads anything (`pauseOnConnect`), and this module
 * gives the socket what the option would have: the buffer and the
 * callback, under node:net's own symbols for them (found on the socket by
 * their names), and the handle's `useUserBuffer`. Where they are not there
 * (another Node), the socket's "data" events are used as before.
 *
 * One buffer serves every socket: reads come one at a time on the event
 * loop and each chunk is handled before the next read. A chunk is lent,
 * not given: whatever a reader keeps past its callback must be copied.
 */
import type * as Net from "node:net"

/** node:net reads at most 64 KiB at a time itself. */
const READ_BUFFER_SIZE = 64 * 1024

let shared: Buffer | undefined

interface OnreadSymbols {
  readonly buffer: symbol
  readonly callback: symbol
}

interface UserBufferHandle {
  readonly useUserBuffer: (buffer: Uint8Array) => void
}

/** node:net's own property keys for the `onread` option's buffer and callback, on this socket. */
const onreadSymbols = (socket: Net.Socket): OnreadSymbols | undefined => {
  let buffer: symbol | undefined
  let callback: symbol | undefined
  for (const s of Object.getOwnPropertySymbols(socket)) {
    if (s.description === "kBuffer") buffer = s
    else if (s.description === "kBufferCb") callback = s
  }
  return buffer === undefined || callback === undefined ? undefined : { buffer, callback }
}

const handleOf = (socket: Net.Socket): Partial<UserBufferHandle> | undefined =>
  (socket as unknown as { readonly _handle?: Partial<UserBufferHandle> | null })._handle ?? undefined

/**
 * Starts reading `socket` (made paused, by a listener with
 * `pauseOnConnect`) and hands each chunk to `onChunk`. `lent` tells
 * whether the chunks live in the shared buffer (true: copy what is kept)
 * or are the socket's own (false: "data" events, where this Node lacks
 * what the shared buffer needs).
 */
export const readChunks = (socket: Net.Socket, onChunk: (chunk: Uint8Array) => void): { readonly lent: boolean } => {
  const symbols = onreadSymbols(socket)
  const handle = handleOf(socket)
  if (symbols === undefined || typeof handle?.useUserBuffer !== "function") {
    socket.on("data", onChunk)
    socket.resume()
    return { lent: false }
  }
  const buffer = (shared ??= Buffer.allocUnsafe(READ_BUFFER_SIZE))
  const fields = socket as unknown as Record<symbol, unknown>
  fields[symbols.buffer] = buffer
  fields[symbols.callback] = (nread: number, buf: Uint8Array) => {
    onChunk(buf.subarray(0, nread))
  }
  handle.useUserBuffer(buffer)
  // with the buffer in place, resume starts the reads (node:net's onread path)
  socket.resume()
  return { lent: true }
}
