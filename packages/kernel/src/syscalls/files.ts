/**
 * The files family: opening, stat, access, permissions and ownership, time
 * stamps, sizes, links and symlinks, unlink, umask, and the descriptor
 * calls that need the vnode behind a descriptor (__fstat50, ftruncate,
 * fchmod, fchown, futimens, __futimes50, fchdir).
 *
 * Each call copies its paths in first, then does its lookups and changes
 * inside the VFS lock, then copies results out.
 */
import { accessModes, atFlags, Errno, modeBits, SYS, utimens } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { encodeStat } from "../abi/Stat.ts"
import { decodeTimespec, TIMESPEC_SIZE } from "../abi/Timespec.ts"
import { decodeTimeval, TIMEVAL_SIZE } from "../abi/Timeval.ts"
import { FWRITE } from "../fd/File.ts"
import { knoteAttrib } from "../kqueue/VnodeEvents.ts"
import { checkAccess, isRoot, VEXEC, VWRITE } from "../vfs/Access.ts"
import { AT_FDCWD, fileNode, lookupAt, nodeAt } from "../vfs/At.ts"
import { chmod, chown, markAccessed, markChanged, setTimes, statOf, type TimeUpdate, truncate } from "../vfs/Attributes.ts"
import { chflags } from "../vfs/Flags.ts"
import { isDead, revokeNode } from "../vfs/Revoke.ts"
import { makeLink, makeSymlink } from "../vfs/Create.ts"
import { isUnder } from "../vfs/Getcwd.ts"
import { bytesOfName } from "../vfs/Names.ts"
import { installOpened, openFileAt } from "../vfs/Open.ts"
import { refreshOpen } from "../vfs/host/HostFileOps.ts"
import { hostReadlink } from "../vfs/host/HostLookup.ts"
import { devicePathconf, pathconfOf, pipePathconf } from "../vfs/Pathconf.ts"
import { unlink } from "../vfs/Remove.ts"
import type { Vnode } from "../vfs/Vnode.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { copyin, copyinPath, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

const has = (flags: number, bit: number): boolean => (flags & bit) !== 0

const SETID = modeBits.S_ISUID | modeBits.S_ISGID

/** EINVAL when `flag` has bits beyond `allowed` (the *at calls' flag checks). */
const onlyFlags = (flag: number, allowed: number): Effect.Effect<void, SysErr> =>
  (flag & ~allowed) !== 0 ? sysErr(Errno.EINVAL) : Effect.void

const path = (ctx: SyscallContext, slot: number) => copyinPath(ctx, ctx.args.ptr(slot))

const locked = <A>(ctx: SyscallContext, effect: Effect.Effect<A, SysErr>) => ctx.kernel.vfs.exclusive(effect)

/** Runs `f` on the node a path names. */
const withPath = <A>(
  ctx: SyscallContext,
  dirfd: number,
  pathSlot: number,
  follow: boolean,
  f: (node: Vnode) => Effect.Effect<A, SysErr>
): Effect.Effect<A, SysErr> =>
  Effect.flatMap(path(ctx, pathSlot), (p) => locked(ctx, Effect.flatMap(nodeAt(ctx, dirfd, p, follow), f)))

/** Runs `f` on the node a descriptor has open. */
const withFd = <A>(ctx: SyscallContext, fd: number, f: (node: Vnode) => Effect.Effect<A, SysErr>) =>
  locked(ctx, Effect.flatMap(fileNode(ctx, fd), ({ node }) => f(node)))

// open

/** The lookup and checks under the VFS lock; any waiting (a lock, a fifo's other end) after it. */
const openPath = (ctx: SyscallContext, dirfd: number, pathSlot: number, oflags: number, mode: number) =>
  Effect.flatMap(path(ctx, pathSlot), (p) =>
    Effect.flatMap(locked(ctx, openFileAt(ctx, dirfd, p, oflags, mode)), (file) => installOpened(ctx, file, oflags)))

const open: SyscallImpl = (ctx) => openPath(ctx, AT_FDCWD, 0, ctx.args.int(1), ctx.args.uint(2))

const openat: SyscallImpl = (ctx) => openPath(ctx, ctx.args.int(0), 1, ctx.args.int(2), ctx.args.uint(3))

// stat

const statAt = (ctx: SyscallContext, dirfd: number, pathSlot: number, bufSlot: number, follow: boolean) =>
  Effect.flatMap(
    withPath(ctx, dirfd, pathSlot, follow, (node) => Effect.succeed(encodeStat(statOf(node)))),
    (bytes) => copyout(ctx, ctx.args.ptr(bufSlot), bytes)
  )

