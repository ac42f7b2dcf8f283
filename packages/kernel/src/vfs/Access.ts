/**
 * Permission checks. The usual owner/group/other rules, with the
 * superuser's exceptions as NetBSD has them: uid 0 may read and write
 * anything and search any directory, but may execute a non-directory only
 * when at least one of its execute bits is set. (Every guest runs as uid 0
 * for now, so in practice that exec rule is the one that shows.)
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { type Cred, isRoot } from "../kauth/Cred.ts"
import { IMMUTABLE } from "./Flags.ts"
import type { Vnode } from "./Vnode.ts"

/** Access wanted, as the access(2) bits: read 4, write 2, execute/search 1. */
export const VREAD = 4
export const VWRITE = 2
export const VEXEC = 1

export { type Cred, isRoot } from "../kauth/Cred.ts"

export const canAccess = (cred: Cred, node: Vnode, want: number): boolean => {
  if (isRoot(cred)) return (want & VEXEC) === 0 || node.type === "dir" || (node.mode & 0o111) !== 0
  const bits = cred.uid === node.uid ? node.mode >> 6 : cred.gid === node.gid ? node.mode >> 3 : node.mode
  return (want & ~bits & 7) === 0
}

/** EACCES unless `cred` may have `want` on `node`; writing an immutable node is EPERM for anyone (tmpfs_access). */
export const checkAccess = (cred: Cred, node: Vnode, want: number): Effect.Effect<void, SysErr> =>
  (want & VWRITE) !== 0 && (node.flags & IMMUTABLE) !== 0
    ? sysErr(Errno.EPERM)
    : canAccess(cred, node, want)
    ? Effect.void
    : sysErr(Errno.EACCES)

/** EPERM unless `cred` owns `node` or is the superuser (chmod, chown, setting times). */
export const checkOwner = (cred: Cred, node: Vnode): Effect.Effect<void, SysErr> =>
  isRoot(cred) || cred.uid === node.uid ? Effect.void : sysErr(Errno.EPERM)
