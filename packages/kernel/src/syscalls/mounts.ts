/**
 * The mounts family: what a mounted file system reports of itself
 * (statvfs1, fstatvfs1, getvfsstat), unmounting it, and sync. Mounting
 * itself is in directories.ts.
 */
import { encodeStatvfs, STATVFS_SIZE } from "@sysproxy/protocol"
import { Errno, mountFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { copyinPath, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import { AT_FDCWD, fileNode, nodeAt } from "../vfs/At.ts"
import { requireRoot } from "../kauth/Cred.ts"
import { sysErr } from "../kern/SysErr.ts"
import { statvfsNow } from "../vfs/Statvfs.ts"
import { unmount } from "../vfs/Unmount.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

const locked = <A, E>(ctx: SyscallContext, effect: Effect.Effect<A, E>) => ctx.kernel.vfs.exclusive(effect)

/** statvfs1(path, buf, flags): the file system the path (followed) is on. */
const statvfs1: SyscallImpl = (ctx) =>
  Effect.gen(function*() {
    const p = yield* copyinPath(ctx, ctx.args.ptr(0))
    const node = yield* locked(ctx, nodeAt(ctx, AT_FDCWD, p, true))
    yield* copyout(ctx, ctx.args.ptr(1), encodeStatvfs(yield* statvfsNow(node.mount, ctx.args.int(2))))
  })

/** fstatvfs1(fd, buf, flags): EBADF, or EINVAL for a descriptor with no vnode (fd_getvnode). */
const fstatvfs1: SyscallImpl = (ctx) =>
  Effect.gen(function*() {
    const { node } = yield* fileNode(ctx, ctx.args.int(0))
    yield* copyout(ctx, ctx.args.ptr(1), encodeStatvfs(yield* statvfsNow(node.mount, ctx.args.int(2))))
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
      yield* copyout(ctx, buf + BigInt(i * STATVFS_SIZE), encodeStatvfs(yield* statvfsNow(mount, flags)))
    }
    return shown.length
  })

/**
 * unmount(path, flags), as sys_unmount: the path (not followed) must name
 * the root of a mounted file system (EINVAL otherwise, and for the root
 * file system); only the superuser (EPERM, after the lookup).
 */
const unmountPath: SyscallImpl = (ctx) =>
  Effect.gen(function*() {
    const p = yield* copyinPath(ctx, ctx.args.ptr(0))
    const force = (ctx.args.int(1) & mountFlags.MNT_FORCE) !== 0
    yield* locked(
      ctx,
      Effect.gen(function*() {
        const node = yield* nodeAt(ctx, AT_FDCWD, p, false)
        yield* requireRoot(ctx.proc)
        const mount = node.mount
        if ((mount.flags & mountFlags.MNT_ROOTFS) !== 0 || node !== mount.root) return yield* sysErr(Errno.EINVAL)
        yield* unmount(ctx.kernel, mount, force)
      })
    )
  })

/**
 * sync(): a tmpfs is in memory; a host file system's data is on the host
 * as soon as it is written, and its sidecar store's log is synced here
 * (the host's own sync of its page cache is left to the host).
 */
const sync: SyscallImpl = (ctx) =>
  Effect.forEach(ctx.kernel.vfs.mounts, (m) => (m.fstype === "hostfs" && m.sidecar !== undefined ? Effect.ignore(m.sidecar.sync) : Effect.void), {
    discard: true
  })

export const family: SyscallFamily = [
  [SYS.unmount, unmountPath],
  [SYS.sync, sync],
  [SYS.statvfs1, statvfs1],
  [SYS.fstatvfs1, fstatvfs1],
  [SYS.getvfsstat, getvfsstat]
]
