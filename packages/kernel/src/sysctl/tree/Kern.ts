/**
 * kern: what a rump kernel of NetBSD 7.99 sets up there (init_sysctl_base.c,
 * kern_clock.c, kern_descrip.c, kern_proc.c, kern_rndq.c, subr_log.c,
 * uipc_mbuf.c, sys_pipe.c, uipc_socket.c, vfs_bio.c, subr_evcnt.c,
 * kern_tc.c, subr_pool.c, sys_select.c, kern_uidinfo.c, kern_module.c,
 * uipc_sem.c), node for node; no more (no kern.maxfiles, kern.boottime,
 * kern.iov_max ...: ENOENT, as there).
 */
import { randomBytes, randomInt } from "node:crypto"
import { Errno, limits, sysctlKern } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { OSRELEASE, OSTYPE } from "../../KernelConfig.ts"
import { sysErr } from "../../kern/SysErr.ts"
import { createv } from "../Create.ts"
import { boolVariable, cString, int32, intData, intVariable, stringData } from "../Data.ts"
import { lookupValue } from "../Lookup.ts"
import { CTLTYPE_INT, CTLTYPE_NODE, CTLTYPE_STRING, CTLTYPE_STRUCT, type SysctlFunc, type SysctlNode } from "../Node.ts"
import { kernFile, kernFile2 } from "./Files.ts"
import { clockinfo, emptyTable, kernBuf, kernEvcnt, kernProc, procArgs } from "./Procs.ts"
import { proc2 } from "./Proc2.ts"
import {
  boolNode,
  computed,
  constStringNode,
  CTL_CREATE,
  funcNode,
  immediateInt,
  intNode,
  node,
  P,
  RW,
  stringNode,
  structNode
} from "./Spec.ts"

/** __NetBSD_Version__ of 7.99.34 (kern.osrevision). */
const OSREVISION = 799003400
/** RAW_PART of amd64 (the d partition). */
const RAW_PART = 3
const HZ = 100
/** MSGBUFSIZE less the struct kern_msgbuf header: what kern.msgbufsize reports. */
const MSGBUF_SIZE = 16384 - 24
/** kern.timecounter.choice: the rump kernel's timecounters. */
const TIMECOUNTERS = cString("clockinterrupt(q=0, f=100 Hz) rumpclk(q=1000, f=1000000000 Hz) dummy(q=-1000000, f=1000000 Hz)")
export const VERSION = `${OSTYPE} ${OSRELEASE} (RUMP-ROAST)\n`

/** A value worked out when asked for, read-only: a copy of the node pointing at it, looked up. */
const readOnly = (value: (req: Parameters<SysctlFunc>[0]) => Uint8Array): SysctlFunc => (req, node, name, at) =>
  lookupValue(req, node, name.length - at, { get: () => value(req) })

/** kern.arandom (sysctl_kern_arnd): as many random bytes as asked for, at most 256 (E2BIG). */
const arandom: SysctlFunc = (req, node, name, at) => {
  if (req.oldlen === 0n) return Effect.void
  if (req.oldlen > 256n) return sysErr(Errno.E2BIG)
  const n = Number(req.oldlen)
  return lookupValue(req, node, name.length - at, { get: () => new Uint8Array(randomBytes(n)) }, n)
}

