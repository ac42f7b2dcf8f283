/**
 * sysctl_dispatch: where a name leads. A node with its own function gets
 * the request whatever follows it; a node reached exactly is looked up; a
 * name ending one past the last node found in a negative number is a
 * meta-operation on that node (CTL_QUERY, CTL_DESCRIBE, CTL_CREATE,
 * CTL_DESTROY, CTL_MMAP; any other EOPNOTSUPP); otherwise the walk's
 * error (ENOENT, ENOTDIR).
 */
import { Errno, sysctlSpecial } from "@sysproxy/protocol/netbsd"
import type { Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { lookup } from "./Lookup.ts"
import { create, describe, destroy, mmap, query } from "./Meta.ts"
import { CTLFLAG_PRIVATE, type Located, locate, type SysctlNode } from "./Node.ts"
import { callerIsRoot, type SysctlRequest } from "./Request.ts"

const { CTL_QUERY, CTL_DESCRIBE, CTL_CREATE, CTL_DESTROY, CTL_MMAP } = sysctlSpecial

const metaOperation = (
  op: number,
  req: SysctlRequest,
  node: SysctlNode,
  name: Int32Array,
  at: number
): Effect.Effect<void, SysErr> => {
  switch (op) {
    case CTL_QUERY:
      return query(req, node, name, at)
    case CTL_DESCRIBE:
      return describe(req, node, name, at)
    case CTL_CREATE:
      return req.newp === 0n ? sysErr(Errno.EINVAL) : create(req, node, name, at)
    case CTL_DESTROY:
      return req.newp === 0n ? sysErr(Errno.EINVAL) : destroy(req, node, name, at)
    case CTL_MMAP:
      return mmap(req, node, name, at)
    default:
      return sysErr(Errno.EOPNOTSUPP)
  }
}

export const dispatch = (root: SysctlNode, name: Int32Array, req: SysctlRequest): Effect.Effect<void, SysErr> => {
  const isRoot = callerIsRoot(req)
  const found = locate(root, name, isRoot, { node: root, at: 0, errno: 0 } satisfies Located)
  const { node, at, errno } = found
  if (errno === Errno.EPERM) return sysErr(errno)
  // private nodes answer the superuser only, whatever function they have
  if (errno === 0 && (node.flags & CTLFLAG_PRIVATE) !== 0 && !isRoot) return sysErr(Errno.EPERM)
  if (node.func !== undefined) return node.func(req, node, name, at)
  if (errno === 0) return lookup(req, node, name.length - at)
  const op = name[at]!
  if (errno === Errno.ENOENT && at + 1 === name.length && op < 0) return metaOperation(op, req, node, name, at)
  return sysErr(errno)
}
