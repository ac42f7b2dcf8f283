/**
 * fork1's limits on making a process: at most maxproc processes in all
 * (the last few kept for root), and per real uid at most the parent's
 * RLIMIT_NPROC soft limit. Root is exempt from the per-uid limit, as
 * secmodel suser lets it bypass any.
 */
import { rlimit } from "@sysproxy/protocol/netbsd"
import { isRoot } from "../kauth/Cred.ts"
import type { KernelState } from "../KernelState.ts"
import { MAXPROC } from "./Limits.ts"
import type { Proc } from "./Proc.ts"

/** How many processes below maxproc only root may take. */
const ROOT_RESERVE = 5

/** May `parent` fork one more process? */
export const mayFork = (state: KernelState, parent: Proc): boolean => {
  let all = 0
  let mine = 0
  for (const p of state.procs.values()) {
    if (p.released) continue
    all++
    if (p.cred.uid === parent.cred.uid) mine++
  }
  if (isRoot(parent)) return all < MAXPROC
  return all < MAXPROC - ROOT_RESERVE && BigInt(mine + 1) <= parent.limits.get(rlimit.RLIMIT_NPROC).cur
}
