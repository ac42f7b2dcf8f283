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
import type { Mount } from "../vfs/Mount.ts"
import { statvfsFor } from "../vfs/Statvfs.ts"
import { unmount } from "../vfs/Unmount.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

const locked = <A, E>(ctx: SyscallContext, effect: Effect.Effect<A, E>) => ctx.kernel.vfs.exclusive(effect)

/** dostatvfs with `root` set (a mount outside the chroot is "/") into the caller's buffer (args 1 and 2). */
const statvfsOut = (ctx: SyscallContext, mount: Mount) =>
  Effect.flatMap(statvfsFor(ctx, mount, ctx.args.int(2), true), (st) => copyout(ctx, ctx.args.ptr(1), encodeStatvfs(st)))

/** statvfs1(path, buf, flags): the file system the path (followed) is on, as the caller's chroot names it. */
const statvfs1: SyscallImpl = (ctx) =>
  Effect.flatMap(copyinPath(ctx, ctx.args.ptr(0)), (p) =>
    Effect.flatMap(locked(ctx, nodeAt(ctx, AT_FDCWD, p, true)), (node) => statvfsOut(ctx, node.mount)))

/** fstatvfs1(fd, buf, flags): EBADF, or EINVAL for a descriptor with no vnode (fd_getvnode). */
const fstatvfs1: SyscallImpl = (ctx) => Effect.flatMap(fileNode(ctx, ctx.args.int(0)), ({ node }) => statvfsOut(ctx, node.mount))

/**
 * getvfsstat(buf, bufsize, flags), as do_sys_getvfsstat: every mount in
 * mount order, as many as fit in bufsize, returning how many were written
 * (with a NULL buf, how many there are). Under a chroot the mounts it
 * cannot see are left out (and not counted), and unless one of those
 * written is "/", a stand-in for the chroot's own file system named "/" is
 * added after them (and counted; it is written even where the buffer has
 * no room left, as NetBSD does).
 */
const getvfsstat: SyscallImpl = Effect.fnUntraced(function*(ctx: SyscallContext) {
  const buf = ctx.args.ptr(0)
  const maxcount = Math.floor(ctx.args.size(1) / STATVFS_SIZE)
  const flags = ctx.args.int(2)
  let count = 0
  let written = 0
  let root = false
  for (const mount of ctx.kernel.vfs.mounts) {
    if (buf !== 0n && count < maxcount) {
      const st = yield* Effect.result(statvfsFor(ctx, mount, flags, false))
      if (st._tag === "Failure") continue
      yield* copyout(ctx, buf + BigInt(written * STATVFS_SIZE), encodeStatvfs(st.success))
      written++
      root ||= st.success.mntonname === "/"
    }
    count++
  }
  const rdir = ctx.proc.rdir
  if (!root && rdir !== undefined) {
    const st = yield* statvfsFor(ctx, rdir.mount, flags, true)
    if (buf !== 0n) yield* copyout(ctx, buf + BigInt(written * STATVFS_SIZE), encodeStatvfs(st))
    count++
  }
  return buf !== 0n && count > maxcount ? maxcount : count
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
