/**
 * The mounts family: mounting a tmpfs (__mount50), what a mounted file
 * system reports of itself (statvfs1, fstatvfs1, getvfsstat), unmounting
 * it, and sync.
 */
import { encodeStatvfs, STATVFS_SIZE } from "@sysproxy/protocol"
import { Errno, mountFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect, Result } from "effect"
import { copyin, copyinPath, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import { AT_FDCWD, fileNode, nodeAt } from "../vfs/At.ts"
import { requireRoot } from "../kauth/Cred.ts"
import { SysErr, sysErr } from "../kern/SysErr.ts"
import type { Mount } from "../vfs/Mount.ts"
import { nameFromBytes } from "../vfs/Names.ts"
import { chrootPath, statvfsFor, TMPFS_TYPE_NAME } from "../vfs/Statvfs.ts"
import { decodeTmpfsArgs, decodeTmpfsVersion, encodeTmpfsArgs, TMPFS_ARGS_SIZE, TMPFS_ARGS_VERSION } from "../vfs/TmpfsArgs.ts"
import type { Vnode } from "../vfs/Vnode.ts"
import { unmount } from "../vfs/Unmount.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

const locked = <A, E>(ctx: SyscallContext, effect: Effect.Effect<A, E>) => ctx.kernel.vfs.exclusive(effect)

/** sizeof f_fstypename: a file system type name with its NUL. */
const MFSNAMELEN = 32
/** VFS_MAX_MOUNT_DATA: the most mount data a call may pass. */
const VFS_MAX_MOUNT_DATA = 8192
/** sizeof f_mntonname. */
const MNAMELEN = 1024

/** What __mount50 reads from its caller, each error kept for its turn in do_sys_mount's order. */
interface MountRequest {
  readonly path: string
  readonly flags: number
  /** mount_get_vfsops found tmpfs (a name that is anything else, too long or unreadable: ENODEV). */
  readonly tmpfs: boolean
  /** The data as copied in (data_len 0: tmpfs's vfs_min_mount_data), or why it could not be; undefined for a NULL pointer. */
  readonly data: Uint8Array | SysErr | undefined
  readonly dataLen: number
}

/** mount_get_vfsops: the type name, copied in; only tmpfs is there. */
const isTmpfsType = (ctx: SyscallContext): Effect.Effect<boolean> =>
  Effect.match(ctx.mem.copyinstr(ctx.args.ptr(0), MFSNAMELEN), {
    onFailure: () => false,
    onSuccess: (bytes) => {
      const nul = bytes.indexOf(0)
      return nul >= 0 && nameFromBytes(bytes.subarray(0, nul)) === TMPFS_TYPE_NAME
    }
  })

/** The caller's arguments, read before the VFS lock is taken (reading them has no effect of its own). */
const mountRequest = Effect.fnUntraced(function*(ctx: SyscallContext) {
  const flags = ctx.args.int(2)
  const path = yield* copyinPath(ctx, ctx.args.ptr(1))
  // MNT_GETARGS and MNT_UPDATE take the file system of the path, whatever the type says
  const tmpfs = (flags & (mountFlags.MNT_GETARGS | mountFlags.MNT_UPDATE)) !== 0 || (yield* isTmpfsType(ctx))
  const ptr = ctx.args.ptr(3)
  const size = ctx.args.size(4)
  if (ptr === 0n) return { path, flags, tmpfs, data: undefined, dataLen: size } satisfies MountRequest
  const dataLen = size === 0 ? TMPFS_ARGS_SIZE : size
  const data = dataLen > VFS_MAX_MOUNT_DATA
    ? new SysErr({ errno: Errno.EINVAL })
    : Result.merge(yield* Effect.result(copyin(ctx, ptr, dataLen)))
  return { path, flags, tmpfs, data, dataLen } satisfies MountRequest
})

/** mount_domount and tmpfs_mount: root only, a directory, no MNT_EXPORTED, then tmpfs's own checks of its arguments. */
const domount = Effect.fnUntraced(function*(ctx: SyscallContext, req: MountRequest, node: Vnode) {
  yield* requireRoot(ctx.proc)
  if (node.type !== "dir") return yield* sysErr(Errno.ENOTDIR)
  if ((req.flags & mountFlags.MNT_EXPORTED) !== 0) return yield* sysErr(Errno.EINVAL)
  if (!(req.data instanceof Uint8Array) || req.dataLen < TMPFS_ARGS_SIZE) return yield* sysErr(Errno.EINVAL)
  const options = decodeTmpfsArgs(req.data)
  if (options === undefined) return yield* sysErr(Errno.EINVAL)
  const flags = req.flags & (mountFlags.MNT_BASIC_FLAGS | mountFlags.MNT_IGNORE)
  // set_statvfs_info: under a chroot the name is the chroot's path from the real root, then the path as given
  const rdir = ctx.proc.rdir
  const onName = rdir === undefined ? req.path : (yield* chrootPath(ctx, rdir)) + req.path
  if (onName.length > MNAMELEN - 2) return yield* sysErr(Errno.ENAMETOOLONG)
  yield* ctx.kernel.vfs.mountTmpfs(node, options, { onName, owner: ctx.proc.uid, flags })
})

/**
 * MNT_GETARGS (mount_getargs, then tmpfs_mount): anyone may ask; the only
 * flag (EINVAL), the root of a mounted file system (EINVAL), data of at
 * least a struct tmpfs_args whose version is 1 (EINVAL); the mount's
 * arguments go back into it, and the call returns their size. A host file
 * system has none to give (EOPNOTSUPP).
 */
const getargs = (ctx: SyscallContext, req: MountRequest, node: Vnode): Effect.Effect<number, SysErr> => {
  if (req.dataLen === 0 || (req.flags & ~mountFlags.MNT_GETARGS) !== 0) return sysErr(Errno.EINVAL)
  if (node.type !== "dir" || node !== node.mount.root) return sysErr(Errno.EINVAL)
  const mount = node.mount
  if (mount.fstype !== "tmpfs") return sysErr(Errno.EOPNOTSUPP)
  if (!(req.data instanceof Uint8Array) || req.dataLen < TMPFS_ARGS_SIZE || decodeTmpfsVersion(req.data) !== TMPFS_ARGS_VERSION) {
    return sysErr(Errno.EINVAL)
  }
  return Effect.as(copyout(ctx, ctx.args.ptr(3), encodeTmpfsArgs(mount.args())), TMPFS_ARGS_SIZE)
}

/**
 * mount_update: the root of a mounted file system (EINVAL), no downgrade
 * to read-only (EOPNOTSUPP), root only; changing a mount is not
 * implemented here (EOPNOTSUPP).
 */
const update = (ctx: SyscallContext, req: MountRequest, node: Vnode): Effect.Effect<void, SysErr> => {
  if (node.type !== "dir" || node !== node.mount.root) return sysErr(Errno.EINVAL)
  const rdonly = (node.mount.flags & mountFlags.MNT_RDONLY) !== 0
  if ((req.flags & (mountFlags.MNT_RELOAD | mountFlags.MNT_RDONLY)) !== 0 && !rdonly) return sysErr(Errno.EOPNOTSUPP)
  return Effect.andThen(requireRoot(ctx.proc), sysErr(Errno.EOPNOTSUPP))
}

/**
 * do_sys_mount under the VFS lock: the path first (ENOENT, ENOTDIR, ...),
 * then the type (ENODEV), then the data (EINVAL past VFS_MAX_MOUNT_DATA,
 * EFAULT), then what is asked: reading a mount's arguments back
 * (MNT_GETARGS), changing a mount (MNT_UPDATE), or a new one.
 */
const doMount = Effect.fnUntraced(function*(ctx: SyscallContext, req: MountRequest) {
  const node = yield* nodeAt(ctx, AT_FDCWD, req.path, true)
  if (!req.tmpfs) return yield* sysErr(Errno.ENODEV)
  if (req.data instanceof SysErr) return yield* Effect.fail(req.data)
  if ((req.flags & mountFlags.MNT_GETARGS) !== 0) return yield* getargs(ctx, req, node)
  if ((req.flags & mountFlags.MNT_UPDATE) !== 0) return yield* update(ctx, req, node)
  return yield* domount(ctx, req, node)
})

/** __mount50(type, path, flags, data, data_len): only tmpfs, new mounts and MNT_GETARGS. */
const mount: SyscallImpl = (ctx) => Effect.flatMap(mountRequest(ctx), (req) => locked(ctx, doMount(ctx, req)))

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
const unmountLocked = Effect.fnUntraced(function*(ctx: SyscallContext, p: string, force: boolean) {
  const node = yield* nodeAt(ctx, AT_FDCWD, p, false)
  yield* requireRoot(ctx.proc)
  const mount = node.mount
  if ((mount.flags & mountFlags.MNT_ROOTFS) !== 0 || node !== mount.root) return yield* sysErr(Errno.EINVAL)
  yield* unmount(ctx.kernel, mount, force)
})

const unmountPath: SyscallImpl = Effect.fnUntraced(function*(ctx) {
  const p = yield* copyinPath(ctx, ctx.args.ptr(0))
  const force = (ctx.args.int(1) & mountFlags.MNT_FORCE) !== 0
  yield* locked(ctx, unmountLocked(ctx, p, force))
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
  [SYS.__mount50, mount],
  [SYS.unmount, unmountPath],
  [SYS.sync, sync],
  [SYS.statvfs1, statvfs1],
  [SYS.fstatvfs1, fstatvfs1],
  [SYS.getvfsstat, getvfsstat]
]
