/**
 * The sysctl tree as NetBSD keeps it (kern_sysctl.c): nodes with a flags
 * word (SYSCTL_VERSION | flags | type), a number, a name, a size and a
 * version; children kept in number order and indexed by number; a root
 * whose number is the counter CTL_CREATE draws dynamic numbers from.
 */
import { Errno, sysctlCtlflag, sysctlCtltype, sysctlSpecial } from "@sysproxy/protocol/netbsd"
import type { Effect } from "effect"
import type { SysErr } from "../kern/SysErr.ts"
import type { SyscallContext } from "../kern/SyscallContext.ts"
import type { SysctlRequest } from "./Request.ts"

export const { SYSCTL_VERSION, SYSCTL_TYPEMASK, SYSCTL_FLAGMASK, CREATE_BASE } = sysctlSpecial
export const { CTLTYPE_NODE, CTLTYPE_INT, CTLTYPE_STRING, CTLTYPE_QUAD, CTLTYPE_STRUCT, CTLTYPE_BOOL } = sysctlCtltype
export const {
  CTLFLAG_READWRITE,
  CTLFLAG_ANYWRITE,
  CTLFLAG_PRIVATE,
  CTLFLAG_PERMANENT,
  CTLFLAG_OWNDATA,
  CTLFLAG_IMMEDIATE,
  CTLFLAG_ROOT,
  CTLFLAG_ANYNUMBER,
  CTLFLAG_OWNDESC
} = sysctlCtlflag

/** sizeof(struct sysctlnode) on amd64. */
export const SYSCTLNODE_SIZE = 96
/** Children a node's array starts with (SYSCTL_DEFSIZE); one for a CTLFLAG_ANYNUMBER child. */
const DEFSIZE = 8

export const typeOf = (flags: number): number => flags & SYSCTL_TYPEMASK
export const flagsOf = (flags: number): number => flags & SYSCTL_FLAGMASK
export const versionOf = (flags: number): number => (flags & sysctlSpecial.SYSCTL_VERS_MASK) >>> 0

/**
 * A node's own function (sysctl_func): called with the whole name and the
 * index of the first component past the node, for every request that ends
 * at the node or runs past it. It answers CTL_QUERY itself if it wants to.
 */
export type SysctlFunc = (
  req: SysctlRequest,
  node: SysctlNode,
  name: Int32Array,
  at: number
) => Effect.Effect<void, SysErr>

/**
 * Where a leaf's value lives (the C node's sysctl_data): read whole (a
 * string with its NUL), and, for a writable node, stored whole once
 * sysctl_lookup has checked the new value's size. A store returning an
 * errno refuses the value and leaves the old one.
 */
export interface SysctlData {
  readonly get: (ctx: SyscallContext) => Uint8Array
  readonly set?: (ctx: SyscallContext, value: Uint8Array) => number | void
}

export class SysctlNode {
  flags: number
  num: number
  readonly name: string
  size: number
  ver = 0
  parent: SysctlNode | undefined = undefined
  desc: string | undefined = undefined
  /** Children in number order, and by number. */
  readonly children: Array<SysctlNode> = []
  readonly byNum = new Map<number, SysctlNode>()
  /** The child array's capacity (sysctl_csize), as NetBSD grows it. */
  csize = 0
  /** A CTLFLAG_IMMEDIATE value (idata, qdata or bdata). */
  imm = 0n
  readonly data: SysctlData | undefined
  readonly func: SysctlFunc | undefined

  constructor(
    flags: number,
    num: number,
    name: string,
    size: number,
    data: SysctlData | undefined,
    func: SysctlFunc | undefined
  ) {
    this.flags = flags
    this.num = num
    this.name = name
    this.size = size
    this.data = data
    this.func = func
  }

  get type(): number {
    return typeOf(this.flags)
  }

  /** The first child, when it takes any non-negative number (proc.curproc). */
  get anyNumber(): SysctlNode | undefined {
    const first = this.children[0]
    return first !== undefined && (first.flags & CTLFLAG_ANYNUMBER) !== 0 ? first : undefined
  }

  child(num: number): SysctlNode | undefined {
    return num >= 0 ? this.anyNumber ?? this.byNum.get(num) : this.byNum.get(num)
  }
}

export const rootOf = (node: SysctlNode): SysctlNode => {
  let at = node
  while (at.parent !== undefined) at = at.parent
  return at
}

/** The tree's root ("(root)"): read-write, its number the dynamic counter once booted. */
export const makeRoot = (): SysctlNode => {
  const root = new SysctlNode(
    SYSCTL_VERSION | CTLFLAG_ROOT | CTLFLAG_READWRITE | CTLTYPE_NODE,
    CREATE_BASE,
    "(root)",
    SYSCTLNODE_SIZE,
    undefined,
    undefined
  )
  return root
}

/** A new version for `node` and every node above it: one past the root's (after a create or a destroy). */
export const bumpVersions = (node: SysctlNode | undefined, root: SysctlNode): void => {
  const ver = root.ver + 1
  for (let at = node; at !== undefined; at = at.parent) at.ver = ver
}

/** The number CTL_CREATE gives a new child of `parent`: the next of the root's counter not taken there. */
export const dynamicNumber = (parent: SysctlNode, root: SysctlNode): number => {
  let num = ++root.num
  while (parent.byNum.has(num)) num++
  return num
}

/** Adds `node` under `parent` in number order, growing the child array as NetBSD does. */
export const attach = (parent: SysctlNode, node: SysctlNode): void => {
  if (parent.csize === 0) parent.csize = (node.flags & CTLFLAG_ANYNUMBER) !== 0 ? 1 : DEFSIZE
  else if (parent.children.length === parent.csize) parent.csize *= 2
  let at = parent.children.length
  while (at > 0 && parent.children[at - 1]!.num > node.num) at--
  parent.children.splice(at, 0, node)
  parent.byNum.set(node.num, node)
  node.parent = parent
  bumpVersions(node, rootOf(parent))
}

/** Removes `node` from its parent (whose child array goes when it empties). */
export const detach = (node: SysctlNode): void => {
  const parent = node.parent
  if (parent === undefined) return
  parent.children.splice(parent.children.indexOf(node), 1)
  parent.byNum.delete(node.num)
  if (parent.children.length === 0) parent.csize = 0
  bumpVersions(parent, rootOf(parent))
}

/** What sysctl_locate found: the deepest node reached, how many components it took, and the error. */
export interface Located {
  node: SysctlNode
  at: number
  errno: number
}

/**
 * sysctl_locate: walks `name` from `root`. ENOENT for a number a node does
 * not have (or any number under a node without children), ENOTDIR for a
 * name running past a value; `node` is then where the walk stopped. A
 * private node is traversed by the superuser only (EPERM).
 */
export const locate = (root: SysctlNode, name: Int32Array, isRoot: boolean, out: Located): Located => {
  let pnode = root
  out.errno = 0
  let ni = 0
  for (; ni < name.length; ni++) {
    if (pnode.children.length === 0) {
      out.errno = pnode.type === CTLTYPE_NODE ? Errno.ENOENT : Errno.ENOTDIR
      break
    }
    if ((pnode.flags & CTLFLAG_PRIVATE) !== 0 && !isRoot) {
      out.errno = Errno.EPERM
      break
    }
    const next = pnode.child(name[ni]!)
    if (next === undefined) {
      out.errno = Errno.ENOENT
      break
    }
    pnode = next
  }
  out.node = pnode
  out.at = ni
  return out
}
