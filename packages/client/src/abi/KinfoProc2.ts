/**
 * struct kinfo_proc2 (Structs.kinfo_proc2) as sysctl kern.proc2 returns
 * it: the fields a process listing needs.
 */
import { Structs } from "@sysproxy/protocol/netbsd"
import { structReader } from "./StructReader.ts"

export interface ProcInfo {
  readonly pid: number
  readonly ppid: number
  readonly pgid: number
  readonly sid: number
  /** Foreground process group of the controlling terminal, -1 without one. */
  readonly tpgid: number
  readonly uid: number
  readonly ruid: number
  readonly gid: number
  readonly rgid: number
  /** The most active lwp's state (LSRUN, LSONPROC, ...). */
  readonly stat: number
  /** The process's own state (SACTIVE, SSTOP, SZOMB, ...). */
  readonly realstat: number
  readonly flag: number
  /** EPROC_* bits (EPROC_SLEADER: a session leader). */
  readonly eflag: number
  readonly comm: string
  readonly nlwps: number
  readonly nrlwps: number
}

export const KINFO_PROC2_SIZE = Structs.kinfo_proc2.size

const read = structReader(Structs.kinfo_proc2)

/** The record that starts `offset` bytes into `bytes`. */
export const decodeKinfoProc2 = (bytes: Uint8Array, offset = 0): ProcInfo => {
  const r = read(bytes, offset)
  return {
    pid: r.int("p_pid"),
    ppid: r.int("p_ppid"),
    pgid: r.int("p__pgid"),
    sid: r.int("p_sid"),
    tpgid: r.int("p_tpgid"),
    uid: r.int("p_uid"),
    ruid: r.int("p_ruid"),
    gid: r.int("p_gid"),
    rgid: r.int("p_rgid"),
    stat: r.int("p_stat"),
    realstat: r.int("p_realstat"),
    flag: r.int("p_flag"),
    eflag: r.int("p_eflag"),
    comm: r.chars("p_comm"),
    nlwps: r.int("p_nlwps"),
    nrlwps: r.int("p_nrlwps")
  }
}
