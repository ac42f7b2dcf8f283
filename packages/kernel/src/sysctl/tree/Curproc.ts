/**
 * proc.curproc (kern_resource.c): one node answering for every process
 * number (CTLFLAG_ANYNUMBER; PROC_CURPROC is the caller), with corename,
 * the resource limits (rlimit.<which>.soft and .hard) and the stop flags
 * (stopfork, stopexec, stopexit). An unknown process is ESRCH. Values
 * are the process's own; new ones are the superuser's to set.
 */
import { Errno, rlimit } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { Proc } from "../../proc/Proc.ts"
import { sysErr } from "../../kern/SysErr.ts"
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
import { requireWriter } from "../Request.ts"
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
const RLIM_INFINITY = 0x7fff_ffff_ffff_ffffn
/** The descriptors a process may have here (the descriptor table's size). */
const OPEN_MAX = 1024n

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

interface ProcSettings {
  corename: string
  stop: [number, number, number]
  readonly limits: Array<[bigint, bigint]>
}

const settings = new WeakMap<Proc, ProcSettings>()
const settingsOf = (p: Proc): ProcSettings => {
  let s = settings.get(p)
  if (s === undefined) {
    s = {
      corename: "%n.core",
      stop: [0, 0, 0],
      limits: LIMITS.map(([, which]) =>
        which === rlimit.RLIMIT_NOFILE ? [OPEN_MAX, OPEN_MAX] : [RLIM_INFINITY, RLIM_INFINITY]
      )
    }
    settings.set(p, s)
  }
  return s
}

/** The process the name is about: its second component (PROC_CURPROC for the caller). */
const target = (req: Parameters<SysctlFunc>[0], name: Int32Array): Proc | undefined => {
  const pid = name[1]!
  if (pid === PROC_CURPROC) return req.ctx.proc
  const p = req.ctx.kernel.procs.get(pid)
  return p !== undefined && !p.released ? p : undefined
}

/** A per-process value read through a scratch node, then stored if a new one came and the caller may set it. */
const perProcess = (
  get: (s: ProcSettings, name: Int32Array) => Uint8Array,
  set: (s: ProcSettings, name: Int32Array, value: Uint8Array) => number | void
): SysctlFunc =>
  Effect.fnUntraced(function*(req, node, name, at) {
    const p = target(req, name)
    if (p === undefined) return yield* sysErr(Errno.ESRCH)
    const s = settingsOf(p)
    if (req.newp !== 0n && req.newlen !== 0n) yield* requireWriter(req)
    yield* lookupValue(req, node, name.length - at, { get: () => get(s, name), set: (_ctx, value) => set(s, name, value) })
  })

const quad = (n: bigint) => {
  const b = new Uint8Array(8)
  new DataView(b.buffer).setBigInt64(0, BigInt.asIntN(64, n), true)
  return b
}

export const setupCurproc = (procRoot: SysctlNode): void => {
  const curproc = createv(procRoot, node("curproc", PROC_CURPROC, undefined, P | CTLFLAG_ANYNUMBER))
  const anyWrite = RW | CTLFLAG_ANYWRITE
  createv(curproc, {
    name: "corename",
    num: PROC_PID_CORENAME,
    type: CTLTYPE_STRING,
    flags: anyWrite,
    size: MAXPATHLEN,
    func: perProcess((s) => cString(s.corename), (s, _n, v) => {
      const text = new TextDecoder().decode(v)
      if (text.length === 0) return Errno.EINVAL
      s.corename = text
    })
  })
  const limits = createv(curproc, node("rlimit", PROC_PID_LIMIT))
  LIMITS.forEach(([limitName, which], i) => {
    const limit = createv(limits, node(limitName, which + 1))
    for (const [typeName, type] of [["soft", PROC_PID_LIMIT_TYPE_SOFT], ["hard", PROC_PID_LIMIT_TYPE_HARD]] as const) {
      createv(limit, {
        name: typeName,
        num: type,
        type: CTLTYPE_QUAD,
        flags: anyWrite,
        func: perProcess((s) => quad(s.limits[i]![type - 1]!), (s, _n, v) => {
          const next = new DataView(v.buffer, v.byteOffset, 8).getBigInt64(0, true)
          const [soft, hard] = s.limits[i]!
          const pair: [bigint, bigint] = type === PROC_PID_LIMIT_TYPE_SOFT ? [next, hard] : [soft, next]
          if (pair[0] < 0n || pair[1] < 0n || pair[0] > pair[1]) return Errno.EINVAL
          s.limits[i] = pair
        })
      })
    }
  })
  const stops: ReadonlyArray<readonly [string, number]> = [
    ["stopfork", PROC_PID_STOPFORK],
    ["stopexec", PROC_PID_STOPEXEC],
    ["stopexit", PROC_PID_STOPEXIT]
  ]
  stops.forEach(([stopName, num], i) => {
    createv(curproc, {
      name: stopName,
      num,
      type: CTLTYPE_INT,
      flags: anyWrite,
      func: perProcess((s) => int32(s.stop[i]!), (s, _n, v) => {
        s.stop[i] = new DataView(v.buffer, v.byteOffset, 4).getInt32(0, true) !== 0 ? 1 : 0
      })
    })
  })
}
