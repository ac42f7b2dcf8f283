/**
 * struct kinfo_proc2 (680 bytes, Structs.kinfo_proc2) as sysctl
 * kern.proc2 returns it, filled as fill_kproc2 does for what this kernel
 * knows about a process; every other field is zero.
 */
import { limits, type StructField, Structs, sysctlKinfo, sysctlProcFlags } from "@sysproxy/protocol/netbsd"
import type { Proc } from "../proc/Proc.ts"

export const KINFO_PROC2_SIZE = Structs.kinfo_proc2.size

/** p_realstat: a live process (sys/proc.h SACTIVE). */
export const SACTIVE = 2
/** p_stat is the most active lwp's state (sys/lwp.h): runnable ... */
export const LSRUN = 2
/** ... or running in the kernel. */
export const LSONPROC = 7
/** p_tdev without a controlling terminal: NODEV as a uint32_t. */
const NODEV = 0xffff_ffff
/** p_tpgid without a controlling terminal. */
const NO_PGID = -1

/** An integer, or a char array: a string or raw bytes, NUL-terminated and cut to fit. */
type Value = number | bigint | string | Uint8Array

/** The struct's field names. */
export type KinfoField = (typeof Structs.kinfo_proc2.fields)[number]["name"]

const fields = new Map<string, StructField>(Structs.kinfo_proc2.fields.map((f) => [f.name, f]))
const encoder = new TextEncoder()

/** Writes one field by name: integers at their width and signedness, strings NUL-terminated and cut to fit. */
const put = (view: DataView, bytes: Uint8Array, name: string, value: Value): void => {
  const f = fields.get(name)
  if (f === undefined) return
  if (typeof value === "string" || value instanceof Uint8Array) {
    const raw = typeof value === "string" ? encoder.encode(value) : value
    bytes.set(raw.subarray(0, f.size - 1), f.offset)
    return
  }
  const signed = f.signed === true
  switch (f.size) {
    case 1:
      if (signed) view.setInt8(f.offset, Number(value))
      else view.setUint8(f.offset, Number(value))
      return
    case 2:
      if (signed) view.setInt16(f.offset, Number(value), true)
      else view.setUint16(f.offset, Number(value), true)
      return
    case 4:
      if (signed) view.setInt32(f.offset, Number(value), true)
      else view.setUint32(f.offset, Number(value), true)
      return
    case 8:
      if (signed) view.setBigInt64(f.offset, BigInt(value), true)
      else view.setBigUint64(f.offset, BigInt(value), true)
      return
  }
}

/** The struct for these field values (by kinfo_proc2 field name), zeros elsewhere. */
export const encodeKinfoProc2 = (values: Readonly<Partial<Record<KinfoField, Value>>>): Uint8Array => {
  const bytes = new Uint8Array(KINFO_PROC2_SIZE)
  const view = new DataView(bytes.buffer)
  for (const [name, value] of Object.entries(values)) if (value !== undefined) put(view, bytes, name, value)
  return bytes
}

/**
 * fill_kproc2 for `p`: ids from its credentials (p_uid the effective
 * uid, p_ruid the real one), its flags (L_INMEM, P_SUGID), its group,
 * session and login name. Its lwps are the main lwp, always runnable, plus
 * the syscall lwps in the kernel, running unless asleep; p_stat is the most
 * active one's state (LSONPROC while a syscall runs, as the caller's own
 * does when it asks about itself).
 */
export const kinfoProc2 = (p: Proc): Uint8Array => {
  let running = 0
  for (const lwp of p.lwps) if (lwp.wakeup === undefined) running++
  const cred = p.cred
  const session = p.pgrp.session
  // L_INMEM always (never swapped out), and PK_SUGID as P_SUGID; p_realflag is the same (before any lwp's flags)
  const flag = sysctlProcFlags.L_INMEM | (p.sugid ? sysctlProcFlags.P_SUGID : 0)
  const bytes = encodeKinfoProc2({
    p_flag: flag,
    p_realflag: flag,
    p_eflag: session.leader === p ? sysctlKinfo.EPROC_SLEADER : 0,
    p_pid: p.pid,
    p_ppid: p.ppid,
    p_sid: p.sid,
    p__pgid: p.pgid,
    p_tpgid: NO_PGID,
    p_uid: cred.euid,
    p_ruid: cred.uid,
    p_gid: cred.egid,
    p_rgid: cred.gid,
    p_svuid: cred.svuid,
    p_svgid: cred.svgid,
    p_ngroups: cred.groups.length,
    // the session's login name: MAXLOGNAME bytes, NUL-terminated here (p_login is larger)
    p_login: session.login,
    p_tdev: NODEV,
    p_stat: running > 0 ? LSONPROC : LSRUN,
    p_realstat: SACTIVE,
    // p_comm is MAXCOMLEN + 1 bytes in the kernel's struct proc
    p_comm: encoder.encode(p.comm).subarray(0, limits.MAXCOMLEN),
    p_nlwps: p.nlwps,
    p_nrlwps: 1 + running
  })
  const groups = fields.get("p_groups")
  if (groups !== undefined) {
    const view = new DataView(bytes.buffer)
    cred.groups.forEach((g, i) => view.setUint32(groups.offset + i * 4, g, true))
  }
  return bytes
}
