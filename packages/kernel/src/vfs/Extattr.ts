/**
 * Extended attributes (VOP_GETEXTATTR, VOP_SETEXTATTR, VOP_DELETEEXTATTR,
 * VOP_LISTEXTATTR, VFS_EXTATTRCTL). tmpfs has none: every one of them is
 * vn_default_error's EOPNOTSUPP, for files, directories, links, devices and
 * fifos alike. The syscalls' own checks come first (syscalls/xattrs.ts).
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import type { Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import type { Vnode } from "./Vnode.ts"

export type ExtattrOp = "get" | "set" | "delete" | "list"

/** What the node's file system answers to `op` on it: tmpfs keeps no extended attributes. */
export const extattr = (_node: Vnode, _op: ExtattrOp): Effect.Effect<never, SysErr> => sysErr(Errno.EOPNOTSUPP)

/** VFS_EXTATTRCTL: vfs_stdextattrctl, for a file system with no extended attribute support to start or stop. */
export const extattrctl = (_node: Vnode): Effect.Effect<never, SysErr> => sysErr(Errno.EOPNOTSUPP)
