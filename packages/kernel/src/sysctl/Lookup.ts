/**
 * sysctl_lookup: the old value out, then the new value in, with NetBSD's
 * rules: EINVAL for a node or a name running on, EPERM for a private node
 * or a write by anyone but the superuser (unless CTLFLAG_ANYWRITE) or to a
 * read-only node; the old value copied up to the buffer's size and its
 * whole length reported; numbers and structs written in exactly their
 * size, strings up to the node's size and with their NUL if they fill it,
 * a bool only 0 or 1.
 */
import { allocBytes, viewOf } from "@sysproxy/protocol"
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { copyin, copyout } from "../kern/SyscallContext.ts"
import {
  CTLFLAG_ANYWRITE,
  CTLFLAG_IMMEDIATE,
  CTLFLAG_PRIVATE,
  CTLFLAG_READWRITE,
  CTLTYPE_BOOL,
  CTLTYPE_INT,
  CTLTYPE_NODE,
  CTLTYPE_QUAD,
  CTLTYPE_STRING,
  type SysctlData,
  SysctlNode
} from "./Node.ts"
import { callerIsRoot, requireWriter, type SysctlRequest } from "./Request.ts"

/** A CTLFLAG_IMMEDIATE value as its bytes (int 4, quad 8, bool 1). */
export const immediateBytes = (node: SysctlNode): Uint8Array => {
  const bytes = allocBytes(node.size)
  const view = viewOf(bytes)
  if (node.type === CTLTYPE_QUAD) view.setBigUint64(bytes.byteOffset, BigInt.asUintN(64, node.imm), true)
  else if (node.type === CTLTYPE_BOOL) bytes[0] = Number(node.imm)
  else view.setInt32(bytes.byteOffset, Number(BigInt.asIntN(32, node.imm)), true)
  return bytes
}

/** The node's value now, and its length as sysctl_lookup reports it (a string: up to its NUL, counted). */
const currentValue = (req: SysctlRequest, node: SysctlNode): Uint8Array => {
  const value = (node.flags & CTLFLAG_IMMEDIATE) !== 0
    ? immediateBytes(node)
    : node.data?.get(req.ctx) ?? new Uint8Array(0)
  if (node.type !== CTLTYPE_STRING) return value
  const nul = value.indexOf(0)
  return nul < 0 ? value : value.subarray(0, nul + 1)
}

const storeImmediate = (node: SysctlNode, value: Uint8Array): void => {
  const view = viewOf(value)
  if (node.type === CTLTYPE_QUAD) node.imm = view.getBigUint64(value.byteOffset, true)
  else if (node.type === CTLTYPE_BOOL) node.imm = BigInt(value[0] ?? 0)
  else node.imm = BigInt(view.getInt32(value.byteOffset, true))
}

/** The new value, checked as sysctl_lookup checks it. */
const newValue: (req: SysctlRequest, node: SysctlNode) => Effect.Effect<Uint8Array, SysErr> = Effect.fnUntraced(
  function*(req, node) {
    const size = BigInt(node.size)
    if (node.type !== CTLTYPE_STRING) {
      if (req.newlen !== size) return yield* sysErr(Errno.EINVAL)
      const bytes = yield* copyin(req.ctx, req.newp, node.size)
      if (node.type === CTLTYPE_BOOL && bytes[0]! > 1) return yield* sysErr(Errno.EINVAL)
      return bytes
    }
    if (req.newlen > size) return yield* sysErr(Errno.EINVAL)
    const bytes = yield* copyin(req.ctx, req.newp, Number(req.newlen))
    // a string filling the whole buffer must bring its own NUL
    if (bytes[bytes.byteLength - 1] !== 0 && req.newlen === size) return yield* sysErr(Errno.EINVAL)
    const nul = bytes.indexOf(0)
    return nul < 0 ? bytes : bytes.subarray(0, nul)
  })

export const lookup: (req: SysctlRequest, node: SysctlNode, rest: number) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(req, node, rest) {
    const writing = req.newp !== 0n && req.newlen !== 0n
    // you can't "look up" a node; you can "query" it
    if (node.type === CTLTYPE_NODE || rest !== 0) return yield* sysErr(Errno.EINVAL)
    if ((node.flags & CTLFLAG_PRIVATE) !== 0 && !callerIsRoot(req)) return yield* sysErr(Errno.EPERM)
    if (writing && (node.flags & CTLFLAG_ANYWRITE) === 0) yield* requireWriter(req)
    if (writing && (node.flags & CTLFLAG_READWRITE) === 0) return yield* sysErr(Errno.EPERM)
    const value = currentValue(req, node)
    if (req.oldp !== 0n) {
      const n = req.oldlen < BigInt(value.byteLength) ? Number(req.oldlen) : value.byteLength
      yield* copyout(req.ctx, req.oldp, n === value.byteLength ? value : value.subarray(0, n))
    }
    req.oldlen = BigInt(value.byteLength)
    if (!writing) return
    const bytes = yield* newValue(req, node)
    if ((node.flags & CTLFLAG_IMMEDIATE) !== 0) return storeImmediate(node, bytes)
    const refused = node.data?.set?.(req.ctx, bytes)
    if (typeof refused === "number" && refused !== 0) return yield* sysErr(refused)
  })

/**
 * The function of a node that computes its value (or checks a new one) and
 * then does what sysctl_lookup does: unlike a plain value, a name running
 * past it is EINVAL, not ENOTDIR.
 */
export const viaLookup = (req: SysctlRequest, node: SysctlNode, name: Int32Array, at: number) =>
  lookup(req, node, name.length - at)

/**
 * sysctl_lookup on a copy of the node pointing at a value worked out for
 * this request (NetBSD's `node = *rnode; node.sysctl_data = &v`), of the
 * node's size unless given another.
 */
export const lookupValue = (
  req: SysctlRequest,
  node: SysctlNode,
  rest: number,
  data: SysctlData,
  size: number = node.size
): Effect.Effect<void, SysErr> => lookup(req, new SysctlNode(node.flags, node.num, node.name, size, data, undefined), rest)
