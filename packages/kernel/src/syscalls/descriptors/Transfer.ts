/**
 * Moving data between a file and the caller's buffers (NetBSD's
 * dofileread/dofilewrite with their uio). Data goes through the kernel in
 * chunks of at most CHUNK bytes, so a 64 MiB write never holds 64 MiB at
 * once and every copy fits the protocol's frame limit.
 */
import { Effect, Result } from "effect"
import { Errno, fileFlagsKernel, pollEvents, signals } from "@sysproxy/protocol/netbsd"
import type { File } from "../../fd/File.ts"
import { holdingFile } from "../../fd/FileTable.ts"
import { SysErr } from "../../kern/SysErr.ts"
import { copyin, copyout, type SyscallContext } from "../../kern/SyscallContext.ts"

/** Bytes moved per FileOps call and per copy. */
export const CHUNK = 1024 * 1024

/** ssize_t's largest value: a longer transfer is EINVAL. */
export const SSIZE_MAX = (1n << 63n) - 1n

/** One caller buffer (an iovec). */
export interface Segment {
  readonly base: bigint
  readonly len: bigint
}

const READABLE = pollEvents.POLLIN | pollEvents.POLLRDNORM | pollEvents.POLLHUP

/**
 * Whether another read may follow one that filled its chunk: regular files
 * and devices answer at once, a pipe or socket only when poll says so (a
 * read must not block once it has data for the caller).
 */
const mayReadOn = (file: File): boolean =>
  file.ops.kind === "vnode" || file.ops.kind === "device" ||
  (file.ops.poll !== undefined && (file.ops.poll(file, READABLE) & READABLE) !== 0)

/** An interrupted or would-block transfer that already moved data returns the count (as NetBSD does). */
const keepsPartial = (errno: number): boolean =>
  errno === Errno.EINTR || errno === Errno.EAGAIN

const minChunk = (left: bigint): number => (left < BigInt(CHUNK) ? Number(left) : CHUNK)

/**
 * Reads into `segs` in order, at `offset` (pread) or the file offset.
 * Stops at a short read: end of file, or all a pipe had.
 */
export const readInto = (
  ctx: SyscallContext,
  file: File,
  segs: ReadonlyArray<Segment>,
  offset: bigint | undefined
): Effect.Effect<number, SysErr> =>
  holdingFile(file, Effect.gen(function*() {
    let total = 0
    let off = offset
    for (const seg of segs) {
      let pos = 0n
      while (pos < seg.len) {
        if (total > 0 && !mayReadOn(file)) return total
        const want = minChunk(seg.len - pos)
        const r = yield* Effect.result(file.ops.read(ctx, file, want, off))
        if (Result.isFailure(r)) {
          if (total > 0 && keepsPartial(r.failure.errno)) return total
          return yield* Effect.fail(r.failure)
        }
        const data = r.success.byteLength > want ? r.success.subarray(0, want) : r.success
        if (data.byteLength > 0) yield* copyout(ctx, seg.base + pos, data)
        total += data.byteLength
        pos += BigInt(data.byteLength)
        if (off !== undefined) off += BigInt(data.byteLength)
        if (data.byteLength < want) return total
      }
    }
    return total
  }))

/**
 * Writes `segs` in order, at `offset` (pwrite) or the file offset (or its
 * end, O_APPEND: the FileOps decide). EPIPE also sends SIGPIPE to the
 * caller unless the file has FNOSIGPIPE, as dofilewrite does.
 */
export const writeFrom = (
  ctx: SyscallContext,
  file: File,
  segs: ReadonlyArray<Segment>,
  offset: bigint | undefined
): Effect.Effect<number, SysErr> =>
  holdingFile(file, Effect.gen(function*() {
    let total = 0
    let off = offset
    for (const seg of segs) {
      let pos = 0n
      while (pos < seg.len) {
        const want = minChunk(seg.len - pos)
        const data = yield* copyin(ctx, seg.base + pos, want)
        const r = yield* Effect.result(file.ops.write(ctx, file, data, off))
        if (Result.isFailure(r)) {
          const errno = r.failure.errno
          if (errno === Errno.EPIPE && (file.flag & fileFlagsKernel.FNOSIGPIPE) === 0) {
            yield* ctx.mem.raise(signals.SIGPIPE)
          }
          if (total > 0 && keepsPartial(errno)) return total
          return yield* Effect.fail(new SysErr({ errno }))
        }
        const n = Math.min(r.success, want)
        total += n
        pos += BigInt(n)
        if (off !== undefined) off += BigInt(n)
        if (n < want) return total
      }
    }
    return total
  }))
