/**
 * proc.curproc (kern_resource.c): one node answering for every process
 * number (CTLFLAG_ANYNUMBER; PROC_CURPROC is the caller), with corename,
 * the resource limits (rlimit.<which>.soft and .hard) and the stop flags
 * (stopfork, stopexec, stopexit). An unknown process is ESRCH. The nodes
 * are CTLFLAG_ANYWRITE: kauth decides, not the sysctl layer. The limits
 * are the process's own (p_rlimit), written through dosetrlimit
 * (proc/SetLimit.ts, as setrlimit(2)); the core name (in the limits, so a
 * fork child shares it) and the stop flags are the superuser's to change,
 * or a caller's that proc_uidmatch matches; a core name must be "core" or
 * end in "/core" or ".core".
 */
import { Errno, rlimit } from "@sysproxy/protocol/netbsd"
import { isRoot, procUidMatch } from "../../kauth/Cred.ts"
import { sysErr } from "../../kern/SysErr.ts"
import type { Proc } from "../../proc/Proc.ts"
import { setLimit } from "../../proc/SetLimit.ts"
import { createv } from "../Create.ts"
import { cString, int32 } from "../Data.ts"
import { lookupValue } from "../Lookup.ts"
import {
  CTLFLAG_ANYNUMBER,
  CTLFLAG_ANYWRITE,
  CTLTYPE_INT,
  CTLTYPE_QUAD,
  CTLTYPE_STRING,
  type SysctlFunc,
  type SysctlNode
} from "../Node.ts"
import { node, P, RW } from "./Spec.ts"

/** PROC_CURPROC: ~(1 << 31). */
export const PROC_CURPROC = 0x7fff_ffff
const PROC_PID_CORENAME = 1
const PROC_PID_LIMIT = 2
const PROC_PID_STOPFORK = 3
const PROC_PID_STOPEXEC = 4
const PROC_PID_STOPEXIT = 5
const PROC_PID_LIMIT_TYPE_SOFT = 1
const PROC_PID_LIMIT_TYPE_HARD = 2
const MAXPATHLEN = 1024
/** The limits under rlimit, by PROC_PID_LIMIT_* number (RLIMIT_* + 1). */
const LIMITS: ReadonlyArray<readonly [string, number]> = [
  ["cputime", rlimit.RLIMIT_CPU],
  ["filesize", rlimit.RLIMIT_FSIZE],
  ["datasize", rlimit.RLIMIT_DATA],
  ["stacksize", rlimit.RLIMIT_STACK],
  ["coredumpsize", rlimit.RLIMIT_CORE],
  ["memoryuse", rlimit.RLIMIT_RSS],
  ["memorylocked", rlimit.RLIMIT_MEMLOCK],
  ["maxproc", rlimit.RLIMIT_NPROC],
  ["descriptors", rlimit.RLIMIT_NOFILE],
  ["sbsize", rlimit.RLIMIT_SBSIZE],
  ["vmemoryuse", rlimit.RLIMIT_AS],
  ["maxlwp", rlimit.RLIMIT_NTHR]
]

/** The process the name is about: its second component (PROC_CURPROC for the caller). */
const target = (req: Parameters<SysctlFunc>[0], name: Int32Array): Proc | undefined => {
  const pid = name[1]!
  if (pid === PROC_CURPROC) return req.ctx.proc
  const p = req.ctx.kernel.procs.get(pid)
  return p !== undefined && !p.released ? p : undefined
}

/** KAUTH_PROCESS_CORENAME and KAUTH_PROCESS_STOPFLAG: the superuser, or a caller proc_uidmatch matches (itself included). */
const mayControl = (caller: Proc, p: Proc): boolean => isRoot(caller) || procUidMatch(caller.cred, p.cred)

/** sysctl_proc_findproc, then the node's value through sysctl_lookup on a scratch node. */
const perProcess = (
  answer: (req: Parameters<SysctlFunc>[0], p: Proc, node: SysctlNode, rest: number) => ReturnType<SysctlFunc>
): SysctlFunc =>
(req, node, name, at) => {
  const p = target(req, name)
  return p === undefined ? sysErr(Errno.ESRCH) : answer(req, p, node, name.length - at)
}

