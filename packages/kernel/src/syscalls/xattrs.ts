/**
 * The extended attribute calls, as vfs_xattr.c has them: the BSD
 * extattr_* family and the Linux-style *xattr family. Each copies the
 * attribute name in first (ENAMETOOLONG past NAME_MAX), then finds the
 * node (path followed or not, or descriptor: EBADF, EINVAL for a pipe),
 * rejects a buffer length past INT_MAX (EINVAL), then asks the file system
 * (vfs/Extattr.ts). The *xattr calls answer ENOTSUP where the file system
 * says EOPNOTSUPP (XATTR_ERRNO); a setxattr with XATTR_CREATE or
 * XATTR_REPLACE asks for the attribute first.
 */
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { copyinPath, copyinString, type SyscallContext } from "../kern/SyscallContext.ts"
import { AT_FDCWD, fileNode, nodeAt } from "../vfs/At.ts"
import { extattr, extattrctl as fsExtattrctl, type ExtattrOp } from "../vfs/Extattr.ts"
import type { Vnode } from "../vfs/Vnode.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

/** EXTATTR_MAXNAMELEN and XATTR_NAME_MAX: NAME_MAX, the buffer the name is copied into, its NUL included. */
const ATTR_NAME_BUF = 511
const INT_MAX = 0x7fff_ffffn

/** How a call names its node: a path (followed or not) or a descriptor. */
type Target = "file" | "link" | "fd"

/** copyinstr of an attribute name: ENAMETOOLONG without a NUL in the buffer. */
const attrName = (ctx: SyscallContext, addr: bigint): Effect.Effect<void, SysErr> =>
  Effect.asVoid(copyinString(ctx, addr, ATTR_NAME_BUF))

const nodeOf = (ctx: SyscallContext, target: Target, slot: number): Effect.Effect<Vnode, SysErr> =>
  target === "fd"
    ? Effect.map(fileNode(ctx, ctx.args.int(slot)), ({ node }) => node)
    : Effect.flatMap(copyinPath(ctx, ctx.args.ptr(slot)), (p) =>
      ctx.kernel.vfs.exclusive(nodeAt(ctx, AT_FDCWD, p, target === "file")))

/** nbytes > INT_MAX with a buffer is EINVAL before the file system is asked. */
const length = (data: bigint, nbytes: bigint): Effect.Effect<void, SysErr> =>
  data !== 0n && nbytes > INT_MAX ? sysErr(Errno.EINVAL) : Effect.void

/** XATTR_ERRNO: the Linux calls say ENOTSUP for EOPNOTSUPP. */
const xattrErrno = <A>(effect: Effect.Effect<A, SysErr>): Effect.Effect<A, SysErr> =>
  Effect.catchIf(effect, (e) => e.errno === Errno.EOPNOTSUPP, () => sysErr(Errno.ENOTSUP))

/** extattr_{set,get,delete}_*(x, attrnamespace, attrname[, data, nbytes]) */
const extattrNamed = (target: Target, op: Exclude<ExtattrOp, "list">): SyscallImpl => Effect.fnUntraced(
  function*(ctx) {
    yield* attrName(ctx, ctx.args.ptr(2))
    const node = yield* nodeOf(ctx, target, 0)
    if (op === "get") yield* length(ctx.args.ptr(3), ctx.args.ulong(4))
    if (op === "set") yield* length(1n, ctx.args.ulong(4))
    return yield* extattr(node, op)
  })

/** extattr_list_*(x, attrnamespace, data, nbytes) */
const extattrList = (target: Target): SyscallImpl => Effect.fnUntraced(
  function*(ctx) {
    const node = yield* nodeOf(ctx, target, 0)
    yield* length(ctx.args.ptr(2), ctx.args.ulong(3))
    return yield* extattr(node, "list")
  })

