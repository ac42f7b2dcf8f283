/**
 * The sysctl nodes this kernel has: a few of kern and hw; the other
 * top-level nodes exist but are empty.
 */
import { allocBytes, viewOf } from "@sysproxy/protocol"
import { limits, sysctlHw, sysctlKern, sysctlTop, Structs } from "@sysproxy/protocol/netbsd"
import { NS_PER_SEC } from "../../abi/Timespec.ts"
import { MACHINE, OSRELEASE, OSTYPE } from "../../KernelConfig.ts"
import { proc2 } from "./Proc2.ts"
import { intLeaf, node, quadLeaf, stringLeaf, structLeaf, type SysctlNode } from "./Tree.ts"

/** __NetBSD_Version__ of 7.99.34 (kern.osrevision). */
const OSREVISION = 799003400
const MACHINE_ARCH = "x86_64"
const PAGE_SIZE = 4096
/** BYTE_ORDER of a little-endian machine. */
const LITTLE_ENDIAN = 1234

const boottime = structLeaf(Structs.timespec.size, (ctx) => {
  // kern.boottime is a struct timespec (KERN_OBOOTTIME was the timeval one)
  const bytes = allocBytes(Structs.timespec.size)
  const view = viewOf(bytes)
  view.setBigInt64(bytes.byteOffset, ctx.kernel.boottime.sec, true)
  view.setBigInt64(bytes.byteOffset + 8, BigInt(ctx.kernel.boottime.nsec) % NS_PER_SEC, true)
  return bytes
})

const kern = node([
  [sysctlKern.KERN_OSTYPE, stringLeaf(() => OSTYPE)],
  [sysctlKern.KERN_OSRELEASE, stringLeaf(() => OSRELEASE)],
  [sysctlKern.KERN_OSREV, intLeaf(() => OSREVISION)],
  [sysctlKern.KERN_VERSION, stringLeaf(() => `${OSTYPE} ${OSRELEASE} (SYSPROXY)\n`)],
  [
    sysctlKern.KERN_HOSTNAME,
    // one name for the whole kernel: a write is seen by every process
    stringLeaf((ctx) => ctx.kernel.hostname, limits.MAXHOSTNAMELEN, (ctx, name) => {
      ctx.kernel.hostname = name
    })
  ],
  [sysctlKern.KERN_IOV_MAX, intLeaf(() => limits.IOV_MAX)],
  [sysctlKern.KERN_PROC2, proc2],
  [sysctlKern.KERN_BOOTTIME, boottime]
])

const hw = node([
  [sysctlHw.HW_MACHINE, stringLeaf(() => MACHINE)],
  [sysctlHw.HW_MACHINE_ARCH, stringLeaf(() => MACHINE_ARCH)],
  [sysctlHw.HW_NCPU, intLeaf((ctx) => ctx.kernel.ncpu)],
  [sysctlHw.HW_NCPUONLINE, intLeaf((ctx) => ctx.kernel.ncpu)],
  [sysctlHw.HW_BYTEORDER, intLeaf(() => LITTLE_ENDIAN)],
  [sysctlHw.HW_PAGESIZE, intLeaf(() => PAGE_SIZE)],
  [sysctlHw.HW_PHYSMEM64, quadLeaf((ctx) => BigInt(ctx.kernel.physmem))]
])

const empty = node([])

export const root: SysctlNode = node([
  [sysctlTop.CTL_KERN, kern],
  [sysctlTop.CTL_VM, empty],
  [sysctlTop.CTL_VFS, empty],
  [sysctlTop.CTL_NET, empty],
  [sysctlTop.CTL_DEBUG, empty],
  [sysctlTop.CTL_HW, hw],
  [sysctlTop.CTL_MACHDEP, empty],
  [sysctlTop.CTL_USER, empty],
  [sysctlTop.CTL_DDB, empty],
  [sysctlTop.CTL_PROC, empty],
  [sysctlTop.CTL_VENDOR, empty],
  [sysctlTop.CTL_EMUL, empty],
  [sysctlTop.CTL_SECURITY, empty]
])