const stat: SyscallImpl = (ctx) => statAt(ctx, AT_FDCWD, 0, 1, true)
const lstat: SyscallImpl = (ctx) => statAt(ctx, AT_FDCWD, 0, 1, false)

const fstatat: SyscallImpl = (ctx) =>
  Effect.andThen(
    onlyFlags(ctx.args.int(3), atFlags.AT_SYMLINK_NOFOLLOW),
    statAt(ctx, ctx.args.int(0), 1, 2, !has(ctx.args.int(3), atFlags.AT_SYMLINK_NOFOLLOW))
  )

const fstat: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const file = ctx.proc.fds.get(ctx.args.int(0))?.file
    if (file === undefined || isDead(file)) return yield* sysErr(Errno.EBADF)
    // a host file's attributes are the host's now (another host process may have changed them)
    if (file.vnode?.fs === "host") yield* refreshOpen(file, file.vnode)
    // a pipe or socket answers for itself (fo_stat); a file with neither is EOPNOTSUPP
    const info = file.ops.stat?.(file) ?? (file.vnode === undefined ? undefined : statOf(file.vnode))
    if (info === undefined) return yield* sysErr(Errno.EOPNOTSUPP)
    yield* copyout(ctx, ctx.args.ptr(1), encodeStat(info))
  })

// access

const ACCESS_BITS = accessModes.R_OK | accessModes.W_OK | accessModes.X_OK

/**
 * do_sys_accessat: the lookup (its search permissions included) and the
 * check are made with the real uid and gid as the effective ones, unless
 * AT_EACCESS asks for the effective ids; the superuser's powers follow
 * those ids.
 */
const accessAt = (ctx: SyscallContext, dirfd: number, pathSlot: number, mode: number, flags: number) => {
  if ((mode & ~ACCESS_BITS) !== 0) return sysErr(Errno.EINVAL)
  const own = ctx.proc.cred
  const cred = has(flags, atFlags.AT_EACCESS) ? own : own.with({ euid: own.uid, egid: own.gid })
  const follow = !has(flags, atFlags.AT_SYMLINK_NOFOLLOW)
  return Effect.flatMap(path(ctx, pathSlot), (p) =>
    locked(
      ctx,
      Effect.flatMap(nodeAt(ctx, dirfd, p, follow, cred), (node) => (mode === accessModes.F_OK ? Effect.void : checkAccess(cred, node, mode)))
    ))
}

const access: SyscallImpl = (ctx) => accessAt(ctx, AT_FDCWD, 0, ctx.args.int(1), 0)

const faccessat: SyscallImpl = (ctx) =>
  Effect.andThen(
    onlyFlags(ctx.args.int(3), atFlags.AT_EACCESS | atFlags.AT_SYMLINK_NOFOLLOW),
    accessAt(ctx, ctx.args.int(0), 1, ctx.args.int(2), ctx.args.int(3))
  )

// chmod, chown

const chmodPath: SyscallImpl = (ctx) => withPath(ctx, AT_FDCWD, 0, true, (n) => chmod(ctx.proc, n, ctx.args.uint(1)))
const fchmod: SyscallImpl = (ctx) => withFd(ctx, ctx.args.int(0), (n) => chmod(ctx.proc, n, ctx.args.uint(1)))
const fchmodat: SyscallImpl = (ctx) =>
  Effect.andThen(
    onlyFlags(ctx.args.int(3), atFlags.AT_SYMLINK_NOFOLLOW),
    withPath(ctx, ctx.args.int(0), 1, !has(ctx.args.int(3), atFlags.AT_SYMLINK_NOFOLLOW), (n) => chmod(ctx.proc, n, ctx.args.uint(2)))
  )

/** lchmod(path, mode): chmod of a symlink itself. */
const lchmod: SyscallImpl = (ctx) => withPath(ctx, AT_FDCWD, 0, false, (n) => chmod(ctx.proc, n, ctx.args.uint(1)))

const chownPath = (follow: boolean): SyscallImpl => (ctx) =>
  withPath(ctx, AT_FDCWD, 0, follow, (n) => chown(ctx.proc, n, ctx.args.uint(1), ctx.args.uint(2)))
