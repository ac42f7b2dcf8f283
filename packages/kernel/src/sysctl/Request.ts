/**
 * One __sysctl request as the tree's functions see it (SYSCTLFN_ARGS): the
 * caller, its old buffer and *oldlenp (read as the buffer's size, left as
 * the length to report, which the syscall writes back even on an error),
 * and the new value. The superuser test for sysctl is here, in one place.
 */
import type { Effect } from "effect"
import { isRoot, requireRoot } from "../kauth/Cred.ts"
import type { SysErr } from "../kern/SysErr.ts"
import type { SyscallContext } from "../kern/SyscallContext.ts"

export interface SysctlRequest {
  readonly ctx: SyscallContext
  /** Where the old value goes (0: the caller only asks for its size). */
  readonly oldp: bigint
  /** In: the caller's buffer size. Out: the length to report. */
  oldlen: bigint
  readonly newp: bigint
  readonly newlen: bigint
}

/** kauth's KAUTH_SYSTEM_SYSCTL (modify, add, delete, describe, private) under secmodel suser: the superuser. */
export const callerIsRoot = (req: SysctlRequest): boolean => isRoot(req.ctx.proc)

/** EPERM unless the caller may change the tree (writes, CTL_CREATE, CTL_DESTROY, descriptions). */
export const requireWriter = (req: SysctlRequest): Effect.Effect<void, SysErr> => requireRoot(req.ctx.proc)