export const setupKern = (kern: SysctlNode): void => {
  // init_sysctl_base.c
  createv(kern, constStringNode("ostype", sysctlKern.KERN_OSTYPE, OSTYPE))
  createv(kern, constStringNode("osrelease", sysctlKern.KERN_OSRELEASE, OSRELEASE))
  createv(kern, immediateInt("osrevision", sysctlKern.KERN_OSREV, OSREVISION))
  createv(kern, constStringNode("version", sysctlKern.KERN_VERSION, VERSION))
  // one name for the whole kernel: a write is seen by every process
  createv(kern, computed(stringNode("hostname", sysctlKern.KERN_HOSTNAME, stringData((ctx) => ctx.kernel.hostname, (ctx, s) => {
    ctx.kernel.hostname = s
  }), RW, { size: limits.MAXHOSTNAMELEN })))
  let domainname = ""
  createv(kern, computed(stringNode("domainname", sysctlKern.KERN_DOMAINNAME, stringData(() => domainname, (_ctx, s) => {
    domainname = s
  }), RW, { size: limits.MAXHOSTNAMELEN })))
  createv(kern, immediateInt("rawpartition", sysctlKern.KERN_RAWPARTITION, RAW_PART))
  // kern_clock.c
  createv(kern, funcNode("clockrate", sysctlKern.KERN_CLOCKRATE, CTLTYPE_STRUCT, readOnly(clockinfo), P, 20))
  createv(kern, intNode("hardclock_ticks", sysctlKern.KERN_HARDCLOCK_TICKS, intData((ctx) => ctx.kernel.callouts.ticks() | 0)))
  // kern_descrip.c, kern_proc.c
  createv(kern, funcNode("file", sysctlKern.KERN_FILE, CTLTYPE_STRUCT, kernFile))
  createv(kern, funcNode("file2", sysctlKern.KERN_FILE2, CTLTYPE_STRUCT, kernFile2))
  createv(kern, funcNode("proc", sysctlKern.KERN_PROC, CTLTYPE_NODE, kernProc))
  createv(kern, funcNode("proc2", sysctlKern.KERN_PROC2, CTLTYPE_NODE, proc2))
  createv(kern, funcNode("proc_args", sysctlKern.KERN_PROC_ARGS, CTLTYPE_NODE, procArgs))
  // kern_rndq.c
  createv(kern, funcNode("urandom", sysctlKern.KERN_URND, CTLTYPE_INT, readOnly(() => int32(randomInt(-0x8000_0000, 0x8000_0000))), P, 4))
  createv(kern, funcNode("arandom", sysctlKern.KERN_ARND, CTLTYPE_INT, arandom, P, 4))
  // subr_log.c: an empty message buffer
  createv(kern, funcNode("msgbufsize", sysctlKern.KERN_MSGBUFSIZE, CTLTYPE_INT, readOnly(() => int32(MSGBUF_SIZE)), P, 4))
  createv(kern, funcNode("msgbuf", sysctlKern.KERN_MSGBUF, CTLTYPE_INT, readOnly(() => new Uint8Array(0)), P, 4))
  // uipc_mbuf.c
  const mbuf = createv(kern, node("mbuf", sysctlKern.KERN_MBUF))
  createv(mbuf, immediateInt("msize", 1, 512))
  createv(mbuf, immediateInt("mclbytes", 2, 2048))
  let nmbclusters = 1024
  createv(mbuf, computed(intNode("nmbclusters", 3, intData(() => nmbclusters, (_ctx, n) => {
    // the cluster limit only grows
    if (n < nmbclusters) return Errno.EINVAL
    nmbclusters = n
  }), RW)))
  createv(mbuf, computed(intNode("mblowat", 4, intVariable(16, (n) => n >= 0), RW)))
  createv(mbuf, computed(intNode("mcllowat", 5, intVariable(8, (n) => n >= 0), RW)))
  // struct mbstat: seven u_longs and 256 u_shorts
  createv(mbuf, funcNode("stats", 6, CTLTYPE_STRUCT, readOnly(() => new Uint8Array(7 * 8 + 256 * 2)), P, 7 * 8 + 256 * 2))
  // sys_pipe.c
  const pipe = createv(kern, node("pipe", sysctlKern.KERN_PIPE))
  createv(pipe, computed(intNode("maxkvasz", 1, intVariable(16 * 1024 * 1024, (n) => n >= 0), RW)))
  createv(pipe, computed(intNode("maxloankvasz", 2, intVariable(4 * 1024 * 1024, (n) => n >= 0), RW)))
  createv(pipe, computed(intNode("maxbigpipes", 3, intVariable(32, (n) => n >= 0), RW)))
  createv(pipe, intNode("nbigpipes", 4, intData(() => 0)))
  createv(pipe, intNode("kvasize", 5, intData(() => 0)))
  // uipc_socket.c
  createv(kern, computed(intNode("sbmax", sysctlKern.KERN_SBMAX, intVariable(256 * 1024, (n) => n >= 1024), RW)))
  createv(kern, computed(intNode("somaxkva", sysctlKern.KERN_SOMAXKVA, intVariable(16 * 1024 * 1024, (n) => n >= 16 * 1024 * 1024), RW)))
  // vfs_bio.c, subr_evcnt.c
  createv(kern, funcNode("buf", sysctlKern.KERN_BUF, CTLTYPE_NODE, kernBuf))
  createv(kern, funcNode("evcnt", sysctlKern.KERN_EVCNT, CTLTYPE_STRUCT, kernEvcnt))
  // the dynamic ones, in the order a rump kernel creates them
  const timecounter = createv(kern, node("timecounter", CTL_CREATE))
  createv(timecounter, funcNode("choice", CTL_CREATE, CTLTYPE_STRING, readOnly(() => TIMECOUNTERS)))
  let hardware = "rumpclk"
  createv(timecounter, computed(stringNode("hardware", CTL_CREATE, stringData(() => hardware, (_ctx, s) => {
    if (!["clockinterrupt", "rumpclk", "dummy"].includes(s)) return Errno.EINVAL
    hardware = s
  }), RW, { size: 64 })))
  createv(timecounter, intNode("timestepwarnings", CTL_CREATE, intVariable(0), RW))
  createv(kern, funcNode("pool", CTL_CREATE, CTLTYPE_STRUCT, emptyTable))
  createv(kern, intNode("direct_select", CTL_CREATE, intVariable(0), RW))
  const uidinfo = createv(kern, node("uidinfo", CTL_CREATE))
  const ofUid = (count: (uid: number, req: Parameters<SysctlFunc>[0]) => number): SysctlFunc =>
    readOnly((req) => int32(count(req.ctx.proc.uid, req)))
  createv(uidinfo, funcNode("proc", CTL_CREATE, CTLTYPE_INT, ofUid((uid, req) => [...req.ctx.kernel.procs.values()].filter((p) => !p.released && p.cred.uid === uid).length), P, 4))
  createv(uidinfo, funcNode("sbsize", CTL_CREATE, CTLTYPE_INT, ofUid(() => 0), P, 4))
  const module = createv(kern, node("module", CTL_CREATE))
  createv(module, boolNode("autoload", CTL_CREATE, boolVariable(true), RW))
  createv(module, boolNode("verbose", CTL_CREATE, boolVariable(false), RW))
  const posix = createv(kern, node("posix", CTL_CREATE))
  createv(posix, intNode("semmax", CTL_CREATE, intVariable(128, (n) => n > 0), RW))
}
