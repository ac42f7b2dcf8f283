/**
 * The directories family: mkdir, rmdir, unlinkat, rename, chdir, getcwd
 * and getdents.
 */
import { atFlags, Errno, fileFlagsCompat, modeBits, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { checkAccess, VEXEC } from "../vfs/Access.ts"
import { AT_FDCWD, envOf, fileNode, lookupAt, nodeAt } from "../vfs/At.ts"
import { markAccessed } from "../vfs/Attributes.ts"
import { makeDirectory } from "../vfs/Create.ts"
import { checkedPathOf } from "../vfs/Getcwd.ts"
import { bytesOfName } from "../vfs/Names.ts"
import { hostReaddir } from "../vfs/host/HostListing.ts"
import { readdir } from "../vfs/Readdir.ts"
import { rmdir, unlink } from "../vfs/Remove.ts"
import { rename } from "../vfs/Rename.ts"
import { type SysErr, sysErr } from "../kern/SysErr.ts"
import { copyinPath, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

const path = (ctx: SyscallContext, slot: number) => copyinPath(ctx, ctx.args.ptr(slot))

const locked = <A>(ctx: SyscallContext, effect: Effect.Effect<A, SysErr>) => ctx.kernel.vfs.exclusive(effect)

const mkdirAt = (ctx: SyscallContext, dirfd: number, pathSlot: number, mode: number) =>
  Effect.flatMap(path(ctx, pathSlot), (p) =>
    locked(
      ctx,
      Effect.flatMap(
        lookupAt(ctx, dirfd, p, false),
        (l) => makeDirectory(ctx.proc, l, mode & modeBits.ACCESSPERMS & ~ctx.proc.umask)
      )
    ))

const mkdir: SyscallImpl = (ctx) => Effect.asVoid(mkdirAt(ctx, AT_FDCWD, 0, ctx.args.uint(1)))
const mkdirat: SyscallImpl = (ctx) => Effect.asVoid(mkdirAt(ctx, ctx.args.int(0), 1, ctx.args.uint(2)))

const removeAt = (ctx: SyscallContext, dirfd: number, pathSlot: number, directory: boolean) =>
  Effect.flatMap(path(ctx, pathSlot), (p) =>
    locked(ctx, Effect.flatMap(lookupAt(ctx, dirfd, p, false), (l) => (directory ? rmdir : unlink)(ctx.proc, l))))

const rmdirPath: SyscallImpl = (ctx) => removeAt(ctx, AT_FDCWD, 0, true)

const unlinkat: SyscallImpl = (ctx) => {
  const flag = ctx.args.int(2)
  if ((flag & ~atFlags.AT_REMOVEDIR) !== 0) return sysErr(Errno.EINVAL)
  return removeAt(ctx, ctx.args.int(0), 1, (flag & atFlags.AT_REMOVEDIR) !== 0)
}

const renameLocked = Effect.fnUntraced(function*(ctx: SyscallContext, fromfd: number, from: string, tofd: number, to: string, retain: boolean) {
  const a = yield* lookupAt(ctx, fromfd, from, false)
  const b = yield* lookupAt(ctx, tofd, to, false)
  yield* rename(ctx.proc, a, b, retain)
})

const renameAt = Effect.fnUntraced(
  function*(ctx: SyscallContext, fromfd: number, fromSlot: number, tofd: number, toSlot: number, retain = false) {
    const from = yield* path(ctx, fromSlot)
    const to = yield* path(ctx, toSlot)
    yield* locked(ctx, renameLocked(ctx, fromfd, from, tofd, to, retain))
  }
)

const renamePath: SyscallImpl = (ctx) => renameAt(ctx, AT_FDCWD, 0, AT_FDCWD, 1)
const renameat: SyscallImpl = (ctx) => renameAt(ctx, ctx.args.int(0), 1, ctx.args.int(2), 3)
/** __posix_rename(from, to): two links to one file both stay (POSIX), where rename removes `from`. */
const posixRename: SyscallImpl = (ctx) => renameAt(ctx, AT_FDCWD, 0, AT_FDCWD, 1, true)

const chdirLocked = Effect.fnUntraced(function*(ctx: SyscallContext, p: string) {
  const node = yield* nodeAt(ctx, AT_FDCWD, p, true)
  if (node.type !== "dir") return yield* sysErr(Errno.ENOTDIR)
  yield* checkAccess(ctx.proc, node, VEXEC)
  ctx.proc.cwd = node
})

const chdir: SyscallImpl = (ctx) => Effect.flatMap(path(ctx, 0), (p) => locked(ctx, chdirLocked(ctx, p)))

/** NetBSD caps the buffer __getcwd looks at. */
const GETCWD_MAX = 4 * 1024

/**
 * __getcwd(buf, len): the working directory's path from the process's
 * root, with getcwd_common's GETCWD_CHECK_ACCESS (search permission on it,
 * read and search on each directory above: EACCES), ENOENT when it was
 * removed, ERANGE when it does not fit.
 */
const getcwd: SyscallImpl = (ctx) => {
  const len = Math.min(ctx.args.size(1), GETCWD_MAX)
  if (len < 2) return sysErr(Errno.ERANGE)
  const cwd = ctx.proc.cwd
  const p = cwd.type === "dir" ? checkedPathOf(envOf(ctx), cwd) : Errno.ENOENT
  if (typeof p === "number") return sysErr(p)
  const bytes = new Uint8Array(p.length + 1)
  bytes.set(bytesOfName(p))
  if (bytes.length > len) return sysErr(Errno.ERANGE)
  // NetBSD returns the length used, NUL included
  return Effect.as(copyout(ctx, ctx.args.ptr(0), bytes), bytes.length)
}

/** Most bytes one getdents call returns, whatever buffer it offers (a listing may come in several calls). */
const GETDENTS_MAX = 64 * 1024

const getdents: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const max = Math.min(ctx.args.size(2), GETDENTS_MAX)
    const { file, node } = yield* fileNode(ctx, ctx.args.int(0))
    if ((file.flag & fileFlagsCompat.FREAD) === 0) return yield* sysErr(Errno.EBADF)
    if (node.type !== "dir") return yield* sysErr(Errno.EINVAL)
    // a host directory is listed from its own open stream, outside the lock: the host's order is its own
    const listing = node.fs === "host"
      ? yield* hostReaddir(file, node, file.offset, max)
      : yield* locked(ctx, Effect.sync(() => readdir(node, file.offset, max)))
    if (listing === undefined) return yield* sysErr(Errno.EINVAL)
    markAccessed(node)
    yield* copyout(ctx, ctx.args.ptr(1), listing.bytes)
    // the offset moves past what the caller got, and only once it got it
    file.offset = listing.next
    return listing.bytes.length
  })

export const family: SyscallFamily = [
  [SYS.mkdir, mkdir],
  [SYS.mkdirat, mkdirat],
  [SYS.rmdir, rmdirPath],
  [SYS.unlinkat, unlinkat],
  [SYS.rename, renamePath],
  [SYS.renameat, renameat],
  [SYS.__posix_rename, posixRename],
  [SYS.chdir, chdir],
  [SYS.__getcwd, getcwd],
  [SYS.__getdents30, getdents]
]
