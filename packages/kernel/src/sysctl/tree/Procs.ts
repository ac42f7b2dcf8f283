/**
 * kern.proc (the old struct kinfo_proc), kern.proc_args, and the tables
 * this kernel keeps none of (kern.buf, kern.evcnt, kern.pool, hw.iostats),
 * each with its NetBSD function's checks on the name.
 */
import { allocBytes, viewOf } from "@sysproxy/protocol"
import { Errno, limits, sysctlKernProc, sysctlSpecial } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr } from "../../kern/SysErr.ts"
import { copyout } from "../../kern/SyscallContext.ts"
import { cString, int32 } from "../Data.ts"
import { query } from "../Meta.ts"
import type { SysctlFunc } from "../Node.ts"

const { CTL_QUERY } = sysctlSpecial
const { KERN_PROC_ALL, KERN_PROC_ARGV, KERN_PROC_NARGV, KERN_PROC_ENV, KERN_PROC_NENV, KERN_PROC_PATHNAME } =
  sysctlKernProc
const KERN_BUF_ALL = 0
const KERN_BUFSLOP = 20n
const { KERN_EVCNT_COUNT_ANY, KERN_EVCNT_COUNT_NONZERO } = { KERN_EVCNT_COUNT_ANY: 0, KERN_EVCNT_COUNT_NONZERO: 1 }

const isQuery = (name: Int32Array, at: number) => name.length - at === 1 && name[at] === CTL_QUERY

/**
 * kern.proc: sysctl_doeproc's checks on op and arg; the records are the
 * kernel's struct proc inside struct kinfo_proc, a layout this kernel does
 * not have: EOPNOTSUPP (kern.proc2 is what ps(1) reads).
 */
export const kernProc: SysctlFunc = (req, node, name, at) => {
  if (isQuery(name, at)) return query(req, node, name, at)
  const n = name.length - at
  if (n === 0) return sysErr(Errno.EINVAL)
  if (name[at] === KERN_PROC_ALL ? n !== 1 : n !== 2) return sysErr(Errno.EINVAL)
  return sysErr(Errno.EOPNOTSUPP)
}

/**
 * kern.proc_args (sysctl_kern_proc_args): name is pid and what; read-only
 * (EINVAL with a new value). A process's arguments here are its command
 * name (what the client told at its handshake or exec); it has no
 * environment and no path name (ENOENT). A size query is sizeof(int) for
 * the counts and ARG_MAX for the strings.
 */
export const procArgs: SysctlFunc = Effect.fnUntraced(
  function*(req, node, name, at) {
    if (isQuery(name, at)) return yield* query(req, node, name, at)
    if (req.newp !== 0n || name.length - at !== 2) return yield* sysErr(Errno.EINVAL)
    const pid = name[at]!
    const what = name[at + 1]!
    const known: ReadonlyArray<number> = [KERN_PROC_ARGV, KERN_PROC_NARGV, KERN_PROC_ENV, KERN_PROC_NENV, KERN_PROC_PATHNAME]
    if (!known.includes(what)) return yield* sysErr(Errno.EINVAL)
    const p = req.ctx.kernel.procs.get(pid)
    if (p === undefined || p.released) return yield* sysErr(Errno.ESRCH)
    if (what === KERN_PROC_PATHNAME) return yield* sysErr(Errno.ENOENT)
    const counted = what === KERN_PROC_NARGV || what === KERN_PROC_NENV
    if (req.oldp === 0n) {
      req.oldlen = counted ? 4n : BigInt(limits.ARG_MAX)
      return
    }
    const value = what === KERN_PROC_NARGV
      ? int32(1)
      : what === KERN_PROC_NENV
      ? int32(0)
      : what === KERN_PROC_ARGV
      ? cString(p.comm)
      : new Uint8Array(0)
    const n = req.oldlen < BigInt(value.byteLength) ? Number(req.oldlen) : value.byteLength
    if (n > 0) yield* copyout(req.ctx, req.oldp, value.subarray(0, n))
    req.oldlen = BigInt(n)
  })

/** kern.buf (sysctl_dobuf): op KERN_BUF_ALL, arg, elem_size, elem_count; no buffers, slop on a size query. */
export const kernBuf: SysctlFunc = (req, node, name, at) => {
  if (isQuery(name, at)) return query(req, node, name, at)
  const rest = name.subarray(at)
  if (rest.length !== 4 || rest[0] !== KERN_BUF_ALL || rest[2]! < 1 || rest[3]! < 0) return sysErr(Errno.EINVAL)
  req.oldlen = req.oldp === 0n ? KERN_BUFSLOP * BigInt(rest[2]!) : 0n
  return Effect.void
}

/** kern.evcnt (sysctl_kern_evcnt): type filter and count flag; no event counters. */
export const kernEvcnt: SysctlFunc = (req, node, name, at) => {
  if (isQuery(name, at)) return query(req, node, name, at)
  const rest = name.subarray(at)
  if (rest.length !== 2) return sysErr(Errno.EINVAL)
  if (rest[1] !== KERN_EVCNT_COUNT_ANY && rest[1] !== KERN_EVCNT_COUNT_NONZERO) return sysErr(Errno.EINVAL)
  req.oldlen = 0n
  return Effect.void
}

/** A table with nothing in it (kern.pool, hw.iostats, vfs.namecache_stats): a name past it is EINVAL. */
export const emptyTable: SysctlFunc = (req, node, name, at) => {
  if (isQuery(name, at)) return query(req, node, name, at)
  if (name.length !== at) return sysErr(Errno.EINVAL)
  req.oldlen = 0n
  return Effect.void
}

/** struct clockinfo of this kernel: hz 100 (tick 10000 us, tickadj 40), stathz and profhz as hz. */
export const clockinfo = (): Uint8Array => {
  const out = allocBytes(20)
  const view = viewOf(out)
  const HZ = 100
  const values = [HZ, 1_000_000 / HZ, 240_000 / (60 * HZ), HZ, HZ]
  values.forEach((v, i) => view.setInt32(out.byteOffset + i * 4, v, true))
  return out
}
