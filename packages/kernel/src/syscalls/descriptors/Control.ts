/**
 * lseek, ioctl, fsync, fdatasync, fsync_range.
 */
import { Effect } from "effect"
import { Errno, fileFlagsCompat, fileFlagsKernel, ioctl as ioc, ioctlEncoding, lseekWhence } from "@sysproxy/protocol/netbsd"
import { type File, FREAD, FWRITE } from "../../fd/File.ts"
import { sysErr, type SysErr } from "../../kern/SysErr.ts"
import { copyin, copyout, type SyscallContext } from "../../kern/SyscallContext.ts"
import type { SyscallImpl } from "../SyscallImpl.ts"
import { getFd } from "./Fd.ts"

const OFF_MAX = (1n << 63n) - 1n

const sizeOf = (file: File): bigint => file.ops.size?.(file) ?? 0n

/** lseek(fd, PAD, offset, whence): ESPIPE on a pipe or socket, EINVAL for a bad whence or a negative result. */
export const lseek: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const { file } = yield* getFd(ctx, ctx.args.int(0))
    if (!file.ops.seekable) return yield* sysErr(Errno.ESPIPE)
    const offset = ctx.args.long(2)
    const whence = ctx.args.int(3)
    const base = whence === lseekWhence.SEEK_SET
      ? 0n
      : whence === lseekWhence.SEEK_CUR
      ? file.offset
      : whence === lseekWhence.SEEK_END
      ? sizeOf(file)
      : undefined
    if (base === undefined) return yield* sysErr(Errno.EINVAL)
    const next = base + offset
    // off_t overflow wraps negative in C, which VOP_SEEK refuses the same way
    if (next < 0n || next > OFF_MAX) return yield* sysErr(Errno.EINVAL)
    file.offset = next
    return next
  })

/** The parameter size an ioctl command encodes (IOCPARM_LEN). */
const paramLen = (cmd: number): number => Math.floor(cmd / 2 ** ioctlEncoding.IOCPARM_SHIFT) & ioctlEncoding.IOCPARM_MASK

const has = (cmd: number, dir: number): boolean => (cmd & dir) !== 0

const readParam = (bytes: Uint8Array): bigint => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return bytes.byteLength >= 8
    ? view.getBigInt64(0, true)
    : bytes.byteLength >= 4
    ? BigInt(view.getInt32(0, true))
    : BigInt(bytes[0] ?? 0)
}

const writeParam = (value: bigint, size: number): Uint8Array => {
  const bytes = new Uint8Array(size)
  const view = new DataView(bytes.buffer)
  if (size >= 8) view.setBigInt64(0, BigInt.asIntN(64, value), true)
  else if (size >= 4) view.setInt32(0, Number(BigInt.asIntN(32, value)), true)
  else bytes[0] = Number(value & 0xffn)
  return bytes
}

/** The errno a file's fo_ioctl answers the flag and owner commands with (0: taken). */
const refusal = (file: File): number => file.ops.refuses?.ioctl ?? 0

/** sys_ioctl's FIONBIO and FIOASYNC: the flag is set, then the file is told, and its refusal is the answer (the flag stays). */
const setFlag = (file: File, bit: number, on: boolean): Effect.Effect<bigint, SysErr> => {
  file.flag = on ? file.flag | bit : file.flag & ~bit
  const errno = refusal(file)
  return errno === 0 ? Effect.succeed(0n) : sysErr(errno)
}

/** What the command does with its (copied-in) argument; the result goes back for IOC_OUT commands. */
const command = (ctx: SyscallContext, file: File, cmd: number, arg: bigint): Effect.Effect<bigint, SysErr> => {
  switch (cmd) {
    case ioc.FIONBIO:
      return setFlag(file, fileFlagsKernel.FNONBLOCK, arg !== 0n)
    case ioc.FIOASYNC:
      return setFlag(file, fileFlagsCompat.FASYNC, arg !== 0n)
    case ioc.FIOSETOWN:
      if (refusal(file) !== 0) return sysErr(refusal(file))
      file.owner = Number(BigInt.asIntN(32, arg))
      return Effect.succeed(0n)
    case ioc.FIOGETOWN:
      if (refusal(file) !== 0) return sysErr(refusal(file))
      return Effect.succeed(BigInt(file.owner))
    default:
      // vn_ioctl answers FIONREAD for files and directories itself: the bytes between the offset and the end
      if (cmd === ioc.FIONREAD && (file.vnode?.type === "reg" || file.vnode?.type === "dir")) {
        return Effect.succeed(sizeOf(file) - file.offset)
      }
      return file.ops.ioctl === undefined ? sysErr(Errno.ENOTTY) : file.ops.ioctl(ctx, file, cmd, arg)
  }
}

