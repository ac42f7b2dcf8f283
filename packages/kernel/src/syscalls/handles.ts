/**
 * The file handle family (vfs_syscalls.c), the superuser's only (EPERM
 * first): __getfh30 makes a node's handle, __fhopen40 opens the node a
 * handle names (as open(2) would, without O_CREAT), __fhstat50 and
 * __fhstatvfs140 stat it and its file system. A handle of a removed node,
 * or of a file system no longer mounted, is ESTALE. The handles are
 * vfs/FileHandle.ts.
 */
import { encodeStatvfs } from "@sysproxy/protocol"
import { Errno, openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { encodeStat } from "../abi/Stat.ts"
import { FREAD, FWRITE } from "../fd/File.ts"
import { requireRoot } from "../kauth/Cred.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { copyin, copyinPath, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import { AT_FDCWD, nodeAt } from "../vfs/At.ts"
import { statOf } from "../vfs/Attributes.ts"
import {
  composeHandle,
  FHANDLE_SIZE_MAX,
  FHANDLE_SIZE_MIN,
  fidLengthOf,
  handleLength,
  resolveHandle
} from "../vfs/FileHandle.ts"
import { installOpened, openNodeFor } from "../vfs/Open.ts"
import { statvfsFor } from "../vfs/Statvfs.ts"
import type { Vnode } from "../vfs/Vnode.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

const locked = <A, E>(ctx: SyscallContext, effect: Effect.Effect<A, E>) => ctx.kernel.vfs.exclusive(effect)

/** vfs_copyinfh_alloc: the handle the caller gives (its size checked before and after it is read). */
const handleIn: (ctx: SyscallContext, ptr: bigint, size: number) => Effect.Effect<Uint8Array, SysErr> = Effect.fnUntraced(
  function*(ctx, ptr, size) {
    if (size > FHANDLE_SIZE_MAX || size < FHANDLE_SIZE_MIN) return yield* sysErr(Errno.EINVAL)
    const bytes = yield* copyin(ctx, ptr, size)
    const n = yield* handleLength(size, fidLengthOf(bytes))
    return n === size ? bytes : bytes.subarray(0, n)
  })

/** The node the handle argument (pointer in slot 0, size in slot 1) names. */
const handleNode = (ctx: SyscallContext): Effect.Effect<Vnode, SysErr> =>
  Effect.flatMap(
    handleIn(ctx, ctx.args.ptr(0), ctx.args.size(1)),
    (bytes) => locked(ctx, resolveHandle(ctx.kernel.vfs.mounts, bytes))
  )

/** __getfh30(fname, fhp, fh_size): the size always goes back; the handle if it fits (E2BIG otherwise). */
const getfh: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    yield* requireRoot(ctx.proc)
    const p = yield* copyinPath(ctx, ctx.args.ptr(0))
    const fh = composeHandle(yield* locked(ctx, nodeAt(ctx, AT_FDCWD, p, true)))
    const sizePtr = ctx.args.ptr(2)
    const room = new DataView((yield* copyin(ctx, sizePtr, 8)).slice().buffer).getBigUint64(0, true)
    const size = new Uint8Array(8)
    new DataView(size.buffer).setBigUint64(0, BigInt(fh.length), true)
    yield* copyout(ctx, sizePtr, size)
    if (room < BigInt(fh.length)) return yield* sysErr(Errno.E2BIG)
    yield* copyout(ctx, ctx.args.ptr(1), fh)
  })

/** __fhopen40(fhp, fh_size, flags): EINVAL without FREAD/FWRITE or with O_CREAT, EMFILE before the handle is read. */
const fhopen: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    yield* requireRoot(ctx.proc)
    const oflags = ctx.args.int(2)
    if (((oflags + 1) & (FREAD | FWRITE)) === 0 || (oflags & openFlags.O_CREAT) !== 0) return yield* sysErr(Errno.EINVAL)
    if (ctx.proc.fds.lowestFree() === undefined) return yield* sysErr(Errno.EMFILE)
    const bytes = yield* handleIn(ctx, ctx.args.ptr(0), ctx.args.size(1))
    const file = yield* locked(
      ctx,
      Effect.flatMap(resolveHandle(ctx.kernel.vfs.mounts, bytes), (node) => openNodeFor(ctx, node, oflags, false))
    )
    return yield* installOpened(ctx, file, oflags)
  })

/** __fhstat50(fhp, fh_size, sb) */
const fhstat: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    yield* requireRoot(ctx.proc)
    const node = yield* handleNode(ctx)
    if (node.fs === "host") yield* node.mount.refresh(node)
    yield* copyout(ctx, ctx.args.ptr(2), encodeStat(statOf(node)))
  })

/** __fhstatvfs140(fhp, fh_size, buf, flags): dostatvfs as statvfs1's (a chroot's names). */
const fhstatvfs: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    yield* requireRoot(ctx.proc)
    const node = yield* handleNode(ctx)
    const st = yield* statvfsFor(ctx, node.mount, ctx.args.int(3), true)
    yield* copyout(ctx, ctx.args.ptr(2), encodeStatvfs(st))
  })

export const family: SyscallFamily = [
  [SYS.__getfh30, getfh],
  [SYS.__fhopen40, fhopen],
  [SYS.__fhstat50, fhstat],
  [SYS.__fhstatvfs140, fhstatvfs]
]
