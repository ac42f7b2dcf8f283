/**
 * Making names: new regular files, directories, symlinks, sockets, fifos
 * and device nodes, and hard links to existing nodes. A new node takes the
 * caller's effective uid and, as on BSD, the directory's gid; the
 * directory's mtime and ctime mark the change. The checks are the
 * kernel's whatever the file system; a tmpfs then makes the node in memory,
 * a host file system on the host (host/HostNamespace.ts), where the host's
 * own refusals (EEXIST, ENOSPC, EDQUOT, EMLINK) are the caller's too.
 */
import { Errno, limits } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { File } from "../fd/File.ts"
import { knoteAttached } from "../kqueue/VnodeEvents.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { checkAccess, type CredHolder, VEXEC, VWRITE } from "./Access.ts"
import { checkReadOnly, markChanged, markModified } from "./Attributes.ts"
import { checkChangeable } from "./Flags.ts"
import { openHostCreated } from "./host/HostFileOps.ts"
import { hostCreate, hostLink, hostMkdir, hostPlaceholder, hostSymlink, type NewAttrs } from "./host/HostNamespace.ts"
import type { HostRegular } from "./host/HostNode.ts"
import type { Lookup } from "./Namei.ts"
import { isDotName } from "./Names.ts"
import type { DeviceDriver, Directory, DirectoryNode, RegularNode, TmpfsVnode, Vnode } from "./Vnode.ts"

/** The directory a new entry goes in: EEXIST when the name is taken, ENOENT when the directory was removed. */
const directoryFor: (who: CredHolder, l: Lookup) => Effect.Effect<Directory, SysErr> = Effect.fnUntraced(
  function*(who: CredHolder, l: Lookup) {
    if (l.node !== undefined || isDotName(l.name)) return yield* sysErr(Errno.EEXIST)
    if (l.dir.removed) return yield* sysErr(Errno.ENOENT)
    yield* checkReadOnly(l.dir)
    yield* checkAccess(who, l.dir, VWRITE | VEXEC)
    return l.dir
  })

/** A new node's owner and mode in `dir`. */
const attrsIn = (who: CredHolder, dir: Directory, mode: number): NewAttrs => ({ mode, uid: who.cred.euid, gid: dir.gid })

/** A node just named in `dir`: the directory changed, and its knotes hear of it. */
const entered = <N extends Vnode>(dir: Directory, node: N): N => {
  markModified(dir)
  knoteAttached(dir, node)
  return node
}

/** A tmpfs node made in `dir` (ENOSPC when there was no room). */
const enter = <N extends TmpfsVnode>(dir: DirectoryNode, name: string, node: N | undefined): Effect.Effect<N, SysErr> =>
  Effect.suspend(() => {
    if (node === undefined) return sysErr(Errno.ENOSPC)
    dir.addEntry(name, node)
    return Effect.succeed(entered(dir, node))
  })

/** open(O_CREAT) of a missing name, or mknod of a regular file; `mode` is already masked. */
export const createRegular = (who: CredHolder, l: Lookup, mode: number): Effect.Effect<RegularNode | HostRegular, SysErr> =>
  Effect.flatMap(directoryFor(who, l), (dir): Effect.Effect<RegularNode | HostRegular, SysErr> => {
    const attrs = attrsIn(who, dir, mode)
    if (dir.fs === "tmpfs") return enter(dir, l.name, dir.mount.newRegular(attrs))
    return Effect.flatMap(hostCreate(dir, l.name, attrs, false), ({ io, node }) => Effect.as(io.close, entered(dir, node)))
  })

/**
 * open(O_CREAT) of a missing name in a host directory, in one step: the
 * file is created and opened by the same host call (the kernel file flags
 * `flag`; the creator may open what it made whatever its mode).
 */
export const createOpenHost = (who: CredHolder, l: Lookup, mode: number, flag: number, append: boolean): Effect.Effect<File, SysErr> =>
  Effect.flatMap(directoryFor(who, l), (dir) => {
    if (dir.fs !== "host") return Effect.die(new Error("createOpenHost: not a host directory"))
    return Effect.map(hostCreate(dir, l.name, attrsIn(who, dir, mode), append), ({ io, node }) => openHostCreated(entered(dir, node), io, flag))
  })

