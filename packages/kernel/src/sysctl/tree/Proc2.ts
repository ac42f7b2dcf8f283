/**
 * kern.proc2 (sysctl_doeproc for KERN_PROC2): CTL_QUERY finds no children;
 * otherwise the name is op, arg, elem_size,
 * elem_count; each matching process gives one elem_size record (the first
 * min(680, elem_size) bytes of its struct kinfo_proc2), at most elem_count
 * of them and as many as fit. Processes come newest first, as NetBSD's
 * allproc list has them.
 *
 * The length reported is, with a buffer, what was copied (ENOMEM when some
 * did not fit); without one, what all of them need plus room for five more
 * (KERN_PROCSLOP, here counted in elem_size records).
 */
import { Effect } from "effect"
import { Errno, sysctlKernProc, sysctlSpecial } from "@sysproxy/protocol/netbsd"
import { KINFO_PROC2_SIZE, kinfoProc2 } from "../../abi/KinfoProc2.ts"
import type { Proc } from "../../proc/Proc.ts"
import { sysErr } from "../../kern/SysErr.ts"
import { copyout } from "../../kern/SyscallContext.ts"
import { query } from "../Meta.ts"
import type { SysctlFunc } from "../Node.ts"

const SLOP_RECORDS = 5n

/** Whether `p` is selected by op/arg; undefined for an op NetBSD does not know (EINVAL). */
const selects = (op: number, arg: number, p: Proc): boolean | undefined => {
  switch (op) {
    case sysctlKernProc.KERN_PROC_ALL:
      return true
    case sysctlKernProc.KERN_PROC_PID:
      return p.pid === arg
    case sysctlKernProc.KERN_PROC_PGRP:
      return p.pgid === arg
    case sysctlKernProc.KERN_PROC_SESSION:
      return p.sid === arg
    case sysctlKernProc.KERN_PROC_TTY:
      // no process has a controlling terminal: only "no tty" (NODEV, -1 as an int) matches
      return arg === -1
    case sysctlKernProc.KERN_PROC_UID:
      return p.cred.euid === arg >>> 0
    case sysctlKernProc.KERN_PROC_RUID:
      return p.cred.uid === arg >>> 0
    case sysctlKernProc.KERN_PROC_GID:
      return p.cred.egid === arg >>> 0
    case sysctlKernProc.KERN_PROC_RGID:
      return p.cred.gid === arg >>> 0
    default:
      return undefined
  }
}

/** Newest first, as NetBSD's allproc list has them. */
export const liveProcs = (procs: ReadonlyMap<number, Proc>): Array<Proc> => [...procs.values()].filter((p) => !p.released).reverse()

export const proc2: SysctlFunc = Effect.fnUntraced(
    function*(req, node, name, at) {
      if (name.length - at === 1 && name[at] === sysctlSpecial.CTL_QUERY) return yield* query(req, node, name, at)
      const [op = 0, arg = 0, elemSize = 0, elemCount = 0] = name.subarray(at)
      if (name.length - at !== 4 || elemSize < 1 || elemCount < 0) return yield* sysErr(Errno.EINVAL)
      const size = BigInt(elemSize)
      let room = req.oldp !== 0n ? req.oldlen : 0n
      let left = elemCount
      let dp = req.oldp
      let needed = 0n
      for (const p of liveProcs(req.ctx.kernel.procs)) {
        const match = selects(op, arg, p)
        if (match === undefined) return yield* sysErr(Errno.EINVAL)
        if (!match) continue
        if (room >= size && left > 0) {
          yield* copyout(req.ctx, dp, kinfoProc2(p).subarray(0, Math.min(KINFO_PROC2_SIZE, elemSize)))
          dp += size
          room -= size
          left--
        }
        needed += size
      }
      if (req.oldp === 0n) {
        req.oldlen = needed + SLOP_RECORDS * size
        return
      }
      req.oldlen = dp - req.oldp
      if (needed > req.oldlen) return yield* sysErr(Errno.ENOMEM)
    })
