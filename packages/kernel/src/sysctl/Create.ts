/**
 * sysctl_createv, the kernel's way to add a node: a fixed number or
 * CTL_CREATE (the next dynamic number), the size worked out from the type
 * when not given (a constant string's is its length with the NUL), and an existing
 * node of the same name and number taken as the one asked for.
 */
import { sysctlSpecial } from "@sysproxy/protocol/netbsd"
import {
  attach,
  CTLTYPE_BOOL,
  CTLTYPE_INT,
  CTLTYPE_NODE,
  CTLTYPE_QUAD,
  dynamicNumber,
  rootOf,
  SYSCTL_VERSION,
  type SysctlData,
  type SysctlFunc,
  SysctlNode,
  SYSCTLNODE_SIZE
} from "./Node.ts"

export const { CTL_CREATE } = sysctlSpecial

export interface NodeSpec {
  readonly name: string
  /** A fixed number, or CTL_CREATE. */
  readonly num: number
  readonly type: number
  /** CTLFLAG_* bits (CTLFLAG_PERMANENT for what the kernel sets up at boot). */
  readonly flags: number
  /** The value's size (a string's largest); 0 or absent: worked out from the type. */
  readonly size?: number
  /** A CTLFLAG_IMMEDIATE value. */
  readonly imm?: number | bigint | boolean
  readonly data?: SysctlData
  readonly func?: SysctlFunc
}

const naturalSize = (spec: NodeSpec): number => {
  switch (spec.type) {
    case CTLTYPE_NODE:
      return SYSCTLNODE_SIZE
    case CTLTYPE_INT:
      return 4
    case CTLTYPE_QUAD:
      return 8
    case CTLTYPE_BOOL:
      return 1
    default:
      return 0
  }
}

export const createv = (parent: SysctlNode, spec: NodeSpec): SysctlNode => {
  const existing = parent.children.find((c) => c.name === spec.name && (spec.num === CTL_CREATE || c.num === spec.num))
  if (existing !== undefined) return existing
  const num = spec.num === CTL_CREATE ? dynamicNumber(parent, rootOf(parent)) : spec.num
  const size = spec.size !== undefined && spec.size !== 0 ? spec.size : naturalSize(spec)
  const node = new SysctlNode(SYSCTL_VERSION | spec.type | spec.flags, num, spec.name, size, spec.data, spec.func)
  if (spec.imm !== undefined) node.imm = typeof spec.imm === "boolean" ? (spec.imm ? 1n : 0n) : BigInt(spec.imm)
  attach(parent, node)
  return node
}
