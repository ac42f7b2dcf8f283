/**
 * The sysctl tree and NetBSD's walk through it (sysctl_locate,
 * sysctl_dispatch, sysctl_lookup). A request carries *oldlenp the way the
 * C code does: handlers read it as the buffer size and leave in it the
 * length to report, which the syscall writes back even when they fail.
 */
import { allocBytes, viewOf } from "@sysproxy/protocol"
import { Effect } from "effect"
import { Errno, sysctlCtltype } from "@sysproxy/protocol/netbsd"
import { sysErr, type SysErr } from "../../kern/SysErr.ts"
import { copyin, copyout, type SyscallContext } from "../../kern/SyscallContext.ts"

export interface SysctlRequest {
  readonly ctx: SyscallContext
  /** Where the old value goes (0: the caller only asks for its size). */
  readonly oldp: bigint
  /** In: the caller's buffer size. Out: the length to report. */
  oldlen: bigint
  readonly newp: bigint
  readonly newlen: bigint
}

/** A value: read whole, written whole (numbers, structs) or up to `size` bytes (strings). */
export interface Leaf {
  readonly _tag: "Leaf"
  readonly type: number
  /** CTLTYPE_STRING: the most bytes a new value may have, NUL included; others: the value's size. */
  readonly size: number
  readonly read: (ctx: SyscallContext) => Uint8Array
  /** Absent: read-only (a new value is EPERM). */
  readonly write?: (ctx: SyscallContext, value: Uint8Array) => void
}

/** A node with its own function, given the name components after it (kern.proc2). */
export interface Handler {
  readonly _tag: "Handler"
  readonly run: (req: SysctlRequest, rest: ReadonlyArray<number>) => Effect.Effect<void, SysErr>
}

export interface Node {
  readonly _tag: "Node"
  readonly children: ReadonlyMap<number, SysctlNode>
}

export type SysctlNode = Leaf | Handler | Node

export const node = (children: ReadonlyArray<readonly [number, SysctlNode]>): Node => ({
  _tag: "Node",
  children: new Map(children)
})

const encoder = new TextEncoder()

/** A string value as sysctl reports it: the bytes and their NUL. */
export const cString = (s: string): Uint8Array => {
  const utf8 = encoder.encode(s)
  const bytes = new Uint8Array(utf8.byteLength + 1)
  bytes.set(utf8)
  return bytes
}

export const stringLeaf = (read: (ctx: SyscallContext) => string, size = 0, write?: (ctx: SyscallContext, s: string) => void): Leaf => ({
  _tag: "Leaf",
  type: sysctlCtltype.CTLTYPE_STRING,
  size,
  read: (ctx) => cString(read(ctx)),
  ...(write === undefined ? {} : { write: (ctx, value) => write(ctx, new TextDecoder().decode(value)) })
})

export const intLeaf = (read: (ctx: SyscallContext) => number): Leaf => ({
  _tag: "Leaf",
  type: sysctlCtltype.CTLTYPE_INT,
  size: 4,
  read: (ctx) => {
    const bytes = allocBytes(4)
    viewOf(bytes).setInt32(bytes.byteOffset, read(ctx), true)
    return bytes
  }
})

export const quadLeaf = (read: (ctx: SyscallContext) => bigint): Leaf => ({
  _tag: "Leaf",
  type: sysctlCtltype.CTLTYPE_QUAD,
  size: 8,
  read: (ctx) => {
    const bytes = allocBytes(8)
    viewOf(bytes).setBigInt64(bytes.byteOffset, BigInt.asIntN(64, read(ctx)), true)
    return bytes
  }
})

export const structLeaf = (size: number, read: (ctx: SyscallContext) => Uint8Array): Leaf => ({
  _tag: "Leaf",
  type: sysctlCtltype.CTLTYPE_STRUCT,
  size,
  read
})

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b)

/** The new value a write brings, checked as sysctl_lookup checks it. */
const newValue = (leaf: Leaf, req: SysctlRequest): Effect.Effect<Uint8Array, SysErr> =>
  Effect.gen(function*() {
    const size = BigInt(leaf.size)
    if (leaf.type !== sysctlCtltype.CTLTYPE_STRING) {
      // numbers and structs come in exactly their size
      if (req.newlen !== size) return yield* sysErr(Errno.EINVAL)
      return yield* copyin(req.ctx, req.newp, leaf.size)
    }
    if (req.newlen > size) return yield* sysErr(Errno.EINVAL)
    const bytes = yield* copyin(req.ctx, req.newp, Number(req.newlen))
    const nul = bytes.indexOf(0)
    // a string filling the whole buffer must bring its own NUL
    if (nul < 0 && req.newlen === size) return yield* sysErr(Errno.EINVAL)
    return nul < 0 ? bytes : bytes.subarray(0, nul)
  })

/**
 * sysctl_lookup: EPERM for a new value to a read-only node; the old value
 * is copied out up to the buffer's size and its full length reported; then
 * the new value, if any, replaces it.
 */
const lookup: (leaf: Leaf, req: SysctlRequest) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(leaf: Leaf, req: SysctlRequest) {
    if (req.newp !== 0n && leaf.write === undefined) return yield* sysErr(Errno.EPERM)
    const value = leaf.read(req.ctx)
    if (req.oldp !== 0n) yield* copyout(req.ctx, req.oldp, value.subarray(0, Number(min(BigInt(value.byteLength), req.oldlen))))
    req.oldlen = BigInt(value.byteLength)
    if (req.newp === 0n || req.newlen === 0n || leaf.write === undefined) return
    leaf.write(req.ctx, yield* newValue(leaf, req))
  })

/**
 * Walks `name` from `root`: ENOENT for a component that is not there
 * (EOPNOTSUPP for a trailing CTL_QUERY, CTL_CREATE ... meta-operation,
 * none of which is implemented), ENOTDIR for a name running past a value,
 * EINVAL for a name ending on an inner node (which cannot be "looked up").
 */
export const dispatch = (root: SysctlNode, name: ReadonlyArray<number>, req: SysctlRequest): Effect.Effect<void, SysErr> => {
  let at: SysctlNode = root
  for (let i = 0; i < name.length; i++) {
    if (at._tag === "Handler") return at.run(req, name.slice(i))
    if (at._tag === "Leaf") return sysErr(Errno.ENOTDIR)
    const component = name[i] ?? 0
    const next = at.children.get(component)
    if (next === undefined) return sysErr(i === name.length - 1 && component < 0 ? Errno.EOPNOTSUPP : Errno.ENOENT)
    at = next
  }
  if (at._tag === "Handler") return at.run(req, [])
  if (at._tag === "Leaf") return lookup(at, req)
  return sysErr(Errno.EINVAL)
}
