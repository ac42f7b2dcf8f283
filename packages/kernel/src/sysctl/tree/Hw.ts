/**
 * hw: init_sysctl_base.c's (the rump kernel's model "rumpcore (virtual)"),
 * the disk and I/O statistics names and tables (no disks here) and
 * hw.firmware (subr_firmload.c).
 */
import { sysctlHw } from "@sysproxy/protocol/netbsd"
import { MACHINE } from "../../KernelConfig.ts"
import { createv } from "../Create.ts"
import { intData, stringData } from "../Data.ts"
import { CTLTYPE_STRUCT, type SysctlNode } from "../Node.ts"
import { emptyTable } from "./Procs.ts"
import {
  computed,
  constStringNode,
  CTL_CREATE,
  funcNode,
  immediateInt,
  immediateQuad,
  intNode,
  node,
  RW,
  stringNode
} from "./Spec.ts"

export const MODEL = "rumpcore (virtual)"
export const MACHINE_ARCH = "x86_64"
const PAGE_SIZE = 4096
/** BYTE_ORDER of a little-endian machine. */
const LITTLE_ENDIAN = 1234
/** ALIGNBYTES of amd64. */
const ALIGNBYTES = 7
const UINT_MAX = 0xffff_ffff
const FIRMWARE_PATH = "/libdata/firmware:/usr/libdata/firmware:/usr/pkg/libdata/firmware:/usr/pkg/libdata"
const PATH_MAX = 1024

export const setupHw = (hw: SysctlNode, physmem: number): void => {
  createv(hw, constStringNode("model", sysctlHw.HW_MODEL, MODEL))
  createv(hw, constStringNode("machine", sysctlHw.HW_MACHINE, MACHINE))
  createv(hw, constStringNode("machine_arch", sysctlHw.HW_MACHINE_ARCH, MACHINE_ARCH))
  createv(hw, intNode("ncpu", sysctlHw.HW_NCPU, intData((ctx) => ctx.kernel.ncpu)))
  createv(hw, immediateInt("byteorder", sysctlHw.HW_BYTEORDER, LITTLE_ENDIAN))
  // an int: the bytes, or UINT_MAX when they do not fit (as -1 read as an int)
  createv(hw, immediateInt("physmem", sysctlHw.HW_PHYSMEM, physmem > UINT_MAX ? -1 : physmem | 0))
  createv(hw, immediateInt("pagesize", sysctlHw.HW_PAGESIZE, PAGE_SIZE))
  createv(hw, immediateInt("alignbytes", sysctlHw.HW_ALIGNBYTES, ALIGNBYTES))
  createv(hw, immediateQuad("physmem64", sysctlHw.HW_PHYSMEM64, BigInt(physmem)))
  createv(hw, intNode("ncpuonline", sysctlHw.HW_NCPUONLINE, intData((ctx) => ctx.kernel.ncpu)))
  createv(hw, computed(stringNode("disknames", sysctlHw.HW_DISKNAMES, stringData(() => ""))))
  createv(hw, funcNode("iostats", sysctlHw.HW_IOSTATS, CTLTYPE_STRUCT, emptyTable))
  createv(hw, computed(stringNode("iostatnames", sysctlHw.HW_IOSTATNAMES, stringData(() => ""))))
  const firmware = createv(hw, node("firmware", CTL_CREATE))
  let path = FIRMWARE_PATH
  createv(firmware, stringNode("path", CTL_CREATE, stringData(() => path, (_ctx, s) => {
    path = s
  }), RW, { size: PATH_MAX }))
}