const fchown: SyscallImpl = (ctx) => withFd(ctx, ctx.args.int(0), (n) => chown(ctx.proc, n, ctx.args.uint(1), ctx.args.uint(2)))
const fchownat: SyscallImpl = (ctx) =>
  Effect.andThen(
    onlyFlags(ctx.args.int(4), atFlags.AT_SYMLINK_NOFOLLOW),
    withPath(
      ctx,
      ctx.args.int(0),
      1,
      !has(ctx.args.int(4), atFlags.AT_SYMLINK_NOFOLLOW),
      (n) => chown(ctx.proc, n, ctx.args.uint(2), ctx.args.uint(3))
    )
  )

const posixChownPath = (follow: boolean): SyscallImpl => (ctx) =>
  withPath(ctx, AT_FDCWD, 0, follow, (n) => chown(ctx.proc, n, ctx.args.uint(1), ctx.args.uint(2), true))
const posixFchown: SyscallImpl = (ctx) =>
  withFd(ctx, ctx.args.int(0), (n) => chown(ctx.proc, n, ctx.args.uint(1), ctx.args.uint(2), true))

// times

type Times = readonly [TimeUpdate, TimeUpdate]
const NOW: Times = ["now", "now"]

/** struct timeval[2] (access, modification); NULL: both now. */
const timevalsAt = (ctx: SyscallContext, addr: bigint): Effect.Effect<Times, SysErr> =>
  addr === 0n ? Effect.succeed(NOW) : Effect.flatMap(copyin(ctx, addr, 2 * TIMEVAL_SIZE), (bytes) => {
    const a = decodeTimeval(bytes, 0)
    const m = decodeTimeval(bytes, TIMEVAL_SIZE)
    if ([a, m].some((t) => t.usec < 0 || t.usec >= 1_000_000)) return sysErr(Errno.EINVAL)
    return Effect.succeed([{ sec: a.sec, nsec: a.usec * 1000 }, { sec: m.sec, nsec: m.usec * 1000 }] as const)
  })

/** struct timespec[2] with UTIME_NOW / UTIME_OMIT; NULL: both now. */
const timespecsAt = (ctx: SyscallContext, addr: bigint): Effect.Effect<Times, SysErr> =>
  addr === 0n ? Effect.succeed(NOW) : Effect.flatMap(copyin(ctx, addr, 2 * TIMESPEC_SIZE), (bytes) => {
    const one = (offset: number): TimeUpdate | undefined => {
      const ts = decodeTimespec(bytes, offset)
      if (ts.nsec === BigInt(utimens.UTIME_NOW)) return "now"
      if (ts.nsec === BigInt(utimens.UTIME_OMIT)) return "omit"
      return ts.nsec >= 0n && ts.nsec < 1_000_000_000n ? { sec: ts.sec, nsec: Number(ts.nsec) } : undefined
    }
    const a = one(0)
    const m = one(TIMESPEC_SIZE)
    return a === undefined || m === undefined ? sysErr(Errno.EINVAL) : Effect.succeed([a, m] as const)
  })

const timesPath = (ctx: SyscallContext, dirfd: number, pathSlot: number, follow: boolean, times: Effect.Effect<Times, SysErr>) =>
  Effect.flatMap(times, ([a, m]) => withPath(ctx, dirfd, pathSlot, follow, (n) => setTimes(ctx.proc, n, a, m)))

const timesFd = (ctx: SyscallContext, times: Effect.Effect<Times, SysErr>) =>
  Effect.flatMap(times, ([a, m]) => withFd(ctx, ctx.args.int(0), (n) => setTimes(ctx.proc, n, a, m)))

const utimes: SyscallImpl = (ctx) => timesPath(ctx, AT_FDCWD, 0, true, timevalsAt(ctx, ctx.args.ptr(1)))
const lutimes: SyscallImpl = (ctx) => timesPath(ctx, AT_FDCWD, 0, false, timevalsAt(ctx, ctx.args.ptr(1)))
const futimes: SyscallImpl = (ctx) => timesFd(ctx, timevalsAt(ctx, ctx.args.ptr(1)))
const futimens: SyscallImpl = (ctx) => timesFd(ctx, timespecsAt(ctx, ctx.args.ptr(1)))
const utimensat: SyscallImpl = (ctx) =>
  Effect.andThen(
    onlyFlags(ctx.args.int(3), atFlags.AT_SYMLINK_NOFOLLOW),
    timesPath(ctx, ctx.args.int(0), 1, !has(ctx.args.int(3), atFlags.AT_SYMLINK_NOFOLLOW), timespecsAt(ctx, ctx.args.ptr(2)))
  )

// sizes

const truncateNode = Effect.fnUntraced(function*(ctx: SyscallContext, node: Vnode) {
  if (node.type === "dir") return yield* sysErr(Errno.EISDIR)
  yield* checkAccess(ctx.proc, node, VWRITE)
  yield* truncate(node, ctx.args.long(2))
})

