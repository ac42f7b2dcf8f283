/**
 * read, write, readv, writev, pread, pwrite, preadv, pwritev: the checks
 * NetBSD makes, in its order (descriptor, direction, position, vector,
 * lengths), then a Transfer; for a traced caller, a KTR_GENIO record of
 * the data moved (dofileread's ktrgenio).
 *
 * Each is one generator function made once (Effect.fnUntraced), not an
 * Effect.gen closure per call: V8 gives every new generator function its
 * own prototype and map, which costs ~1 us per call and leaves garbage that
 * survives young collections (BENCHMARKS.md, "generator closures").
 */
import { Effect } from "effect"
import { Errno, limits, Structs } from "@sysproxy/protocol/netbsd"
import { type File, FREAD, FWRITE } from "../../fd/File.ts"
import { sysErr, type SysErr } from "../../kern/SysErr.ts"
import { copyin, type SyscallContext } from "../../kern/SyscallContext.ts"
import { recordGenio, UIO_READ, UIO_WRITE } from "../../ktrace/Ktrace.ts"
import type { SyscallImpl } from "../SyscallImpl.ts"
import { getFd } from "./Fd.ts"
import { readInto, type Segment, SSIZE_MAX, writeFrom } from "./Transfer.ts"

const IOVEC_SIZE = Structs.iovec.size

/** The caller's open file, if open in `direction` (FREAD or FWRITE); EBADF otherwise. */
const openFor = (ctx: SyscallContext, fd: number, direction: number): Effect.Effect<File, SysErr> =>
  getFd(ctx, fd).pipe(
    Effect.flatMap((d) => ((d.file.flag & direction) === 0 ? sysErr(Errno.EBADF) : Effect.succeed(d.file)))
  )

/** pread/pwrite's position: ESPIPE on a pipe or socket, EINVAL when negative (VOP_SEEK's check). */
const position = (file: File, offset: bigint): Effect.Effect<bigint, SysErr> =>
  !file.ops.seekable ? sysErr(Errno.ESPIPE) : offset < 0n ? sysErr(Errno.EINVAL) : Effect.succeed(offset)

/** One buffer of `len` bytes; a length ssize_t cannot return is EINVAL. */
const single = (base: bigint, len: bigint): Effect.Effect<ReadonlyArray<Segment>, SysErr> =>
  len > SSIZE_MAX ? sysErr(Errno.EINVAL) : Effect.succeed([{ base, len }])

/** The caller's struct iovec array: 1..IOV_MAX entries whose lengths sum to at most SSIZE_MAX. */
const iovecs: (ctx: SyscallContext, iovp: bigint, iovcnt: number) => Effect.Effect<ReadonlyArray<Segment>, SysErr> =
  Effect.fnUntraced(function*(ctx: SyscallContext, iovp: bigint, iovcnt: number) {
    // (u_int)iovcnt > IOV_MAX also refuses a negative count
    if (iovcnt === 0 || iovcnt >>> 0 > limits.IOV_MAX) return yield* sysErr(Errno.EINVAL)
    const bytes = yield* copyin(ctx, iovp, iovcnt * IOVEC_SIZE)
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const segs: Array<Segment> = []
    let total = 0n
    for (let i = 0; i < iovcnt; i++) {
      const base = view.getBigUint64(i * IOVEC_SIZE, true)
      const len = view.getBigUint64(i * IOVEC_SIZE + 8, true)
      total += len
      if (len > SSIZE_MAX || total > SSIZE_MAX) return yield* sysErr(Errno.EINVAL)
      segs.push({ base, len })
    }
    return segs
  })

/** The transfer, then a KTR_GENIO record of what it moved (the caller's fd is argument 0). */
const thenRecord = <N extends number | bigint>(
  ctx: SyscallContext,
  rw: number,
  segs: ReadonlyArray<Segment>,
  transfer: Effect.Effect<N, SysErr>
): Effect.Effect<N, SysErr> => Effect.tap(transfer, (n) => recordGenio(ctx, ctx.args.int(0), rw, segs, n))

