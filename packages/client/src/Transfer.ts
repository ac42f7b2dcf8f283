/**
 * Whole-file transfers at the connection's full speed: chunks of
 * TRANSFER_CHUNK bytes (one COPYIN or COPYOUT of the largest the server
 * sends), up to TRANSFER_IN_FLIGHT requests at once on the one
 * connection, so the kernel's work on one chunk overlaps the wire time of
 * the next. Nothing is copied on the client's side: a chunk to write is
 * mapped as it is and answers the kernel's COPYIN itself; a read lands in
 * a buffer that becomes the chunk handed on. Memory stays at a few chunks
 * whatever the file's size.
 *
 * Regular files go by pread/pwrite at each chunk's offset (so chunks may
 * complete in any order; the stream still gives them in file order);
 * anything else (a pipe, a device) by read/write one chunk at a time.
 */
import { MAX_COPY_CHUNK } from "@sysproxy/protocol"
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect, Stream } from "effect"
import { isRegularFile } from "./abi/Stat.ts"
import { type CallError, syscallError } from "./Errors.ts"
import type { Syscalls } from "./Syscalls.ts"

/** The size of one read or write request of a transfer: what one COPYIN/COPYOUT frame carries. */
export const TRANSFER_CHUNK = MAX_COPY_CHUNK

/** Requests of one transfer in flight at once. */
export const TRANSFER_IN_FLIGHT = 4

export interface TransferOptions {
  /** Bytes per request (TRANSFER_CHUNK). */
  readonly chunkSize?: number | undefined
  /** Requests at once (TRANSFER_IN_FLIGHT); 1 for strictly one after the other. */
  readonly inFlight?: number | undefined
}

const sizes = (options: TransferOptions | undefined) => ({
  chunk: Math.max(1, options?.chunkSize ?? TRANSFER_CHUNK),
  inFlight: Math.max(1, options?.inFlight ?? TRANSFER_IN_FLIGHT)
})

/**
 * The bytes of `fd` from offset 0 (a regular file) or from where it is
 * (anything else) to its end, in order, as chunks of at most `chunkSize`
 * bytes. The descriptor stays the caller's to close.
 */
export const readStream = (
  sys: Syscalls,
  fd: number,
  options?: TransferOptions
): Stream.Stream<Uint8Array, CallError> => {
  const { chunk, inFlight } = sizes(options)
  const sequential = Stream.fromEffectRepeat(sys.read(fd, chunk)).pipe(Stream.takeWhile((c) => c.byteLength > 0))
  const positional = Stream.iterate(0, (off) => off + chunk).pipe(
    Stream.mapEffect((off) => sys.pread(fd, chunk, off), { concurrency: inFlight }),
    // a short read is the end (a regular file's reads are short only there); what was asked past it is dropped
    Stream.takeUntil((c) => c.byteLength < chunk),
    Stream.filter((c) => c.byteLength > 0)
  )
  return Stream.unwrap(Effect.map(sys.fstat(fd), (st) => (isRegularFile(st) ? positional : sequential)))
}

/** All of `data` to `fd` at `offset` (undefined: at the file offset), short writes continued. */
const writeAll = (sys: Syscalls, fd: number, data: Uint8Array, offset: number | undefined) =>
  Effect.gen(function*() {
    let done = 0
    while (done < data.byteLength) {
      const rest = data.subarray(done)
      const n = offset === undefined ? yield* sys.write(fd, rest) : yield* sys.pwrite(fd, rest, offset + done)
      if (n === 0) return yield* syscallError(offset === undefined ? "write" : "pwrite", Errno.EIO)
      done += n
    }
  })

/**
 * Writes the stream's chunks to `fd` one after the other (a regular file:
 * from offset 0, up to `inFlight` at once; anything else: at its offset,
 * one at a time). The count of bytes written. The descriptor stays the
 * caller's to close; `chunkSize` does not apply (each chunk is one request).
 */
export const writeStream = <E, R>(
  sys: Syscalls,
  fd: number,
  chunks: Stream.Stream<Uint8Array, E, R>,
  options?: TransferOptions
): Effect.Effect<number, CallError | E, R> =>
  Effect.gen(function*() {
    const { inFlight } = sizes(options)
    const regular = isRegularFile(yield* sys.fstat(fd))
    const placed = chunks.pipe(
      Stream.mapAccum(() => 0, (at, data: Uint8Array) => [at + data.byteLength, [{ at, data }]] as const)
    )
    return yield* placed.pipe(
      Stream.mapEffect(({ at, data }) => Effect.as(writeAll(sys, fd, data, regular ? at : undefined), data.byteLength), {
        concurrency: regular ? inFlight : 1
      }),
      Stream.runFold(() => 0, (total, n: number) => total + n)
    )
  })
