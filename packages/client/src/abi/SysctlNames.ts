/**
 * sysctl names ("kern.hostname") as MIBs. The kernel has no CTL_QUERY
 * name lookup, so names are resolved on the client from the node table in
 * @sysproxy/protocol/netbsd (sysctlNodeNames: the fixed-number nodes of
 * kern and hw, the top level). A component may also be a number, so every
 * MIB can be written ("kern.proc2.0.0.680.4", "1.10").
 */
import { sysctlNodeNames } from "@sysproxy/protocol/netbsd"
import { Result } from "effect"

/** What a node holds, from its CTLTYPE. */
export type SysctlType = "node" | "int" | "string" | "quad" | "struct" | "bool"

export interface ResolvedSysctl {
  /** The name as written. */
  readonly name: string
  readonly mib: ReadonlyArray<number>
  /** Known for the named nodes of the table; undefined past them (numbers). */
  readonly type: SysctlType | undefined
}

const typeOf = (ctltype: string): SysctlType | undefined => {
  switch (ctltype) {
    case "CTLTYPE_NODE":
      return "node"
    case "CTLTYPE_INT":
      return "int"
    case "CTLTYPE_STRING":
      return "string"
    case "CTLTYPE_QUAD":
      return "quad"
    case "CTLTYPE_STRUCT":
      return "struct"
    case "CTLTYPE_BOOL":
      return "bool"
    default:
      return undefined
  }
}

interface Child {
  readonly name: string
  readonly mib: ReadonlyArray<number>
  readonly type: SysctlType | undefined
}

const top: ReadonlyMap<string, number> = new Map(Object.entries(sysctlNodeNames.top))

/** Second-level nodes by top-level number. */
const second: ReadonlyMap<number, ReadonlyArray<Child>> = (() => {
  const byTop = new Map<number, Array<Child>>()
  const add = (table: Readonly<Record<string, { readonly mib: ReadonlyArray<number>; readonly ctltype: string }>>) => {
    for (const [name, node] of Object.entries(table)) {
      const first = node.mib[0]
      if (first === undefined) continue
      const list = byTop.get(first) ?? []
      list.push({ name, mib: node.mib, type: typeOf(node.ctltype) })
      byTop.set(first, list)
    }
  }
  add(sysctlNodeNames.kern)
  add(sysctlNodeNames.hw)
  return byTop
})()

const topName = (n: number): string | undefined => [...top].find(([, v]) => v === n)?.[0]

const ORDINALS = ["top", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth", "ninth", "tenth"]

const MAX_COMPONENT = 0x7fff_ffff

const asNumber = (component: string): number | undefined => {
  if (!/^-?\d+$/.test(component)) return undefined
  const n = Number(component)
  return Number.isSafeInteger(n) && n >= -MAX_COMPONENT - 1 && n <= MAX_COMPONENT ? n : undefined
}

/**
 * The MIB of `name`; the failure is sysctl(8)'s wording ("second level name
 * foo in kern.foo is invalid").
 */
export const resolveSysctlName = (name: string): Result.Result<ResolvedSysctl, string> => {
  const parts = name.split(".")
  const mib: Array<number> = []
  let type: SysctlType | undefined = undefined
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!
    const invalid = () => Result.fail(`${ORDINALS[i] ?? `level ${i + 1}`} level name ${part} in ${name} is invalid`)
    const number = asNumber(part)
    if (i === 0) {
      const n = number ?? top.get(part)
      if (n === undefined) return invalid()
      mib.push(n)
      type = "node"
      continue
    }
    if (i === 1) {
      const children = second.get(mib[0]!) ?? []
      const child = number === undefined ? children.find((c) => c.name === part) : children.find((c) => c.mib[1] === number)
      if (child !== undefined) {
        mib.push(child.mib[1]!)
        type = child.type
        continue
      }
      if (number === undefined) return invalid()
      mib.push(number)
      type = undefined
      continue
    }
    if (number === undefined) return invalid()
    mib.push(number)
    type = undefined
  }
  return Result.succeed({ name, mib, type })
}

/**
 * The named children of a node, in MIB order (the top level for
 * undefined); none for a leaf. Undefined for a node whose children the
 * table does not name (kern.proc2, vm, anything past the second level):
 * without CTL_QUERY there is no asking the kernel, so they are unknown,
 * which is not the same as having none.
 */
export const sysctlChildren = (node: ResolvedSysctl | undefined): ReadonlyArray<ResolvedSysctl> | undefined => {
  if (node === undefined) {
    return [...top].sort((a, b) => a[1] - b[1]).map(([name, n]) => ({ name, mib: [n], type: "node" as const }))
  }
  if (node.type !== "node") return []
  const named = node.mib.length === 1 ? second.get(node.mib[0]!) : undefined
  if (named === undefined) return undefined
  const prefix = topName(node.mib[0]!) ?? String(node.mib[0])
  return [...named]
    .sort((a, b) => a.mib[1]! - b.mib[1]!)
    .map((c) => ({ name: `${prefix}.${c.name}`, mib: c.mib, type: c.type }))
}