/** extattrctl(path, cmd, filename, attrnamespace, attrname) */
const extattrctl: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    if (ctx.args.ptr(4) !== 0n) yield* attrName(ctx, ctx.args.ptr(4))
    const node = yield* nodeOf(ctx, "file", 0)
    if (ctx.args.ptr(2) !== 0n) {
      const p = yield* copyinPath(ctx, ctx.args.ptr(2))
      yield* ctx.kernel.vfs.exclusive(nodeAt(ctx, AT_FDCWD, p, true))
    }
    return yield* fsExtattrctl(node)
  })

/** setxattr, lsetxattr, fsetxattr(x, name, value, size, flags) */
const setxattr = (target: Target): SyscallImpl => Effect.fnUntraced(
  function*(ctx) {
    yield* attrName(ctx, ctx.args.ptr(1))
    const node = yield* nodeOf(ctx, target, 0)
    // XATTR_CREATE/XATTR_REPLACE look the attribute up first, and stop at the file system's answer
    if (ctx.args.int(4) !== 0) return yield* extattr(node, "get")
    yield* length(1n, ctx.args.ulong(3))
    return yield* extattr(node, "set")
  },
  xattrErrno
)

/** getxattr, lgetxattr, fgetxattr(x, name, value, size) */
const getxattr = (target: Target): SyscallImpl => Effect.fnUntraced(
  function*(ctx) {
    yield* attrName(ctx, ctx.args.ptr(1))
    const node = yield* nodeOf(ctx, target, 0)
    yield* length(ctx.args.ptr(2), ctx.args.ulong(3))
    return yield* extattr(node, "get")
  },
  xattrErrno
)

/** listxattr, llistxattr, flistxattr(x, list, size): the user namespace's list first */
const listxattr = (target: Target): SyscallImpl => Effect.fnUntraced(
  function*(ctx) {
    const node = yield* nodeOf(ctx, target, 0)
    yield* length(ctx.args.ptr(1), ctx.args.ulong(2))
    return yield* extattr(node, "list")
  },
  xattrErrno
)

/** removexattr, lremovexattr, fremovexattr(x, name) */
const removexattr = (target: Target): SyscallImpl => Effect.fnUntraced(
  function*(ctx) {
    yield* attrName(ctx, ctx.args.ptr(1))
    const node = yield* nodeOf(ctx, target, 0)
    return yield* extattr(node, "delete")
  },
  xattrErrno
)

export const family: SyscallFamily = [
  [SYS.extattrctl, extattrctl],
  [SYS.extattr_set_file, extattrNamed("file", "set")],
  [SYS.extattr_get_file, extattrNamed("file", "get")],
  [SYS.extattr_delete_file, extattrNamed("file", "delete")],
  [SYS.extattr_set_fd, extattrNamed("fd", "set")],
  [SYS.extattr_get_fd, extattrNamed("fd", "get")],
  [SYS.extattr_delete_fd, extattrNamed("fd", "delete")],
  [SYS.extattr_set_link, extattrNamed("link", "set")],
  [SYS.extattr_get_link, extattrNamed("link", "get")],
  [SYS.extattr_delete_link, extattrNamed("link", "delete")],
  [SYS.extattr_list_fd, extattrList("fd")],
  [SYS.extattr_list_file, extattrList("file")],
  [SYS.extattr_list_link, extattrList("link")],
  [SYS.setxattr, setxattr("file")],
  [SYS.lsetxattr, setxattr("link")],
  [SYS.fsetxattr, setxattr("fd")],
  [SYS.getxattr, getxattr("file")],
  [SYS.lgetxattr, getxattr("link")],
  [SYS.fgetxattr, getxattr("fd")],
  [SYS.listxattr, listxattr("file")],
  [SYS.llistxattr, listxattr("link")],
  [SYS.flistxattr, listxattr("fd")],
  [SYS.removexattr, removexattr("file")],
  [SYS.lremovexattr, removexattr("link")],
  [SYS.fremovexattr, removexattr("fd")]
]