/** sysctl_proc_plimit: the soft or hard limit; a new one goes through dosetrlimit with the other kept. */
const limitFunc = (which: number, type: number): SysctlFunc =>
  perProcess((req, p, node, rest) =>
    lookupValue(req, node, rest, {
      get: () => quad(type === PROC_PID_LIMIT_TYPE_SOFT ? p.limits.get(which).cur : p.limits.get(which).max),
      set: (_ctx, v) => {
        const value = new DataView(v.buffer, v.byteOffset, 8).getBigUint64(0, true)
        const now = p.limits.get(which)
        const asked = type === PROC_PID_LIMIT_TYPE_SOFT ? { cur: value, max: now.max } : { cur: now.cur, max: value }
        return setLimit(req.ctx.proc, p, which, asked)
      }
    })
  )

const CORE = [0x63, 0x6f, 0x72, 0x65]

/** "core", or a name ending in "/core" or ".core" (sysctl_proc_corename's check). */
const validCorename = (v: Uint8Array): boolean => {
  const len = v.length
  if (len < 4 || CORE.some((c, i) => v[len - 4 + i] !== c)) return false
  return len === 4 || v[len - 5] === 0x2f || v[len - 5] === 0x2e
}

/** sysctl_proc_corename: reading it is a kauth question too (only when the value is asked for). */
const corenameFunc: SysctlFunc = perProcess((req, p, node, rest) => {
  const caller = req.ctx.proc
  if (req.oldp !== 0n && !mayControl(caller, p)) return sysErr(Errno.EPERM)
  return lookupValue(req, node, rest, {
    get: () => cString(p.limits.corename),
    set: (_ctx, v) => {
      if (!mayControl(caller, p)) return Errno.EPERM
      if (!validCorename(v)) return Errno.EINVAL
      p.limits = p.limits.withCorename(new TextDecoder().decode(v))
    }
  })
})

/**
 * sysctl_proc_stop: the flag is read from p_flag while it lives in p_sflag,
 * so NetBSD reads every one of them as 0; setting one is a kauth question.
 */
const stopFunc: SysctlFunc = perProcess((req, p, node, rest) =>
  lookupValue(req, node, rest, {
    get: () => int32(0),
    set: () => (mayControl(req.ctx.proc, p) ? undefined : Errno.EPERM)
  })
)

const quad = (n: bigint) => {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigInt64(0, BigInt.asIntN(64, n), true)
  return b
}

export const setupCurproc = (procRoot: SysctlNode): void => {
  const curproc = createv(procRoot, node("curproc", PROC_CURPROC, undefined, P | CTLFLAG_ANYNUMBER))
  const anyWrite = RW | CTLFLAG_ANYWRITE
  createv(curproc, { name: "corename", num: PROC_PID_CORENAME, type: CTLTYPE_STRING, flags: anyWrite, size: MAXPATHLEN, func: corenameFunc })
  const limits = createv(curproc, node("rlimit", PROC_PID_LIMIT))
  for (const [limitName, which] of LIMITS) {
    const limit = createv(limits, node(limitName, which + 1))
    for (const [typeName, type] of [["soft", PROC_PID_LIMIT_TYPE_SOFT], ["hard", PROC_PID_LIMIT_TYPE_HARD]] as const) {
      createv(limit, { name: typeName, num: type, type: CTLTYPE_QUAD, flags: anyWrite, func: limitFunc(which, type) })
    }
  }
  const stops: ReadonlyArray<readonly [string, number]> = [
    ["stopfork", PROC_PID_STOPFORK],
    ["stopexec", PROC_PID_STOPEXEC],
    ["stopexit", PROC_PID_STOPEXIT]
  ]
  for (const [stopName, num] of stops) createv(curproc, { name: stopName, num, type: CTLTYPE_INT, flags: anyWrite, func: stopFunc })
}
