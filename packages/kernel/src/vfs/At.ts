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

/** The directory a relative `path` starts from. */
export const startDir: (ctx: SyscallContext, dirfd: number, path: string) => Effect.Effect<Vnode, SysErr> = Effect.fnUntraced(
  function*(ctx: SyscallContext, dirfd: number, path: string) {
    if (path.startsWith("/") || dirfd === AT_FDCWD) return ctx.proc.cwd
    const { node } = yield* fileNode(ctx, dirfd)
    return node.type === "dir" ? node : yield* sysErr(Errno.ENOTDIR)
  })

export const lookupAt = (
  ctx: SyscallContext,
  dirfd: number,
  path: string,
  follow: boolean,
  cred: CredHolder = ctx.proc
): Effect.Effect<Lookup, SysErr> =>
  Effect.flatMap(startDir(ctx, dirfd, path), (start) => {
    const lookup = namei(envOf(ctx, cred), start, path, follow)
    // namei_start records the path (KTR_NAMEI) before the lookup; "" is ENOENT before that
    return ctx.proc.trace === undefined || path === "" ? lookup : Effect.andThen(recordNamei(ctx, path), lookup)
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
