/**
 * open(2)/openat(2): looks the path up (creating a regular file for
 * O_CREAT), checks what NetBSD checks, takes an O_SHLOCK/O_EXLOCK lock and
 * installs a new open file at the lowest free descriptor. The file's flag
 * is FFLAGS(oflags) & FMASK (FREAD/FWRITE plus the fcntl-settable bits
 * such as O_APPEND). A host file system's file is opened on the host
 * (host/HostFileOps.ts), a new one created and opened by one host call.
 */
import { Errno, fileFlagsKernel, modeBits, openFlags } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { File, FREAD, FWRITE } from "../fd/File.ts"
import { releaseFile } from "../fd/FileTable.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import type { SyscallContext } from "../kern/SyscallContext.ts"
import { checkAccess, VREAD, VWRITE } from "./Access.ts"
import { lookupAt } from "./At.ts"
import { truncate } from "./Attributes.ts"
import { createOpenHost, createRegular } from "./Create.ts"
import { awaitFifoPeer, openFifo } from "./FifoFile.ts"
import { checkAppendOpen } from "./Flags.ts"
import { flockFile } from "./Flock.ts"
import { F_RDLCK, F_WRLCK } from "./Lockf.ts"
import { openHostRegular } from "./host/HostFileOps.ts"
import { opsFor } from "./VnodeFile.ts"
import { driverOf, type Vnode } from "./Vnode.ts"

const has = (flags: number, bit: number): boolean => (flags & bit) !== 0

/** An open file on a tmpfs node (or a device, fifo or socket node) with kernel flags `flag` (the node counts it as open). */
export const openNode = (node: Vnode, flag: number): File => {
  const ops = opsFor(node)
  if (ops.kind === "vnode") node.opens++
  return new File(ops, flag, node)
}

/**
 * The part of open(2) done under the VFS lock: the lookup (creating a
 * regular file for O_CREAT), the checks, and a new open file not yet on a
 * descriptor. EMFILE first, as fd_allocfile comes before the lookup.
 */
export const openFileAt: (
  ctx: SyscallContext,
  dirfd: number,
  path: string,
  oflags: number,
  mode: number
) => Effect.Effect<File, SysErr> = Effect.fnUntraced(
  function*(ctx: SyscallContext, dirfd: number, path: string, oflags: number, mode: number) {
    const flags = oflags + 1
    if ((flags & (FREAD | FWRITE)) === 0) return yield* sysErr(Errno.EINVAL)
    if (ctx.proc.fds.lowestFree() === undefined) return yield* sysErr(Errno.EMFILE)
    const creat = has(oflags, openFlags.O_CREAT)
    const excl = creat && has(oflags, openFlags.O_EXCL)
    // O_EXCL does not follow a symlink in the last place: the name itself must be new
    const l = yield* lookupAt(ctx, dirfd, path, !has(oflags, openFlags.O_NOFOLLOW) && !excl)
    let node = l.node
    let created = false
    if (node === undefined) {
      if (!creat) return yield* sysErr(Errno.ENOENT)
      if (l.trailingSlash) return yield* sysErr(Errno.EISDIR)
      const cmode = mode & ~ctx.proc.umask & modeBits.ALLPERMS & ~modeBits.S_ISTXT
      // a new host file is opened by the host call that makes it (O_DIRECTORY's ENOTDIR comes after the making)
      if (l.dir.fs === "host" && !has(oflags, openFlags.O_DIRECTORY)) {
        return yield* createOpenHost(ctx.proc, l, cmode, flags & fileFlagsKernel.FMASK, has(oflags, openFlags.O_APPEND))
      }
      node = yield* createRegular(ctx.proc, l, cmode)
      created = true
    } else if (excl) {
      return yield* sysErr(Errno.EEXIST)
    }
    return yield* openNodeFor(ctx, node, oflags, created)
  })

/**
 * The checks of vn_open on the node found (or made: its creator may open
 * it whatever its mode), O_TRUNC, and a new open file on it.
 */
export const openNodeFor: (ctx: SyscallContext, node: Vnode, oflags: number, created: boolean) => Effect.Effect<File, SysErr> = Effect.fnUntraced(
  function*(ctx: SyscallContext, node: Vnode, oflags: number, created: boolean) {
    const flags = oflags + 1
    const truncating = has(oflags, openFlags.O_TRUNC)
    // NetBSD's answer to O_NOFOLLOW on a symlink
    if (node.type === "lnk") return yield* sysErr(Errno.EFTYPE)
    if (node.type === "sock") return yield* sysErr(Errno.EOPNOTSUPP)
    if (has(oflags, openFlags.O_DIRECTORY) && node.type !== "dir") return yield* sysErr(Errno.ENOTDIR)
    const writing = has(flags, FWRITE) || truncating
    if (node.type === "dir" && writing) return yield* sysErr(Errno.EISDIR)
    // vn_open's VOP_ACCESS: writing a read-only file system's file is EROFS (its creator too)
    if (writing && node.type === "reg" && node.mount.readOnly) return yield* sysErr(Errno.EROFS)
    // the creator may open what it just made whatever the mode says
    if (!created) yield* checkAccess(ctx.proc, node, (has(flags, FREAD) ? VREAD : 0) | (writing ? VWRITE : 0))
    // spec_open: no driver has the node's numbers
    if (driverOf(node)?.absent === true) return yield* sysErr(Errno.ENXIO)
    if (truncating && !created && node.type === "reg") yield* truncate(node, 0n)
    yield* checkAppendOpen(node, has(flags, FWRITE), has(oflags, openFlags.O_APPEND))
    const flag = flags & fileFlagsKernel.FMASK
    if (node.type === "fifo") return openFifo(ctx, node, flag)
    if (node.fs === "host" && node.type === "reg") return yield* openHostRegular(node, flag)
    // an open host directory keeps its vnode (and descriptor) for its listing
    if (node.fs === "host" && node.type === "dir") node.mount.cache.hold(node)
    return openNode(node, flag)
  })

/**
 * The rest of open(2), outside the VFS lock since it may sleep: a fifo's
 * wait for its other end (FifoFile.ts), the O_SHLOCK/O_EXLOCK flock lock
 * (waiting for it unless O_NONBLOCK, as open_setfp), then the lowest free
 * descriptor. On failure the file is
 * closed again.
 */
export const installOpened: (ctx: SyscallContext, file: File, oflags: number) => Effect.Effect<number, SysErr> = Effect.fnUntraced(
  function*(ctx: SyscallContext, file: File, oflags: number) {
    const node = file.vnode
    if (node?.type === "fifo") yield* awaitFifoPeer(ctx, file)
    const lockType = has(oflags, openFlags.O_EXLOCK) ? F_WRLCK : has(oflags, openFlags.O_SHLOCK) ? F_RDLCK : undefined
    if (lockType !== undefined && node !== undefined) {
      yield* flockFile(ctx, file, node, lockType, !has(oflags, openFlags.O_NONBLOCK))
      file.flag |= fileFlagsKernel.FHASLOCK
    }
    const fd = ctx.proc.fds.lowestFree()
    if (fd === undefined) return yield* sysErr(Errno.EMFILE)
    ctx.proc.fds.install(fd, file, has(oflags, openFlags.O_CLOEXEC))
    return fd
  },
  (effect, _ctx, file) => Effect.tapError(effect, () => releaseFile(file))
)
