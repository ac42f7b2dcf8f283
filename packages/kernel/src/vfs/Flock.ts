/**
 * VOP_ADVLOCK as flock(2) and open's O_SHLOCK/O_EXLOCK use it: a lock on
 * the whole file owned by the open file (F_FLOCK). A fifo takes no locks
 * (fifo_advlock: EOPNOTSUPP). The locks themselves are Lockf.ts.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { File } from "../fd/File.ts"
import { holdingFile } from "../fd/FileTable.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import type { SyscallContext } from "../kern/SyscallContext.ts"
import { setLock } from "./Lockf.ts"
import type { Vnode } from "./Vnode.ts"

/** EOPNOTSUPP for a node whose file system has no advisory locks. */
export const lockable = (node: Vnode): Effect.Effect<void, SysErr> =>
  node.type === "fifo" ? sysErr(Errno.EOPNOTSUPP) : Effect.void

/** The whole-file lock of flock and O_SHLOCK/O_EXLOCK, waited for when `wait` (EAGAIN otherwise). */
export const flockFile = (ctx: SyscallContext, file: File, node: Vnode, type: number, wait: boolean) =>
  Effect.andThen(
    lockable(node),
    holdingFile(file, setLock(ctx.lwp, node, { type, start: 0n, end: -1n, owner: file, flock: true, uid: ctx.proc.uid }, wait))
  )
