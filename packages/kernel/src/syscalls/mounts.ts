/**
 * The mounts family: what a mounted file system reports of itself
 * (statvfs1, fstatvfs1, getvfsstat). Mounting itself is in directories.ts.
 */
import { encodeStatvfs, STATVFS_SIZE } from "@sysproxy/protocol"
import { SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { copyinPath, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import { AT_FDCWD, fileNode, nodeAt } from "../vfs/At.ts"
import { statvfsOf } from "../vfs/Statvfs.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

const locked = <A, E>(ctx: SyscallContext, effect: Effect.Effect<A, E>) => ctx.kernel.vfs.exclusive(effect)

/** statvfs1(path, buf, flags): the file system the path (followed) is on. */
const statvfs1: SyscallImpl = (ctx) =>
  Effect.gen(function*() {
    const p = yield* copyinPath(ctx, ctx.args.ptr(0))
    const node = yield* locked(ctx, nodeAt(ctx, AT_FDCWD, p, true))
    yield* copyout(ctx, ctx.args.ptr(1), encodeStatvfs(statvfsOf(node.mount, ctx.args.int(2))))
  })

/** fstatvfs1(fd, buf, flags): EBADF, or EINVAL for a descriptor with no vnode (fd_getvnode). */
const fstatvfs1: SyscallImpl = (ctx) =>
  Effect.gen(function*() {
    const { node } = yield* fileNode(ctx, ctx.args.int(0))
    yield* copyout(ctx, ctx.args.ptr(1), encodeStatvfs(statvfsOf(node.mount, ctx.args.int(2))))
  })

/**
 * getvfsstat(buf, bufsize, flags): every mount in mount order, as many as
 * fit in bufsize; returns how many were written (with a NULL buf, how many
 * there are).
 */
const getvfsstat: SyscallImpl = (ctx) =>
  Effect.gen(function*() {
    const buf = ctx.args.ptr(0)
    const maxcount = Math.floor(ctx.args.size(1) / STATVFS_SIZE)
    const flags = ctx.args.int(2)
    const mounts = ctx.kernel.vfs.mounts
    if (buf === 0n) return mounts.length
    const shown = mounts.slice(0, maxcount)
    for (const [i, mount] of shown.entries()) {
      yield* copyout(ctx, buf + BigInt(i * STATVFS_SIZE), encodeStatvfs(statvfsOf(mount, flags)))
    }
    return shown.length
  })

export const family: SyscallFamily = [
  [SYS.statvfs1, statvfs1],
  [SYS.fstatvfs1, fstatvfs1],
  [SYS.getvfsstat, getvfsstat]
]
