/**
 * The chroot family: chroot and fchroot (vfs_syscalls.c), root only. The
 * new root is where "/" and a `..` at the top lead from then on; a working
 * directory outside it moves to it. fchroot takes any directory open on a
 * descriptor, so one kept open on the old root gets the process out again,
 * as on NetBSD.
 */
import { Effect } from "effect"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { requireRoot } from "../kauth/Cred.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { copyinPath, type SyscallContext } from "../kern/SyscallContext.ts"
import { checkAccess, VEXEC } from "../vfs/Access.ts"
import { AT_FDCWD, fileNode, nodeAt } from "../vfs/At.ts"
import { isUnder } from "../vfs/Getcwd.ts"
import type { Vnode } from "../vfs/Vnode.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

/** change_root, after the checks every chroot makes: a searchable directory. */
const changeRoot: (ctx: SyscallContext, node: Vnode) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(ctx, node) {
    if (node.type !== "dir") return yield* sysErr(Errno.ENOTDIR)
    yield* checkAccess(ctx.proc, node, VEXEC)
    const p = ctx.proc
    p.rdir = node
    if (p.cwd.type !== "dir" || !isUnder(p.cwd, node)) p.cwd = node
    // a changed root taints the process as a set*id call does
    p.sugid = true
  })

/** chroot(path) */
const chroot: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    yield* requireRoot(ctx.proc)
    const path = yield* copyinPath(ctx, ctx.args.ptr(0))
    yield* ctx.kernel.vfs.exclusive(Effect.flatMap(nodeAt(ctx, AT_FDCWD, path, true), (node) => changeRoot(ctx, node)))
  })

/** fchroot(fd): EBADF for a closed descriptor, EINVAL for one that is no vnode (a pipe, a socket). */
const fchroot: SyscallImpl = (ctx) =>
  Effect.andThen(
    requireRoot(ctx.proc),
    ctx.kernel.vfs.exclusive(Effect.flatMap(fileNode(ctx, ctx.args.int(0)), ({ node }) => changeRoot(ctx, node)))
  )

export const family: SyscallFamily = [
  [SYS.chroot, chroot],
  [SYS.fchroot, fchroot]
]