const truncatePath: SyscallImpl = (ctx) => withPath(ctx, AT_FDCWD, 0, true, (node) => truncateNode(ctx, node))

const ftruncateLocked = Effect.fnUntraced(function*(ctx: SyscallContext) {
  const { file, node } = yield* fileNode(ctx, ctx.args.int(0))
  if (!has(file.flag, FWRITE)) return yield* sysErr(Errno.EINVAL)
  yield* truncate(node, ctx.args.long(2))
})

const ftruncate: SyscallImpl = (ctx) => locked(ctx, ftruncateLocked(ctx))

const umask: SyscallImpl = (ctx) =>
  Effect.sync(() => {
    const old = ctx.proc.umask
    ctx.proc.umask = ctx.args.uint(0) & modeBits.ALLPERMS
    return old
  })

// links

const linkLocked = Effect.fnUntraced(function*(ctx: SyscallContext, fd1: number, from: string, fd2: number, to: string, flags: number) {
  // NetBSD's link(2) does not follow a symlink: the new name links the symlink itself
  const node = yield* nodeAt(ctx, fd1, from, has(flags, atFlags.AT_SYMLINK_FOLLOW))
  const l = yield* lookupAt(ctx, fd2, to, false)
  yield* makeLink(ctx.proc, node, l)
})

const linkAt = Effect.fnUntraced(
  function*(ctx: SyscallContext, fd1: number, slot1: number, fd2: number, slot2: number, flags: number) {
    yield* onlyFlags(flags, atFlags.AT_SYMLINK_FOLLOW)
    const from = yield* path(ctx, slot1)
    const to = yield* path(ctx, slot2)
    yield* locked(ctx, linkLocked(ctx, fd1, from, fd2, to, flags))
  }
)

const link: SyscallImpl = (ctx) => linkAt(ctx, AT_FDCWD, 0, AT_FDCWD, 1, 0)
const linkat: SyscallImpl = (ctx) => linkAt(ctx, ctx.args.int(0), 1, ctx.args.int(2), 3, ctx.args.int(4))

const symlinkAt = Effect.fnUntraced(
  function*(ctx: SyscallContext, targetSlot: number, dirfd: number, linkSlot: number) {
    const target = yield* path(ctx, targetSlot)
    const name = yield* path(ctx, linkSlot)
    yield* locked(
      ctx,
      Effect.flatMap(
        lookupAt(ctx, dirfd, name, false),
        (l) => makeSymlink(ctx.proc, l, target, modeBits.ACCESSPERMS & ~ctx.proc.umask)
      )
    )
  })

const symlink: SyscallImpl = (ctx) => symlinkAt(ctx, 0, AT_FDCWD, 1)
const symlinkat: SyscallImpl = (ctx) => symlinkAt(ctx, 0, ctx.args.int(1), 2)

const readlinkAt = Effect.fnUntraced(
  function*(ctx: SyscallContext, dirfd: number, pathSlot: number, bufSlot: number, count: number) {
    const target = yield* withPath(ctx, dirfd, pathSlot, false, (node) => {
      if (node.type !== "lnk") return sysErr(Errno.EINVAL)
      markAccessed(node)
      return node.fs === "tmpfs" ? Effect.succeed(bytesOfName(node.target)) : Effect.map(hostReadlink(node), bytesOfName)
    })
    const out = target.subarray(0, Math.min(count, target.length))
    yield* copyout(ctx, ctx.args.ptr(bufSlot), out)
    return out.length
  })

const readlink: SyscallImpl = (ctx) => readlinkAt(ctx, AT_FDCWD, 0, 1, ctx.args.size(2))
const readlinkat: SyscallImpl = (ctx) => readlinkAt(ctx, ctx.args.int(0), 1, 2, ctx.args.size(3))

const unlinkPath: SyscallImpl = (ctx) =>
  Effect.flatMap(path(ctx, 0), (p) => locked(ctx, Effect.flatMap(lookupAt(ctx, AT_FDCWD, p, false), (l) => unlink(ctx.proc, l))))

// flags (st_flags)

/** change_flags: VOP_SETATTR of va_flags, which marks the change time. */
const changeFlags = (ctx: SyscallContext, node: Vnode) =>
  Effect.map(chflags(ctx.proc, node, ctx.args.ulong(1)), (changed) => {
    if (!changed) return
    markChanged(node)
    knoteAttrib(node)
  })

