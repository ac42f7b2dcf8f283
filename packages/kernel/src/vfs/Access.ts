/**
 * Permission checks (genfs_can_access, with secmodel suser's exceptions):
 * the owner's bits when the effective uid owns the node, else the group's
 * when the effective gid or a supplementary group is the node's, else the
 * others'. The superuser may read and write anything and search any
 * directory, but may execute a non-directory only when one of its execute
 * bits is set.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { type CredHolder, isRoot } from "../kauth/Cred.ts"
import { IMMUTABLE } from "./Flags.ts"
import type { Vnode } from "./Vnode.ts"

/** Access wanted, as the access(2) bits: read 4, write 2, execute/search 1. */
export const VREAD = 4
export const VWRITE = 2
export const VEXEC = 1

export { type CredHolder, isRoot } from "../kauth/Cred.ts"

/** Is gid the effective gid or one of the supplementary groups of `who`? (the group test of genfs_can_access) */
export const inGroup = (who: CredHolder, gid: number): boolean => who.cred.egid === gid || who.cred.isMember(gid)

export const canAccess = (who: CredHolder, node: Vnode, want: number): boolean => {
  if (isRoot(who)) return (want & VEXEC) === 0 || node.type === "dir" || (node.mode & 0o111) !== 0
  const bits = who.cred.euid === node.uid ? node.mode >> 6 : inGroup(who, node.gid) ? node.mode >> 3 : node.mode
  return (want & ~bits & 7) === 0
}

/** Writing a file, directory or symlink of a read-only file system (tmpfs_check_possible; devices, fifos and sockets may be written). */
const onReadOnly = (node: Vnode): boolean =>
  node.mount.readOnly && (node.type === "reg" || node.type === "dir" || node.type === "lnk")

/**
 * EACCES unless `who` may have `want` on `node` (tmpfs_access): writing is
 * EROFS first on a read-only file system, then EPERM for an immutable node
 * for anyone.
 */
export const checkAccess = (who: CredHolder, node: Vnode, want: number): Effect.Effect<void, SysErr> =>
  (want & VWRITE) !== 0 && onReadOnly(node)
    ? sysErr(Errno.EROFS)
    : (want & VWRITE) !== 0 && (node.flags & IMMUTABLE) !== 0
    ? sysErr(Errno.EPERM)
    : canAccess(who, node, want)
    ? Effect.void
    : sysErr(Errno.EACCES)

/** Does `who` own `node` (its effective uid is the node's)? */
export const owns = (who: CredHolder, node: Vnode): boolean => who.cred.euid === node.uid

/** EPERM unless `who` owns `node` or is the superuser (chmod, setting times). */
export const checkOwner = (who: CredHolder, node: Vnode): Effect.Effect<void, SysErr> =>
  isRoot(who) || owns(who, node) ? Effect.void : sysErr(Errno.EPERM)
