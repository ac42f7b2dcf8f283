/**
 * The meta-operations a name may end in (sysctl_query, sysctl_describe,
 * sysctl_create, sysctl_destroy, sysctl_mmap), on the node before them.
 */
import { Errno, sysctlSpecial } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { SysErr, sysErr } from "../kern/SysErr.ts"
import { copyin, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import {
  attach,
  CTLFLAG_ANYNUMBER,
  CTLFLAG_IMMEDIATE,
  CTLFLAG_OWNDATA,
  CTLFLAG_OWNDESC,
  CTLFLAG_PERMANENT,
  CTLFLAG_PRIVATE,
  CTLFLAG_READWRITE,
  CTLTYPE_BOOL,
  CTLTYPE_INT,
  CTLTYPE_NODE,
  CTLTYPE_QUAD,
  CTLTYPE_STRING,
  CTLTYPE_STRUCT,
  detach,
  dynamicNumber,
  flagsOf,
  rootOf,
  SYSCTL_VERSION,
  type SysctlData,
  type SysctlFunc,
  SysctlNode,
  SYSCTLNODE_SIZE,
  typeOf
} from "./Node.ts"
import { descRecord, NAMELEN, type NodeIn, nodeBytes, nodeIn } from "./NodeCodec.ts"
import { callerIsRoot, requireWriter, type SysctlRequest } from "./Request.ts"

const { CTL_QUERY, CTL_DESCRIBE, CTL_CREATE, CTL_DESTROY, SYSCTL_USERFLAGS } = sysctlSpecial
const NODE_SIZE = BigInt(SYSCTLNODE_SIZE)
/** The longest description (MAXDESCLEN), header included. */
const MAXDESCLEN = 1024
const PAGE_SIZE = 4096
/** How far a string CTL_CREATE measures (32 pages) before ERANGE. */
const MAX_STRING = 32 * PAGE_SIZE

const encoder = new TextEncoder()

/** copyinstr with a fault as its errno: through the NUL, or `max` bytes without one. */
const copyinstr = (ctx: SyscallContext, addr: bigint, max: number): Effect.Effect<Uint8Array, SysErr> =>
  Effect.mapError(ctx.mem.copyinstr(addr, max), (e) => new SysErr({ errno: e.errno }))

/** Whether the name past the node is exactly the one meta-operation `op`. */
const isOnly = (name: Int32Array, at: number, op: number) => name.length - at === 1 && name[at] === op

/** sysctl_cvt_out: one node to the old buffer if it fits; the length is a node's either way. */
const nodeOut = (req: SysctlRequest, node: SysctlNode): Effect.Effect<void, SysErr> => {
  const fits = req.oldp !== 0n && req.oldlen >= NODE_SIZE
  req.oldlen = NODE_SIZE
  return fits ? copyout(req.ctx, req.oldp, nodeBytes([node])) : Effect.void
}

/**
 * CTL_QUERY: the node's children as struct sysctlnode, as many whole ones
 * as fit (the length reported is all of them). The request must bring a
 * SYSCTL_VERSION node; a version in it must be the node's or the root's.
 */
export const query: SysctlFunc = Effect.fnUntraced(
  function*(req, node, name, at) {
    if (node.type !== CTLTYPE_NODE) return yield* sysErr(Errno.ENOTDIR)
    if (!isOnly(name, at, CTL_QUERY)) return yield* sysErr(Errno.EINVAL)
    const q = yield* nodeIn(req)
    if (q.ver !== 0 && q.ver !== node.ver && q.ver !== rootOf(node).ver) return yield* sysErr(Errno.EINVAL)
    const all = node.children
    const room = req.oldp === 0n ? 0 : Number(req.oldlen / NODE_SIZE)
    if (room > 0 && all.length > 0) {
      yield* copyout(req.ctx, req.oldp, nodeBytes(room >= all.length ? all : all.slice(0, room)))
    }
    req.oldlen = BigInt(all.length) * NODE_SIZE
  })

/** The description a node gives out: its text, or none (a bare NUL) when it has none or it is too long. */
const descText = (node: SysctlNode): Uint8Array => {
  if (node.desc === undefined) return new Uint8Array(0)
  const text = encoder.encode(node.desc)
  return text.byteLength + 1 > MAXDESCLEN - 12 ? new Uint8Array(0) : text
}

/** copyinstr of a description: at most MAXDESCLEN bytes with the NUL (ENAMETOOLONG otherwise). */
const descriptionIn = (ctx: SyscallContext, addr: bigint): Effect.Effect<string, SysErr> =>
  Effect.flatMap(
    copyinstr(ctx, addr, MAXDESCLEN),
    (bytes) => {
      const nul = bytes.indexOf(0)
      return nul < 0 ? sysErr(Errno.ENAMETOOLONG) : Effect.succeed(new TextDecoder().decode(bytes.subarray(0, nul)))
    }
  )

/**
 * CTL_DESCRIBE: a struct sysctldesc for every child (or, with a node in
 * the request, for the one of its number: ENOENT if there is none); a node
 * bringing a description sets it on a child that has none and is not
 * permanent (the superuser only).
 */
export const describe: SysctlFunc = Effect.fnUntraced(
  function*(req, node, name, at) {
    if (node.type !== CTLTYPE_NODE) return yield* sysErr(Errno.ENOTDIR)
    if (!isOnly(name, at, CTL_DESCRIBE)) return yield* sysErr(Errno.EINVAL)
    let only: NodeIn | undefined
    if (req.newp !== 0n) {
      only = yield* nodeIn(req)
      if (only.desc !== 0n) {
        yield* requireWriter(req)
        const target = node.byNum.get(only.num)
        if (target === undefined) return yield* sysErr(Errno.ENOENT)
        if (only.ver !== 0 && only.ver !== target.ver) return yield* sysErr(Errno.EINVAL)
        if ((target.flags & CTLFLAG_PERMANENT) !== 0 || target.desc !== undefined) return yield* sysErr(Errno.EPERM)
        target.desc = yield* descriptionIn(req.ctx, only.desc)
        target.flags |= CTLFLAG_OWNDESC
      }
    }
    const isRoot = callerIsRoot(req)
    const records: Array<Uint8Array> = []
    let total = 0n
    let left = req.oldp === 0n ? 0n : req.oldlen
    for (const child of node.children) {
      if (only !== undefined && child.num !== only.num) continue
      // private nodes are not described to others
      if ((child.flags & CTLFLAG_PRIVATE) !== 0 && !isRoot) continue
      const record = descRecord(child, descText(child))
      const size = BigInt(record.byteLength)
      if (req.oldp !== 0n && left >= size) {
        records.push(record)
        left -= size
      }
      total += size
      if (only !== undefined) break
    }
    if (only !== undefined && total === 0n) return yield* sysErr(Errno.ENOENT)
    if (records.length > 0) yield* copyout(req.ctx, req.oldp, records.length === 1 ? records[0]! : Buffer.concat(records))
    req.oldlen = total
  })

/** A leaf whose data pointer the caller gave without CTLFLAG_OWNDATA: a user address the kernel cannot read. */
const faultingData: SysctlFunc = () => sysErr(Errno.EFAULT)

/** A copy the node owns (CTLFLAG_OWNDATA), read and written whole. */
const ownData = (initial: Uint8Array): SysctlData => {
  let bytes = initial
  return {
    get: () => bytes,
    set: (_ctx, value) => {
      const next = new Uint8Array(bytes.byteLength)
      next.set(value.subarray(0, next.byteLength))
      bytes = next
    }
  }
}

/** The length of the string at `addr` with its NUL, as sysctl_create measures it (ERANGE past 32 pages). */
const measureString: (ctx: SyscallContext, addr: bigint) => Effect.Effect<number, SysErr> = Effect.fnUntraced(
  function*(ctx, addr) {
    for (let done = 0; done < MAX_STRING; done += PAGE_SIZE) {
      const chunk = yield* copyinstr(ctx, addr + BigInt(done), PAGE_SIZE)
      const nul = chunk.indexOf(0)
      if (nul >= 0) return done + nul + 1
    }
    return yield* sysErr(Errno.ERANGE)
  })

const validName = (n: NodeIn): boolean => {
  const bytes = n.nameBytes
  const first = bytes[0]!
  if (first >= 0x30 && first <= 0x39) return false
  let len = 0
  while (len < NAMELEN && bytes[len] !== 0) {
    const c = bytes[len]!
    const ok = (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d ||
      c === 0x5f
    if (!ok) return false
    len++
  }
  return len > 0 && len < NAMELEN
}

/**
 * CTL_CREATE (from a process): a new child of a writable node, described
 * by the request's node, with the superuser's rights only and no more than
 * SYSCTL_USERFLAGS; its value owned (CTLFLAG_OWNDATA, copied in) or
 * immediate. A name or number already there is EEXIST, with that node
 * copied out. The new node is copied out.
 */
export const create: SysctlFunc = Effect.fnUntraced(
  function*(req, rnode, name, at) {
    if (!isOnly(name, at, CTL_CREATE)) return yield* sysErr(Errno.EINVAL)
    yield* requireWriter(req)
    if ((rnode.flags & CTLFLAG_READWRITE) === 0) return yield* sysErr(Errno.EPERM)
    const root = rootOf(rnode)
    if ((root.flags & CTLFLAG_PERMANENT) !== 0 && (root.flags & CTLFLAG_READWRITE) === 0) {
      return yield* sysErr(Errno.EPERM)
    }
    if (rnode.type !== CTLTYPE_NODE) return yield* sysErr(Errno.ENOTDIR)
    const n = yield* nodeIn(req)
    if (n.parent !== 0n) return yield* sysErr(Errno.EINVAL)
    if (n.num < 0 && n.num !== CTL_CREATE) return yield* sysErr(Errno.EINVAL)
    if (!validName(n)) return yield* sysErr(Errno.EINVAL)
    const type = typeOf(n.flags)
    const flags = flagsOf(n.flags)
    const first = rnode.children[0]
    if (first !== undefined && ((flags | first.flags) & CTLFLAG_ANYNUMBER) !== 0) return yield* sysErr(Errno.EINVAL)
    const clash = rnode.children.find((c) => c.num === n.num || c.name === n.name)
    if (clash !== undefined) {
      yield* Effect.ignore(nodeOut(req, clash))
      return yield* sysErr(Errno.EEXIST)
    }
    if (n.ver !== 0 && n.ver !== root.ver && n.ver !== rnode.ver) return yield* sysErr(Errno.EINVAL)
    if (n.func !== 0n) return yield* sysErr(Errno.EPERM)
    if ((flags & ~SYSCTL_USERFLAGS) !== 0) return yield* sysErr(Errno.EPERM)
    if ((flags & (CTLFLAG_OWNDATA | CTLFLAG_IMMEDIATE)) === (CTLFLAG_OWNDATA | CTLFLAG_IMMEDIATE)) {
      return yield* sysErr(Errno.EINVAL)
    }
    const immediate = (flags & CTLFLAG_IMMEDIATE) !== 0
    if (immediate && type !== CTLTYPE_INT && type !== CTLTYPE_QUAD && type !== CTLTYPE_BOOL) {
      return yield* sysErr(Errno.EINVAL)
    }
    const given = n.size
    let size: number
    switch (type) {
      case CTLTYPE_NODE:
        if (given !== 0n || n.un !== 0n || n.child !== 0n) return yield* sysErr(Errno.EINVAL)
        if ((flags & CTLFLAG_OWNDATA) !== 0) return yield* sysErr(Errno.EINVAL)
        size = SYSCTLNODE_SIZE
        break
      case CTLTYPE_INT:
      case CTLTYPE_QUAD:
      case CTLTYPE_BOOL: {
        const natural = type === CTLTYPE_INT ? 4 : type === CTLTYPE_QUAD ? 8 : 1
        if (given !== 0n && given !== BigInt(natural)) return yield* sysErr(Errno.EINVAL)
        size = natural
        break
      }
      case CTLTYPE_STRING:
        if (given !== 0n) size = Number(given)
        else if (n.un === 0n && (flags & CTLFLAG_OWNDATA) !== 0) return yield* sysErr(Errno.EINVAL)
        else size = yield* measureString(req.ctx, n.un)
        break
      case CTLTYPE_STRUCT:
        if (given === 0n) return yield* sysErr(Errno.EINVAL)
        size = Number(given)
        break
      default:
        return yield* sysErr(Errno.EINVAL)
    }
    let data: SysctlData | undefined
    let func: SysctlFunc | undefined
    if (type !== CTLTYPE_NODE && !immediate) {
      if ((flags & CTLFLAG_OWNDATA) !== 0) {
        data = ownData(n.un === 0n ? new Uint8Array(size) : new Uint8Array(yield* copyin(req.ctx, n.un, size)))
      } else if (n.un === 0n) {
        return yield* sysErr(Errno.EINVAL)
      } else {
        func = faultingData
      }
    }
    const num = n.num === CTL_CREATE ? dynamicNumber(rnode, root) : n.num
    const node = new SysctlNode(SYSCTL_VERSION | type | flags, num, n.name, size, data, func)
    if (immediate) node.imm = type === CTLTYPE_QUAD ? n.un : BigInt(type === CTLTYPE_BOOL ? n.bdata : n.idata)
    attach(rnode, node)
    yield* nodeOut(req, node)
  })

/**
 * CTL_DESTROY: removes the child of the request node's number (and name
 * and version, when given) from a writable node: the superuser only, never
 * a permanent node (EPERM), never a node with children (ENOTEMPTY). The
 * removed node is copied out.
 */
export const destroy: SysctlFunc = Effect.fnUntraced(
  function*(req, rnode, name, at) {
    if (!isOnly(name, at, CTL_DESTROY)) return yield* sysErr(Errno.EINVAL)
    yield* requireWriter(req)
    if ((rnode.flags & CTLFLAG_READWRITE) === 0) return yield* sysErr(Errno.EPERM)
    if ((rootOf(rnode).flags & CTLFLAG_READWRITE) === 0) return yield* sysErr(Errno.EPERM)
    const n = yield* nodeIn(req)
    const node = rnode.children.find((c) =>
      c.num === n.num && (n.name === "" || n.name === c.name) && (n.ver === 0 || n.ver === c.ver)
    )
    if (node === undefined) return yield* sysErr(Errno.ENOENT)
    if ((node.flags & CTLFLAG_PERMANENT) !== 0) return yield* sysErr(Errno.EPERM)
    if (node.type === CTLTYPE_NODE && node.children.length > 0) return yield* sysErr(Errno.ENOTEMPTY)
    const before = nodeBytes([node])
    detach(node)
    const fits = req.oldp !== 0n && req.oldlen >= NODE_SIZE
    req.oldlen = NODE_SIZE
    if (fits) yield* copyout(req.ctx, req.oldp, before)
  })

/** CTL_MMAP: a node of the request's number that maps itself; this kernel has none (EOPNOTSUPP). */
export const mmap: SysctlFunc = Effect.fnUntraced(
  function*(req, rnode, name, at) {
    if (req.newp === 0n || req.newlen !== NODE_SIZE) return yield* sysErr(Errno.EINVAL)
    const n = yield* nodeIn(req)
    if (name.length - at !== 1) return yield* sysErr(Errno.EOPNOTSUPP)
    if (rnode.child(n.num) === undefined) {
      return yield* sysErr(rnode.children.length === 0 && rnode.type !== CTLTYPE_NODE ? Errno.ENOTDIR : Errno.ENOENT)
    }
    return yield* sysErr(Errno.EOPNOTSUPP)
  })