/** ioctl(fd, com, data) as sys_ioctl: copy the parameter in, run the command, copy the result out. */
export const ioctl: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const d = yield* getFd(ctx, ctx.args.int(0))
    const file = d.file
    if ((file.flag & (FREAD | FWRITE)) === 0) return yield* sysErr(Errno.EBADF)
    const com = ctx.args.ulong(1)
    // every command is a 32-bit word; anything wider names none
    if (com > 0xffff_ffffn) return yield* sysErr(Errno.ENOTTY)
    const cmd = Number(com)
    if (cmd === ioc.FIOCLEX || cmd === ioc.FIONCLEX) {
      d.cloexec = cmd === ioc.FIOCLEX
      return 0
    }
    const size = paramLen(cmd)
    if (size > ioctlEncoding.IOCPARM_MAX) return yield* sysErr(Errno.ENOTTY)
    const data = ctx.args.ptr(2)
    const arg = has(cmd, ioctlEncoding.IOC_IN) && size > 0 ? readParam(yield* copyin(ctx, data, size)) : data
    const out = yield* command(ctx, file, cmd, arg)
    if (has(cmd, ioctlEncoding.IOC_OUT) && size > 0) yield* copyout(ctx, data, writeParam(out, size))
    return 0
  })

/** fsync and fdatasync work on vnodes only (fd_getvnode: EINVAL for a pipe or socket). */
const vnodeFile = (ctx: SyscallContext) =>
  getFd(ctx, ctx.args.int(0)).pipe(
    Effect.flatMap(({ file }) =>
      file.ops.kind === "pipe" || file.ops.kind === "socket" || file.ops.kind === "sem"
        ? sysErr(Errno.EINVAL)
        : Effect.succeed(file)
    )
  )

/**
 * fsyncs (`dataOnly`: fdatasyncs) what the file reaches on the host (a
 * host file system's file, a host file mapping), failing with the host's
 * errno; a no-op for memory-only nodes.
 */
export const syncFile = (file: File, dataOnly: boolean): Effect.Effect<void, SysErr> =>
  file.ops.sync?.(file, dataOnly) ?? Effect.void

/** fsync(fd): a tmpfs node is in memory already; a host one reaches the disk. */
export const fsync: SyscallImpl = (ctx) =>
  vnodeFile(ctx).pipe(Effect.flatMap((file) => syncFile(file, false)), Effect.asVoid)

/** fdatasync(fd): also EBADF unless open for writing. */
export const fdatasync: SyscallImpl = (ctx) =>
  vnodeFile(ctx).pipe(
    Effect.flatMap((file) => ((file.flag & FWRITE) === 0 ? sysErr(Errno.EBADF) : syncFile(file, true)))
  )

/** fsync_range's flags (sys/fcntl.h). */
const FDATASYNC = 0x0010
const FFILESYNC = 0x0020

/**
 * fsync_range(fd, flags, start, length): EBADF unless open for writing;
 * exactly one of FDATASYNC and FFILESYNC (EINVAL); a range that wraps is
 * EINVAL; length 0 is the whole file. Then as fsync.
 */
export const fsyncRange: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const file = yield* vnodeFile(ctx)
    if ((file.flag & FWRITE) === 0) return yield* sysErr(Errno.EBADF)
    const flags = ctx.args.int(1)
    const kinds = flags & (FDATASYNC | FFILESYNC)
    if (kinds === 0 || kinds === (FDATASYNC | FFILESYNC)) return yield* sysErr(Errno.EINVAL)
    const start = ctx.args.long(2)
    const length = ctx.args.long(3)
    // off_t arithmetic: an end past OFF_MAX wraps below the start in C
    if (length !== 0n && BigInt.asIntN(64, start + length) < start) return yield* sysErr(Errno.EINVAL)
    yield* syncFile(file, kinds === FDATASYNC)
  })
