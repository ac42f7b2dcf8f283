/**
 * Nodes that code outside the kernel adds at boot (KernelConfig.sysctl),
 * the way a NetBSD subsystem creates its own: a tree of named nodes under
 * the root, each at a fixed number or the next dynamic one. A name already
 * there (kern, or a node given twice) is that node, so leaves can be added
 * under the kernel's own nodes too. Leaves are read with what `read`
 * returns; with `write`, the superuser may set them (anyone else: EPERM),
 * and `write` answering false refuses the value with EINVAL, the old one
 * staying.
 *
 * The server's own top-level node is CTL_SYSPROXY (14): the first number
 * past NetBSD's thirteen (CTL_SECURITY is 13, CTL_MAXID 14), which no
 * NetBSD release gives out, and below CREATE_BASE, so no dynamic number
 * can take it.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { createv, CTL_CREATE } from "./Create.ts"
import { intData, stringData } from "./Data.ts"
import { viaLookup } from "./Lookup.ts"
import { CTLFLAG_PERMANENT, CTLFLAG_READWRITE, CTLTYPE_INT, CTLTYPE_NODE, CTLTYPE_STRING, type SysctlNode } from "./Node.ts"

export const CTL_SYSPROXY = 14
/** The size of a string leaf given none: NUL included. */
const DEFAULT_STRING_SIZE = 256

interface Named {
  readonly name: string
  /** A fixed number; absent: the next dynamic one (CTL_CREATE). */
  readonly num?: number
}

export interface SysctlExtraDir extends Named {
  readonly children: ReadonlyArray<SysctlExtraNode>
}

export interface SysctlExtraString extends Named {
  readonly type: "string"
  /** The most bytes a value may have, its NUL included (default 256). */
  readonly size?: number
  readonly read: () => string
  readonly write?: (value: string) => boolean
}

export interface SysctlExtraInt extends Named {
  readonly type: "int"
  readonly read: () => number
  readonly write?: (value: number) => boolean
}

export type SysctlExtraNode = SysctlExtraDir | SysctlExtraString | SysctlExtraInt

const flagsFor = (write: unknown) => CTLFLAG_PERMANENT | (write === undefined ? 0 : CTLFLAG_READWRITE)

const add = (parent: SysctlNode, spec: SysctlExtraNode): void => {
  const num = spec.num ?? CTL_CREATE
  if ("children" in spec) {
    const dir = createv(parent, { name: spec.name, num, type: CTLTYPE_NODE, flags: CTLFLAG_PERMANENT })
    for (const child of spec.children) add(dir, child)
    return
  }
  if (spec.type === "string") {
    const write = spec.write
    createv(parent, {
      name: spec.name,
      num,
      type: CTLTYPE_STRING,
      flags: flagsFor(write),
      size: spec.size ?? DEFAULT_STRING_SIZE,
      data: stringData(spec.read, write === undefined ? undefined : (_ctx, s) => (write(s) ? undefined : Errno.EINVAL)),
      func: viaLookup
    })
    return
  }
  const write = spec.write
  createv(parent, {
    name: spec.name,
    num,
    type: CTLTYPE_INT,
    flags: flagsFor(write),
    data: intData(spec.read, write === undefined ? undefined : (_ctx, n) => (write(n) ? undefined : Errno.EINVAL)),
    func: viaLookup
  })
}

export const addExtraNodes = (root: SysctlNode, nodes: ReadonlyArray<SysctlExtraNode>): void => {
  for (const spec of nodes) add(root, spec)
}
