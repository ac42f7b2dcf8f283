/**
 * The tree a booting kernel builds (sysctl_init): the 13 top-level nodes,
 * then each subsystem's nodes in the order a rump kernel of NetBSD 7.99
 * creates them (so dynamic numbers and versions come out alike), then the
 * nodes given by the code that booted the kernel; then the tree is
 * finalized (no more permanent nodes).
 */
import { sysctlTop } from "@sysproxy/protocol/netbsd"
import { createv } from "./Create.ts"
import { addExtraNodes, type SysctlExtraNode } from "./Extra.ts"
import { CTLFLAG_PERMANENT, makeRoot, type SysctlNode } from "./Node.ts"
import { setupCurproc } from "./tree/Curproc.ts"
import { setupHw } from "./tree/Hw.ts"
import { setupKern } from "./tree/Kern.ts"
import { setupNet, setupVfs, setupVm } from "./tree/Others.ts"
import { node, P, RW } from "./tree/Spec.ts"

export interface SysctlBoot {
  /** hw.physmem and hw.physmem64 in bytes, and what the buffer cache sizes itself by. */
  readonly physmem: number
  readonly extra?: ReadonlyArray<SysctlExtraNode> | undefined
}

/** The top level (sysctl_basenode_init): vendor is the one a process may add nodes under. */
const TOP: ReadonlyArray<readonly [string, number, number]> = [
  ["kern", sysctlTop.CTL_KERN, P],
  ["vm", sysctlTop.CTL_VM, P],
  ["vfs", sysctlTop.CTL_VFS, P],
  ["net", sysctlTop.CTL_NET, P],
  ["debug", sysctlTop.CTL_DEBUG, P],
  ["hw", sysctlTop.CTL_HW, P],
  ["machdep", sysctlTop.CTL_MACHDEP, P],
  ["user", sysctlTop.CTL_USER, P],
  ["ddb", sysctlTop.CTL_DDB, P],
  ["proc", sysctlTop.CTL_PROC, P],
  ["vendor", sysctlTop.CTL_VENDOR, RW],
  ["emul", sysctlTop.CTL_EMUL, P],
  ["security", sysctlTop.CTL_SECURITY, P]
]

export const bootSysctl = (boot: SysctlBoot): SysctlNode => {
  const root = makeRoot()
  const top = new Map(TOP.map(([name, num, flags]) => [num, createv(root, node(name, num, undefined, flags))]))
  const at = (num: number) => top.get(num)!
  setupKern(at(sysctlTop.CTL_KERN))
  setupHw(at(sysctlTop.CTL_HW), boot.physmem)
  setupCurproc(at(sysctlTop.CTL_PROC))
  setupVm(at(sysctlTop.CTL_VM), boot.physmem)
  setupVfs(at(sysctlTop.CTL_VFS))
  setupNet(at(sysctlTop.CTL_NET))
  addExtraNodes(root, boot.extra ?? [])
  // sysctl_finalize
  root.flags |= CTLFLAG_PERMANENT
  return root
}
