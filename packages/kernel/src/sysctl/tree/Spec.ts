/** Shorthands for the node specs of the boot tree (what sysctl_createv calls there say). */
import { cString } from "../Data.ts"
import { CTL_CREATE, type NodeSpec } from "../Create.ts"
import {
  CTLFLAG_IMMEDIATE,
  CTLFLAG_PERMANENT,
  CTLFLAG_READWRITE,
  CTLTYPE_BOOL,
  CTLTYPE_INT,
  CTLTYPE_NODE,
  CTLTYPE_QUAD,
  CTLTYPE_STRING,
  CTLTYPE_STRUCT,
  type SysctlData,
  type SysctlFunc
} from "../Node.ts"
import { viaLookup } from "../Lookup.ts"

export { CTL_CREATE }
export const P: number = CTLFLAG_PERMANENT
export const RW: number = CTLFLAG_PERMANENT | CTLFLAG_READWRITE

export const node = (name: string, num: number, func?: SysctlFunc, flags: number = P): NodeSpec => ({
  name,
  num,
  type: CTLTYPE_NODE,
  flags,
  ...(func === undefined ? {} : { func })
})

/** A constant string: its size is its length with the NUL. */
export const constStringNode = (name: string, num: number, value: string): NodeSpec => {
  const bytes = cString(value)
  return { name, num, type: CTLTYPE_STRING, flags: P, size: bytes.byteLength, data: { get: () => bytes } }
}

export const immediateInt = (name: string, num: number, value: number): NodeSpec => ({
  name,
  num,
  type: CTLTYPE_INT,
  flags: P | CTLFLAG_IMMEDIATE,
  imm: value
})

export const immediateQuad = (name: string, num: number, value: bigint): NodeSpec => ({
  name,
  num,
  type: CTLTYPE_QUAD,
  flags: P | CTLFLAG_IMMEDIATE,
  imm: value
})

const leaf = (type: number, size: number) =>
(
  name: string,
  num: number,
  data: SysctlData,
  flags: number = P,
  options: { readonly func?: SysctlFunc; readonly size?: number } = {}
): NodeSpec => ({ name, num, type, flags, size: options.size ?? size, data, ...(options.func === undefined ? {} : { func: options.func }) })

export const intNode = leaf(CTLTYPE_INT, 4)
export const quadNode = leaf(CTLTYPE_QUAD, 8)
export const boolNode = leaf(CTLTYPE_BOOL, 1)
export const stringNode = leaf(CTLTYPE_STRING, 0)
export const structNode = leaf(CTLTYPE_STRUCT, 0)

/** A leaf whose value a function of its own computes (sysctl_func then sysctl_lookup). */
export const computed = (spec: NodeSpec): NodeSpec => ({ ...spec, func: spec.func ?? viaLookup })

/** A node or leaf answered by its own function alone. */
export const funcNode = (name: string, num: number, type: number, func: SysctlFunc, flags: number = P, size = 0): NodeSpec => ({
  name,
  num,
  type,
  flags,
  size,
  func
})
