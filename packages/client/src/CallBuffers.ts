/**
 * Buffers in the simulated address space for the length of one call: a
 * typed syscall maps what it hands the kernel (paths, data, out-buffers)
 * through `withBuffers`, and every region is unmapped when the call ends,
 * however it ends (answer, errno, lost connection, interruption). Late
 * copyouts of an interrupted call then fault harmlessly: addresses are
 * never reused.
 */
import { Effect } from "effect"
import type { AddressSpace } from "./AddressSpace.ts"

export interface CallBuffers {
  /** Maps a copy of `bytes`, or `size` zero bytes; returns the address. */
  readonly alloc: (init: Uint8Array | number) => bigint
  /** Maps `bytes` themselves, not a copy, read-only: the kernel reads the caller's memory and cannot write it. */
  readonly borrow: (bytes: Uint8Array) => bigint
  /** Maps `s` as a NUL-terminated UTF-8 string. */
  readonly string: (s: string) => bigint
  /** A copy of `len` bytes at `addr` (empty if unmapped, which a buffer of this call never is). */
  readonly read: (addr: bigint, len: number) => Uint8Array
  /** The `len` bytes at `addr` without a copy (valid after the call: addresses are never reused). */
  readonly view: (addr: bigint, len: number) => Uint8Array
  /** The NUL-terminated string at `addr`. */
  readonly readString: (addr: bigint, maxLen: number) => string
}

export const withBuffers = <A, E, R>(
  space: AddressSpace,
  use: (buffers: CallBuffers) => Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    Effect.sync((): Array<bigint> => []),
    (mapped) => {
      const track = (addr: bigint) => {
        if (addr !== 0n) mapped.push(addr)
        return addr
      }
      return use({
        alloc: (init) => track(space.alloc(init)),
        borrow: (bytes) => track(space.adopt(bytes, { readOnly: true })),
        string: (s) => track(space.allocString(s)),
        read: (addr, len) => space.read(addr, len) ?? new Uint8Array(0),
        view: (addr, len) => space.view(addr, len) ?? new Uint8Array(0),
        readString: (addr, maxLen) => space.readString(addr, maxLen) ?? ""
      })
    },
    (mapped) =>
      Effect.sync(() => {
        for (const addr of mapped) space.free(addr)
      })
  )