const chflagsPath = (follow: boolean): SyscallImpl => (ctx) => withPath(ctx, AT_FDCWD, 0, follow, (n) => changeFlags(ctx, n))
const fchflags: SyscallImpl = (ctx) => withFd(ctx, ctx.args.int(0), (n) => changeFlags(ctx, n))

// pathconf

const pathconfAnswer = (value: number | undefined): Effect.Effect<number, SysErr> =>
  value === undefined ? sysErr(Errno.EINVAL) : Effect.succeed(value)

/** pathconf(path, name): the file system's answer for the node (followed). */
const pathconfPath: SyscallImpl = (ctx) =>
  withPath(ctx, AT_FDCWD, 0, true, (node) => pathconfAnswer(pathconfOf(node.type, ctx.args.int(1))))

/** fpathconf(fd, name): a vnode's file system, or for a pipe or socket only _PC_PIPE_BUF; nothing for a kqueue (EINVAL). */
const fpathconf: SyscallImpl = (ctx) =>
  Effect.suspend(() => {
    const file = ctx.proc.fds.get(ctx.args.int(0))?.file
    if (file === undefined) return sysErr(Errno.EBADF)
    const name = ctx.args.int(1)
    if (file.vnode !== undefined) return pathconfAnswer(pathconfOf(file.vnode.type, name))
    if (file.ops.kind === "pipe" || file.ops.kind === "socket") return pathconfAnswer(pipePathconf(name))
    // sys_fpathconf: a kqueue is EINVAL, a semaphore (DTYPE_SEM) answers nothing
    if (file.ops.kind === "kqueue") return sysErr(Errno.EINVAL)
    if (file.ops.kind === "sem") return sysErr(Errno.EOPNOTSUPP)
    return pathconfAnswer(devicePathconf(name))
  })

/** revoke(path): the owner (or the superuser) cuts every open file on it off (vfs/Revoke.ts). */
const revoke: SyscallImpl = (ctx) =>
  withPath(ctx, AT_FDCWD, 0, true, (node) =>
    isRoot(ctx.proc) || ctx.proc.uid === node.uid ? revokeNode(ctx.kernel, node) : sysErr(Errno.EPERM))

// cwd by descriptor

const chdirTo = Effect.fnUntraced(function*(ctx: SyscallContext, node: Vnode) {
  if (node.type !== "dir") return yield* sysErr(Errno.ENOTDIR)
  yield* checkAccess(ctx.proc, node, VEXEC)
  // a descriptor from before a chroot does not lead out of it
  const root = ctx.proc.rdir
  if (root !== undefined && !isUnder(node, root)) return yield* sysErr(Errno.EPERM)
  ctx.proc.cwd = node
})

const fchdir: SyscallImpl = (ctx) => withFd(ctx, ctx.args.int(0), (node) => chdirTo(ctx, node))

export const family: SyscallFamily = [
  [SYS.open, open],
  [SYS.openat, openat],
  [SYS.__stat50, stat],
  [SYS.__lstat50, lstat],
  [SYS.__fstat50, fstat],
  [SYS.fstatat, fstatat],
  [SYS.access, access],
  [SYS.faccessat, faccessat],
  [SYS.chmod, chmodPath],
  [SYS.fchmod, fchmod],
  [SYS.fchmodat, fchmodat],
  [SYS.lchmod, lchmod],
  [SYS.chown, chownPath(true)],
  [SYS.lchown, chownPath(false)],
  [SYS.fchown, fchown],
  [SYS.fchownat, fchownat],
  [SYS.__posix_chown, posixChownPath(true)],
  [SYS.__posix_lchown, posixChownPath(false)],
  [SYS.__posix_fchown, posixFchown],
  [SYS.chflags, chflagsPath(true)],
  [SYS.lchflags, chflagsPath(false)],
  [SYS.fchflags, fchflags],
  [SYS.__utimes50, utimes],
  [SYS.__lutimes50, lutimes],
  [SYS.__futimes50, futimes],
  [SYS.futimens, futimens],
  [SYS.utimensat, utimensat],
  [SYS.truncate, truncatePath],
  [SYS.ftruncate, ftruncate],
  [SYS.umask, umask],
  [SYS.link, link],
  [SYS.linkat, linkat],
  [SYS.symlink, symlink],
  [SYS.symlinkat, symlinkat],
  [SYS.readlink, readlink],
  [SYS.readlinkat, readlinkat],
  [SYS.unlink, unlinkPath],
  [SYS.fchdir, fchdir],
  [SYS.revoke, revoke],
  [SYS.pathconf, pathconfPath],
  [SYS.fpathconf, fpathconf]
]