export const makeDirectory: (who: CredHolder, l: Lookup, mode: number) => Effect.Effect<Directory, SysErr> = Effect.fnUntraced(
  function*(who: CredHolder, l: Lookup, mode: number) {
    const dir = yield* directoryFor(who, l)
    if (dir.nlink >= limits.LINK_MAX) return yield* sysErr(Errno.EMLINK)
    const attrs = attrsIn(who, dir, mode)
    if (dir.fs === "host") return entered(dir, yield* hostMkdir(dir, l.name, attrs))
    const child = yield* enter(dir, l.name, dir.mount.newDirectory(attrs, dir))
    dir.nlink++
    return child
  })

export const makeSymlink: (who: CredHolder, l: Lookup, target: string, mode: number) => Effect.Effect<Vnode, SysErr> = Effect.fnUntraced(
  function*(who: CredHolder, l: Lookup, target: string, mode: number) {
    if (l.node === undefined && l.trailingSlash) return yield* sysErr(Errno.ENOENT)
    const dir = yield* directoryFor(who, l)
    const attrs = attrsIn(who, dir, mode)
    if (dir.fs === "host") return entered(dir, yield* hostSymlink(dir, l.name, target, attrs))
    return yield* enter(dir, l.name, dir.mount.newSymlink(attrs, target))
  })

/** A socket node for bind(AF_LOCAL): EADDRINUSE when the name exists; `mode` is already masked. */
export const makeSocketNode: (who: CredHolder, l: Lookup, mode: number) => Effect.Effect<Vnode, SysErr> = Effect.fnUntraced(
  function*(who: CredHolder, l: Lookup, mode: number) {
    if (l.node !== undefined) return yield* sysErr(Errno.EADDRINUSE)
    if (l.trailingSlash) return yield* sysErr(Errno.ENOENT)
    const dir = yield* directoryFor(who, l)
    const attrs = attrsIn(who, dir, mode)
    if (dir.fs === "host") return entered(dir, yield* hostPlaceholder(dir, l.name, attrs, { type: "sock" }))
    return yield* enter(dir, l.name, dir.mount.newSpecial(attrs, "sock"))
  })

/** What mknod or mkfifo makes: a fifo, or a device node with its driver. */
export type SpecialKind =
  | { readonly type: "fifo" }
  | { readonly type: "chr" | "blk"; readonly driver: DeviceDriver }

/** mknod/mkfifo: a fifo or a device node (ENOSPC when there was no room); `mode` is already masked. */
export const makeSpecial: (who: CredHolder, l: Lookup, mode: number, kind: SpecialKind) => Effect.Effect<Vnode, SysErr> = Effect.fnUntraced(
  function*(who: CredHolder, l: Lookup, mode: number, kind: SpecialKind) {
    if (l.node === undefined && l.trailingSlash) return yield* sysErr(Errno.ENOENT)
    const dir = yield* directoryFor(who, l)
    const attrs = attrsIn(who, dir, mode)
    if (dir.fs === "host") {
      const what = kind.type === "fifo" ? { type: kind.type } : { type: kind.type, rdev: kind.driver.rdev }
      return entered(dir, yield* hostPlaceholder(dir, l.name, attrs, what))
    }
    const node = kind.type === "fifo" ? dir.mount.newSpecial(attrs, "fifo") : dir.mount.newDevice(attrs, kind.driver, kind.type)
    return yield* enter(dir, l.name, node)
  })

/** link(2): a new name for `node`, which must not be a directory and must stay on its file system. */
export const makeLink: (who: CredHolder, node: Vnode, l: Lookup) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(who: CredHolder, node: Vnode, l: Lookup) {
    if (node.type === "dir") return yield* sysErr(Errno.EPERM)
    if (l.node === undefined && l.trailingSlash) return yield* sysErr(Errno.ENOENT)
    const dir = yield* directoryFor(who, l)
    if (dir.mount !== node.mount) return yield* sysErr(Errno.EXDEV)
    // an unlinked file still open cannot be given a name again
    if (node.nlink === 0) return yield* sysErr(Errno.ENOENT)
    if (node.nlink >= limits.LINK_MAX) return yield* sysErr(Errno.EMLINK)
    yield* checkChangeable(node)
    if (dir.fs === "host" && node.fs === "host") {
      yield* hostLink(node, dir, l.name)
    } else if (dir.fs === "tmpfs" && node.fs === "tmpfs") {
      dir.addEntry(l.name, node)
      node.nlink++
    }
    markChanged(node)
    markModified(dir)
    knoteAttached(dir, node, true)
  })
