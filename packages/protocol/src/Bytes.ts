/**
 * Small byte buffers for the per-frame hot path.
 *
 * Why: in V8 a small `new Uint8Array(n)` lives on the JS heap, and the first
 * look at its `.buffer` (a DataView over it, a socket write) moves it off
 * the heap, which costs more than everything else done to a getpid frame.
 * Frames and argument blocks are therefore cut from shared slabs that
 * already live off the heap, and a DataView is made once per slab, not
 * once per frame.
 */

const SLAB_SIZE = 64 * 1024
/** Larger buffers get their own allocation: a slab is held as long as any view into it lives. */
const POOLED_MAX = 1024

let slab = new ArrayBuffer(SLAB_SIZE)
let slabUsed = 0

/**
 * `n` zeroed bytes. Slab memory is never handed out twice, so a fresh slab's
 * zeroes are all the clearing needed.
 */
export const allocBytes = (n: number): Uint8Array<ArrayBuffer> => {
  if (n > POOLED_MAX) return new Uint8Array(new ArrayBuffer(n))
  if (slabUsed + n > SLAB_SIZE) {
    slab = new ArrayBuffer(SLAB_SIZE)
    slabUsed = 0
  }
  const bytes = new Uint8Array(slab, slabUsed, n)
  // keep views 8-byte aligned so the next frame's fields stay aligned too
  slabUsed += (n + 7) & ~7
  return bytes
}

/** A copy of `src` (pooled like allocBytes). */
export const copyBytes = (src: Uint8Array): Uint8Array<ArrayBuffer> => {
  const out = allocBytes(src.byteLength)
  out.set(src)
  return out
}

// Two views kept: a request's bytes alternate between the socket chunk it
// arrived in and the slab its copies and answer come from.
let bufferA: ArrayBufferLike | undefined
let viewA: DataView | undefined
let bufferB: ArrayBufferLike | undefined
let viewB: DataView | undefined

/**
 * A DataView over the whole buffer behind `bytes`: offsets into it are
 * `bytes.byteOffset + k`. Consecutive frames mostly share a socket chunk or
 * a slab, so the last two views are kept.
 */
export const viewOf = (bytes: Uint8Array): DataView => {
  const buffer = bytes.buffer
  if (buffer === bufferA) return viewA!
  if (buffer !== bufferB) {
    bufferB = buffer
    viewB = new DataView(buffer)
  }
  // the most recent first
  const b = bufferA
  const v = viewA
  bufferA = bufferB
  viewA = viewB
  bufferB = b
  viewB = v
  return viewA!
}
