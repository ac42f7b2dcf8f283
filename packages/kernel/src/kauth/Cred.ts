/**
 * Credentials, as NetBSD's kauth(9) sees them, and the superuser test of
 * secmodel suser. Every subsystem that refuses a non-root caller asks here,
 * so the rule lives in one place.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"

/** The ids a permission check looks at. */
export interface Cred {
  readonly uid: number
  readonly gid: number
}

/** secmodel suser: the superuser may do what the check guards. */
export const isRoot = (cred: Cred): boolean => cred.uid === 0

/** EPERM unless `cred` is the superuser (reboot, mount, settimeofday, sysctl writes, ...). */
export const requireRoot = (cred: Cred): Effect.Effect<void, SysErr> => isRoot(cred) ? Effect.void : sysErr(Errno.EPERM)
