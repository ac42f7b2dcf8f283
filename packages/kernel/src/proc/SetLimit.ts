/**
 * dosetrlimit (kern_resource.c): the one way a process's limits change,
 * for setrlimit(2) and for a write to sysctl proc.<pid>.rlimit. EINVAL for
 * an unknown limit or a soft limit above the hard one; the same values
 * change nothing; then KAUTH_PROCESS_RLIMIT as resource_listener_cb and
 * secmodel suser decide it: the superuser may do anything, anyone else
 * only to its own process or one proc_uidmatch lets it at, and never
 * raise a hard limit (EPERM). What is stored is clamped (clampLimit); the
 * descriptor table follows RLIMIT_NOFILE.
 */
import { Errno, rlimit } from "@sysproxy/protocol/netbsd"
import { isRoot, procUidMatch } from "../kauth/Cred.ts"
import { clampLimit, type RLimit, RLIM_NLIMITS } from "./Limits.ts"
import type { Proc } from "./Proc.ts"

/** Sets limit `which` of `p` for `caller`: 0, or the errno it is refused with. */
export const setLimit = (caller: Proc, p: Proc, which: number, asked: RLimit): number => {
  // (u_int)which >= RLIM_NLIMITS
  if (which >>> 0 >= RLIM_NLIMITS) return Errno.EINVAL
  if (asked.cur > asked.max) return Errno.EINVAL
  const now = p.limits.get(which)
  if (asked.cur === now.cur && asked.max === now.max) return 0
  if (!isRoot(caller)) {
    if (p !== caller && !procUidMatch(caller.cred, p.cred)) return Errno.EPERM
    if (asked.max > now.max) return Errno.EPERM
  }
  p.limits = p.limits.with(which, clampLimit(which, asked))
  if (which === rlimit.RLIMIT_NOFILE) p.fds.limit = p.limits.openFiles
  return 0
}
