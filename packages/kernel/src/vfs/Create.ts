/**
 * Making names: new regular files, directories and symlinks, and hard
 * links to existing nodes. A new node takes the caller's effective uid
 * and, as on BSD, the directory's gid; the directory's mtime and ctime mark the change.
 */
import { Errno, limits } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { knoteAttached } from "../kqueue/VnodeEvents.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { checkAccess, type CredHolder, VEXEC, VWRITE } from "./Access.ts"
import { markChanged, markModified } from "./Attributes.ts"
import { checkChangeable } from "./Flags.ts"
import type { Lookup } from "./Namei.ts"
import { isDotName } from "./Names.ts"
import type { DirectoryNode, RegularNode, SpecialNode, SymlinkNode, Vnode } from "./Vnode.ts"

/** The directory a new entry goes in: EEXIST when the name is taken, ENOENT when the directory was removed. */
const directoryFor = (who: CredHolder, l: Lookup): Effect.Effect<DirectoryNode, SysErr> =>
  Effect.gen(function*() {
    if (l.node !== undefined || isDotName(l.name)) return yield* sysErr(Errno.EEXIST)
    if (l.dir.removed) return yield* sysErr(Errno.ENOENT)
    yield* checkAccess(who, l.dir, VWRITE | VEXEC)
    return l.dir
  })

const enter = <N extends Vnode>(dir: DirectoryNode, name: string, node: N | undefined): Effect.Effect<N, SysErr> =>
  Effect.suspend(() => {
    if (node === undefined) return sysErr(Errno.ENOSPC)
    dir.addEntry(name, node)
    markModified(dir)
    knoteAttached(dir, node)
    return Effect.succeed(node)
  })

/** open(O_CREAT) of a missing name; `mode` is already masked. */
export const createRegular = (who: CredHolder, l: Lookup, mode: number): Effect.Effect<RegularNode, SysErr> =>
  Effect.flatMap(directoryFor(who, l), (dir) => enter(dir, l.name, dir.mount.newRegular({ mode, uid: who.cred.euid, gid: dir.gid })))

export const makeDirectory = (who: CredHolder, l: Lookup, mode: number): Effect.Effect<DirectoryNode, SysErr> =>
  Effect.gen(function*() {
    const dir = yield* directoryFor(who, l)
    if (dir.nlink >= limits.LINK_MAX) return yield* sysErr(Errno.EMLINK)
    const child = yield* enter(dir, l.name, dir.mount.newDirectory({ mode, uid: who.cred.euid, gid: dir.gid }, dir))
    dir.nlink++
    return child
  })

export const makeSymlink = (who: CredHolder, l: Lookup, target: string, mode: number): Effect.Effect<SymlinkNode, SysErr> =>
  Effect.gen(function*() {
    if (l.node === undefined && l.trailingSlash) return yield* sysErr(Errno.ENOENT)
    const dir = yield* directoryFor(who, l)
    return yield* enter(dir, l.name, dir.mount.newSymlink({ mode, uid: who.cred.euid, gid: dir.gid }, target))
  })

/** A socket node for bind(AF_LOCAL): EADDRINUSE when the name exists; `mode` is already masked. */
export const makeSocketNode = (who: CredHolder, l: Lookup, mode: number): Effect.Effect<SpecialNode, SysErr> =>
  Effect.gen(function*() {
    if (l.node !== undefined) return yield* sysErr(Errno.EADDRINUSE)
    if (l.trailingSlash) return yield* sysErr(Errno.ENOENT)
    const dir = yield* directoryFor(who, l)
    return yield* enter(dir, l.name, dir.mount.newSpecial({ mode, uid: who.cred.euid, gid: dir.gid }, "sock"))
  })

/** mknod/mkfifo: the node `make` builds in the directory (ENOSPC when it could not); `mode` is already masked. */
export const makeSpecial = <N extends Vnode>(who: CredHolder, l: Lookup, make: (dir: DirectoryNode) => N | undefined): Effect.Effect<N, SysErr> =>
  Effect.gen(function*() {
    if (l.node === undefined && l.trailingSlash) return yield* sysErr(Errno.ENOENT)
    const dir = yield* directoryFor(who, l)
    return yield* enter(dir, l.name, make(dir))
  })

/** link(2): a new name for `node`, which must not be a directory and must stay on its file system. */
export const makeLink = (who: CredHolder, node: Vnode, l: Lookup): Effect.Effect<void, SysErr> =>
  Effect.gen(function*() {
    if (node.type === "dir") return yield* sysErr(Errno.EPERM)
    if (l.node === undefined && l.trailingSlash) return yield* sysErr(Errno.ENOENT)
    const dir = yield* directoryFor(who, l)
    if (dir.mount !== node.mount) return yield* sysErr(Errno.EXDEV)
    // an unlinked file still open cannot be given a name again
    if (node.nlink === 0) return yield* sysErr(Errno.ENOENT)
    if (node.nlink >= limits.LINK_MAX) return yield* sysErr(Errno.EMLINK)
    yield* checkChangeable(node)
    dir.addEntry(l.name, node)
    node.nlink++
    markChanged(node)
    markModified(dir)
    knoteAttached(dir, node, true)
  })