/**
 * readInto and writeFrom, recorded if the caller is traced at all. Plain
 * functions of readInto's arity, with no closure of their own: a call from
 * a generator that takes more registers grows every call's generator
 * object, and a closure makes V8 allocate its context on every call. An
 * untraced call pays one check.
 */
const readTraced = (ctx: SyscallContext, file: File, segs: ReadonlyArray<Segment>, offset: bigint | undefined) =>
  ctx.proc.trace === undefined
    ? readInto(ctx, file, segs, offset)
    : thenRecord(ctx, UIO_READ, segs, readInto(ctx, file, segs, offset))

const writeTraced = (ctx: SyscallContext, file: File, segs: ReadonlyArray<Segment>, offset: bigint | undefined) =>
  ctx.proc.trace === undefined
    ? writeFrom(ctx, file, segs, offset)
    : thenRecord(ctx, UIO_WRITE, segs, writeFrom(ctx, file, segs, offset))

/** read(fd, buf, nbyte) */
export const read: SyscallImpl = Effect.fnUntraced(function*(ctx) {
  const file = yield* openFor(ctx, ctx.args.int(0), FREAD)
  const segs = yield* single(ctx.args.ptr(1), ctx.args.ulong(2))
  return yield* readTraced(ctx, file, segs, undefined)
})

/** write(fd, buf, nbyte) */
export const write: SyscallImpl = Effect.fnUntraced(function*(ctx) {
  const file = yield* openFor(ctx, ctx.args.int(0), FWRITE)
  const segs = yield* single(ctx.args.ptr(1), ctx.args.ulong(2))
  return yield* writeTraced(ctx, file, segs, undefined)
})

/** pread(fd, buf, nbyte, PAD, offset) */
export const pread: SyscallImpl = Effect.fnUntraced(function*(ctx) {
  const file = yield* openFor(ctx, ctx.args.int(0), FREAD)
  const offset = yield* position(file, ctx.args.long(4))
  const segs = yield* single(ctx.args.ptr(1), ctx.args.ulong(2))
  return yield* readTraced(ctx, file, segs, offset)
})

/** pwrite(fd, buf, nbyte, PAD, offset) */
export const pwrite: SyscallImpl = Effect.fnUntraced(function*(ctx) {
  const file = yield* openFor(ctx, ctx.args.int(0), FWRITE)
  const offset = yield* position(file, ctx.args.long(4))
  const segs = yield* single(ctx.args.ptr(1), ctx.args.ulong(2))
  return yield* writeTraced(ctx, file, segs, offset)
})

/** readv(fd, iovp, iovcnt) */
export const readv: SyscallImpl = Effect.fnUntraced(function*(ctx) {
  const file = yield* openFor(ctx, ctx.args.int(0), FREAD)
  const segs = yield* iovecs(ctx, ctx.args.ptr(1), ctx.args.int(2))
  return yield* readTraced(ctx, file, segs, undefined)
})

/** writev(fd, iovp, iovcnt) */
export const writev: SyscallImpl = Effect.fnUntraced(function*(ctx) {
  const file = yield* openFor(ctx, ctx.args.int(0), FWRITE)
  const segs = yield* iovecs(ctx, ctx.args.ptr(1), ctx.args.int(2))
  return yield* writeTraced(ctx, file, segs, undefined)
})

/** preadv(fd, iovp, iovcnt, PAD, offset) */
export const preadv: SyscallImpl = Effect.fnUntraced(function*(ctx) {
  const file = yield* openFor(ctx, ctx.args.int(0), FREAD)
  const offset = yield* position(file, ctx.args.long(4))
  const segs = yield* iovecs(ctx, ctx.args.ptr(1), ctx.args.int(2))
  return yield* readTraced(ctx, file, segs, offset)
})

/** pwritev(fd, iovp, iovcnt, PAD, offset) */
export const pwritev: SyscallImpl = Effect.fnUntraced(function*(ctx) {
  const file = yield* openFor(ctx, ctx.args.int(0), FWRITE)
  const offset = yield* position(file, ctx.args.long(4))
  const segs = yield* iovecs(ctx, ctx.args.ptr(1), ctx.args.int(2))
  return yield* writeTraced(ctx, file, segs, offset)
})
