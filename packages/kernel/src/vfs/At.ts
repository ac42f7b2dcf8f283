/**
 * Where a syscall's path lookup starts and which node a descriptor names:
 * a relative path starts at the cwd (AT_FDCWD) or at the directory a dirfd
 * has open; an absolute path ignores the dirfd.
 */
import { atFlags, Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { File } from "../fd/File.ts"
import type { CredHolder } from "../kauth/Cred.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import type { SyscallContext } from "../kern/SyscallContext.ts"
import { recordNamei } from "../ktrace/Ktrace.ts"
import { type Lookup, namei, type NameiEnv } from "./Namei.ts"
import { isDead } from "./Revoke.ts"
import type { Vnode } from "./Vnode.ts"

export const AT_FDCWD = atFlags.AT_FDCWD

/** The caller's lookup environment: its root (a chroot or "/") and its credentials (or others it looks up with: access(2)'s real ids). */
export const envOf = (ctx: SyscallContext, cred: CredHolder = ctx.proc): NameiEnv => ({
  root: ctx.proc.rdir ?? ctx.kernel.vfs.root,
  cred
})

/**
 * The open file on `fd` with the node behind it: EBADF when none is open
 * (or it was revoked: a dead vnode answers EBADF), EINVAL when it is no
 * vnode (a pipe).
 */
export const fileNode = (ctx: SyscallContext, fd: number): Effect.Effect<{ readonly file: File; readonly node: Vnode }, SysErr> =>
  Effect.suspend(() => {
    const file = ctx.proc.fds.get(fd)?.file
    if (file === undefined || isDead(file)) return sysErr(Errno.EBADF)
    return file.vnode === undefined ? sysErr(Errno.EINVAL) : Effect.succeed({ file, node: file.vnode })
  })

/** The node a relative `path` starts from (fd_nameiat: EBADF, EINVAL); whether it is a directory is namei's question. */
const startNode: (ctx: SyscallContext, dirfd: number, path: string) => Effect.Effect<Vnode, SysErr> = Effect.fnUntraced(
  function*(ctx: SyscallContext, dirfd: number, path: string) {
    if (path.startsWith("/") || dirfd === AT_FDCWD) return ctx.proc.cwd
    return (yield* fileNode(ctx, dirfd)).node
  })

/** The lookup of `path` from `start`, ENOTDIR when the start is no directory. */
const lookupFrom = (ctx: SyscallContext, start: Vnode, path: string, follow: boolean, cred: CredHolder): Effect.Effect<Lookup, SysErr> =>
  start.type === "dir" ? namei(envOf(ctx, cred), start, path, follow) : sysErr(Errno.ENOTDIR)

/** `path` looked up from `dirfd` (AT_FDCWD: the cwd). */
export const lookupAt = (
  ctx: SyscallContext,
  dirfd: number,
  path: string,
  follow: boolean,
  cred: CredHolder = ctx.proc
): Effect.Effect<Lookup, SysErr> =>
  Effect.flatMap(startNode(ctx, dirfd, path), (start) => {
    // namei_start records the path (KTR_NAMEI) before the lookup, a dirfd that is no directory included; "" is ENOENT before that
    if (ctx.proc.trace === undefined || path === "") return lookupFrom(ctx, start, path, follow, cred)
    return Effect.andThen(recordNamei(ctx, path), lookupFrom(ctx, start, path, follow, cred))
  })

/** The node `path` names; ENOENT when there is none. */
export const nodeAt = (
  ctx: SyscallContext,
  dirfd: number,
  path: string,
  follow: boolean,
  cred: CredHolder = ctx.proc
): Effect.Effect<Vnode, SysErr> =>
  Effect.flatMap(lookupAt(ctx, dirfd, path, follow, cred), (l) => (l.node === undefined ? sysErr(Errno.ENOENT) : Effect.succeed(l.node)))
