/**
 * sysctl names as libc's sysctlgetmibinfo reads them: components split at
 * "." (or "/", whichever comes first), each the name of a child the kernel
 * lists for its parent with CTL_QUERY, or its number. What CTL_QUERY
 * copies out (struct sysctlnode) is decoded here; the asking is done by
 * Syscalls (sysctlQuery, sysctlResolve).
 */
import { Structs, sysctlCtlflag, sysctlCtltype, sysctlSpecial } from "@sysproxy/protocol/netbsd"
import { viewOf } from "./StructReader.ts"

/** What a node holds, from its CTLTYPE. */
export type SysctlType = "node" | "int" | "string" | "quad" | "struct" | "bool"

/** A node as CTL_QUERY describes it. */
export interface SysctlNodeInfo {
  readonly name: string
  readonly num: number
  /** Undefined for a CTLTYPE this library does not know. */
  readonly type: SysctlType | undefined
  /** The CTLFLAG_* bits. */
  readonly flags: number
  /** The value's size (a string's largest; 0: worked out when read). */
  readonly size: number
  readonly ver: number
  /** How many children the kernel says a node has. */
  readonly clen: number
}

export interface ResolvedSysctl {
  /** The name as sysctl(8) prints it: the nodes' names, then any numbers past them. */
  readonly name: string
  readonly mib: ReadonlyArray<number>
  /** Undefined past the nodes the kernel lists (kern.proc2.0.0.680.4). */
  readonly type: SysctlType | undefined
  /** The node the name ends at; undefined past the listed nodes and for the root. */
  readonly node: SysctlNodeInfo | undefined
}

const TYPES: Readonly<Record<number, SysctlType>> = {
  [sysctlCtltype.CTLTYPE_NODE]: "node",
  [sysctlCtltype.CTLTYPE_INT]: "int",
  [sysctlCtltype.CTLTYPE_STRING]: "string",
  [sysctlCtltype.CTLTYPE_QUAD]: "quad",
  [sysctlCtltype.CTLTYPE_STRUCT]: "struct",
  [sysctlCtltype.CTLTYPE_BOOL]: "bool"
}

export const SYSCTLNODE_SIZE = Structs.sysctlnode.size
const NAME_AT = 8
const NAME_LEN = 32
const decoder = new TextDecoder()

/** The struct sysctlnode CTL_QUERY must be sent: SYSCTL_VERSION in its flags, all else 0. */
export const sysctlQueryNode = (): Uint8Array => {
  const node = new Uint8Array(SYSCTLNODE_SIZE)
  viewOf(node).setUint32(0, sysctlSpecial.SYSCTL_VERSION, true)
  return node
}

/** The nodes CTL_QUERY copied out. */
export const decodeSysctlNodes = (bytes: Uint8Array): Array<SysctlNodeInfo> => {
  const view = viewOf(bytes)
  const nodes: Array<SysctlNodeInfo> = []
  for (let at = 0; at + SYSCTLNODE_SIZE <= bytes.byteLength; at += SYSCTLNODE_SIZE) {
    const flags = view.getUint32(at, true)
    const name = bytes.subarray(at + NAME_AT, at + NAME_AT + NAME_LEN)
    const nul = name.indexOf(0)
    nodes.push({
      name: decoder.decode(nul < 0 ? name : name.subarray(0, nul)),
      num: view.getInt32(at + 4, true),
      type: TYPES[flags & sysctlSpecial.SYSCTL_TYPEMASK],
      flags: flags & sysctlSpecial.SYSCTL_FLAGMASK,
      size: Number(view.getBigUint64(at + 64, true)),
      ver: view.getUint32(at + 40, true),
      clen: view.getUint32(at + 52, true)
    })
  }
  return nodes
}

/** A node that answers for every non-negative number (proc.curproc). */
export const isAnyNumber = (node: SysctlNodeInfo): boolean => (node.flags & sysctlCtlflag.CTLFLAG_ANYNUMBER) !== 0

/** The components of a name, split at its separator ("." or "/", whichever comes first). */
export const sysctlNameParts = (name: string): Array<string> => {
  const sep = /[./]/.exec(name)?.[0] ?? "."
  return name.split(sep)
}

const MAX_COMPONENT = 0x7fff_ffff

/** A component written as a number (an int). */
export const sysctlNumber = (component: string): number | undefined => {
  if (!/^-?\d+$/.test(component)) return undefined
  const n = Number(component)
  return Number.isSafeInteger(n) && n >= -MAX_COMPONENT - 1 && n <= MAX_COMPONENT ? n : undefined
}

const LEVELS = ["top", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth", "eleventh", "twelfth"]

/** sysctl(8)'s words for a name it cannot resolve: "second level name 'nosuch' in 'kern.nosuch' is invalid". */
export const sysctlNameError = (level: number, component: string, name: string): string =>
  `${LEVELS[level] ?? `level ${level + 1}`} level name '${component}' in '${name}' is invalid`
