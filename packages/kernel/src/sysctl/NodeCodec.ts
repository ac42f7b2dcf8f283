/**
 * struct sysctlnode and struct sysctldesc in the caller's memory
 * (sysctl_cvt_in, sysctl_cvt_out): only SYSCTL_VERSION nodes of exactly
 * sizeof(struct sysctlnode) are taken (EINVAL otherwise). Kernel pointers
 * (child, data, func, parent, desc) go out as 0: they mean nothing to the
 * caller, and libc and sysctl(8) replace them with their own.
 */
import { allocBytes, viewOf } from "@sysproxy/protocol"
import { Errno, Structs } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { copyin } from "../kern/SyscallContext.ts"
import {
  CTLFLAG_IMMEDIATE,
  CTLTYPE_BOOL,
  CTLTYPE_NODE,
  CTLTYPE_QUAD,
  SYSCTL_VERSION,
  SYSCTLNODE_SIZE,
  type SysctlNode,
  versionOf
} from "./Node.ts"
import type { SysctlRequest } from "./Request.ts"

const field = (name: string): number => {
  const f = Structs.sysctlnode.fields.find((x) => x.name === name)
  if (f === undefined) throw new Error(`struct sysctlnode has no ${name}`)
  return f.offset
}
const FLAGS = field("sysctl_flags")
const NUM = field("sysctl_num")
const NAME = field("sysctl_name")
const VER = field("sysctl_ver")
const UNION = field("sysctl_csize")
const CLEN = field("sysctl_clen")
const CHILD = field("sysctl_child")
const SIZE = field("sysctl_size")
const FUNC = field("sysctl_func")
const PARENT = field("sysctl_parent")
const DESC = field("sysctl_desc")
export const NAMELEN = 32

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A node as CTL_QUERY and CTL_CREATE copy it out, into `out` at `at`. */
export const encodeNode = (node: SysctlNode, out: Uint8Array, at: number): void => {
  const view = viewOf(out)
  const base = out.byteOffset + at
  view.setUint32(base + FLAGS, node.flags >>> 0, true)
  view.setInt32(base + NUM, node.num, true)
  encoder.encodeInto(node.name, out.subarray(at + NAME, at + NAME + NAMELEN - 1))
  view.setUint32(base + VER, node.ver >>> 0, true)
  if (node.type === CTLTYPE_NODE) {
    view.setUint32(base + UNION, node.csize, true)
    view.setUint32(base + CLEN, node.children.length, true)
  } else if ((node.flags & CTLFLAG_IMMEDIATE) !== 0) {
    if (node.type === CTLTYPE_QUAD) view.setBigUint64(base + UNION, BigInt.asUintN(64, node.imm), true)
    else if (node.type === CTLTYPE_BOOL) out[at + UNION] = Number(node.imm)
    else view.setInt32(base + UNION, Number(BigInt.asIntN(32, node.imm)), true)
  }
  view.setBigUint64(base + SIZE, BigInt(node.size), true)
}

export const nodeBytes = (nodes: ReadonlyArray<SysctlNode>): Uint8Array => {
  const out = allocBytes(nodes.length * SYSCTLNODE_SIZE)
  nodes.forEach((n, i) => encodeNode(n, out, i * SYSCTLNODE_SIZE))
  return out
}

/** A struct sysctlnode the caller sent (the fields the kernel reads of it). */
export interface NodeIn {
  readonly flags: number
  readonly num: number
  /** The name up to its NUL; `nameBytes` the whole array. */
  readonly name: string
  readonly nameBytes: Uint8Array
  readonly ver: number
  readonly csize: number
  readonly clen: number
  /** The union's first 8 bytes: a pointer (child, data), or the immediate value. */
  readonly un: bigint
  readonly idata: number
  readonly bdata: number
  readonly child: bigint
  readonly size: bigint
  readonly func: bigint
  readonly parent: bigint
  readonly desc: bigint
}

/** sysctl_cvt_in: the request's new value as a node, EINVAL unless a SYSCTL_VERSION node of the right size. */
export const nodeIn: (req: SysctlRequest) => Effect.Effect<NodeIn, SysErr> = Effect.fnUntraced(
  function*(req) {
    if (req.newp === 0n || req.newlen < 4n) return yield* sysErr(Errno.EINVAL)
    const head = yield* copyin(req.ctx, req.newp, 4)
    const flags = viewOf(head).getUint32(head.byteOffset, true)
    if (req.newlen !== BigInt(SYSCTLNODE_SIZE) || versionOf(flags) !== SYSCTL_VERSION) return yield* sysErr(Errno.EINVAL)
    const bytes = yield* copyin(req.ctx, req.newp, SYSCTLNODE_SIZE)
    const view = viewOf(bytes)
    const b = bytes.byteOffset
    const nameBytes = bytes.subarray(NAME, NAME + NAMELEN)
    const nul = nameBytes.indexOf(0)
    return {
      flags: view.getUint32(b + FLAGS, true),
      num: view.getInt32(b + NUM, true),
      name: decoder.decode(nul < 0 ? nameBytes : nameBytes.subarray(0, nul)),
      nameBytes,
      ver: view.getUint32(b + VER, true),
      csize: view.getUint32(b + UNION, true),
      clen: view.getUint32(b + CLEN, true),
      un: view.getBigUint64(b + UNION, true),
      idata: view.getInt32(b + UNION, true),
      bdata: bytes[UNION]!,
      child: view.getBigUint64(b + CHILD, true),
      size: view.getBigUint64(b + SIZE, true),
      func: view.getBigUint64(b + FUNC, true),
      parent: view.getBigUint64(b + PARENT, true),
      desc: view.getBigUint64(b + DESC, true)
    }
  })

const DESC_HEADER = Structs.sysctldesc.size

/** The bytes of one CTL_DESCRIBE record: num, ver, len (with the NUL), the text, padded to 4. */
export const descRecord = (node: SysctlNode, text: Uint8Array): Uint8Array => {
  const len = text.byteLength + 1
  const out = allocBytes(DESC_HEADER + (((len - 1) | 3) + 1))
  const view = viewOf(out)
  view.setInt32(out.byteOffset, node.num, true)
  view.setUint32(out.byteOffset + 4, node.ver >>> 0, true)
  view.setUint32(out.byteOffset + 8, len, true)
  out.set(text, DESC_HEADER)
  return out
}
