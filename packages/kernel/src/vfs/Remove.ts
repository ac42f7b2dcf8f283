/**
 * Removing names: unlink (never a directory: EPERM, as NetBSD) and rmdir
 * (only an empty directory). Neither removes a mount point or a file
 * system's root (EBUSY) or "." (EINVAL). A node whose last name goes keeps
 * its data while a file is open on it. On a host file system the name goes
 * on the host (host/HostNamespace.ts), which says ENOTEMPTY itself.
 */
import { Errno, modeBits } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { knoteDetached } from "../kqueue/VnodeEvents.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { checkAccess, type CredHolder, isRoot, owns, VEXEC, VWRITE } from "./Access.ts"
import { checkReadOnly, markChanged, markModified } from "./Attributes.ts"
import { checkRemovePossible } from "./Flags.ts"
import { hostRmdir, hostUnlink } from "./host/HostNamespace.ts"
import type { Lookup } from "./Namei.ts"
import type { Directory, DirectoryNode, TmpfsVnode, Vnode } from "./Vnode.ts"

/** In a sticky directory (/tmp) only the owner of an entry or of the directory may remove or rename it. */
export const checkSticky = (cred: CredHolder, dir: Directory, node: Vnode): Effect.Effect<void, SysErr> =>
  (dir.mode & modeBits.S_ISVTX) === 0 || isRoot(cred) || owns(cred, node) || owns(cred, dir)
    ? Effect.void
    : sysErr(Errno.EPERM)

/** May `cred` take `node` out of `dir`? A read-only file system is EROFS first, as ufs_lookup says for DELETE. */
export const checkRemovable = (cred: CredHolder, dir: Directory, node: Vnode): Effect.Effect<void, SysErr> =>
  Effect.andThen(checkReadOnly(dir), Effect.andThen(checkAccess(cred, dir, VWRITE | VEXEC), checkSticky(cred, dir, node)))

/** A directory that is some file system's root (mounted there) or has one mounted on it. */
export const isMountPoint = (node: Vnode): boolean =>
  node.type === "dir" && (node.mountedHere !== undefined || node === node.mount.root)

/** What a name's removal tells: the node and its directory changed, their knotes hear of it, the node's space may go. */
export const detached = (dir: Directory, node: Vnode): void => {
  markChanged(node)
  markModified(dir)
  knoteDetached(dir, node)
  node.mount.release(node)
}

/** Takes `name` out of a tmpfs `dir`, dropping the node's link (a directory's two and its parent's one). */
export const detach = (dir: DirectoryNode, name: string, node: TmpfsVnode): void => {
  dir.entries.delete(name)
  if (node.type === "dir") {
    node.nlink = 0
    dir.nlink--
  } else {
    node.nlink--
  }
  detached(dir, node)
}

/** Takes `name` (which names `node`) out of `dir`, whatever its file system. */
export const removeName = (dir: Directory, name: string, node: Vnode): Effect.Effect<void, SysErr> => {
  if (dir.fs === "tmpfs" && node.fs === "tmpfs") return Effect.sync(() => detach(dir, name, node))
  if (dir.fs === "host" && node.fs === "host") {
    const removal = node.type === "dir" ? hostRmdir(dir, name, node) : hostUnlink(dir, name, node)
    return Effect.tap(removal, () => Effect.sync(() => detached(dir, node)))
  }
  return Effect.die(new Error("a name and its node on two file systems"))
}

/**
 * The checks both removals share, in NetBSD's order: a mount point or a
 * mounted root is EBUSY, "." is EINVAL.
 */
const checkRemoval = (l: Lookup, node: Vnode): Effect.Effect<void, SysErr> =>
  isMountPoint(node) ? sysErr(Errno.EBUSY) : l.name === "." ? sysErr(Errno.EINVAL) : Effect.void

export const unlink: (cred: CredHolder, l: Lookup) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(cred: CredHolder, l: Lookup) {
    const node = l.entry
    if (node === undefined) return yield* sysErr(Errno.ENOENT)
    yield* checkRemoval(l, node)
    if (node.type === "dir") return yield* sysErr(Errno.EPERM)
    yield* checkRemovable(cred, l.dir, node)
    yield* checkRemovePossible(l.dir, node)
    yield* removeName(l.dir, l.name, node)
  })

export const rmdir: (cred: CredHolder, l: Lookup) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(cred: CredHolder, l: Lookup) {
    const node = l.entry
    if (node === undefined) return yield* sysErr(Errno.ENOENT)
    yield* checkRemoval(l, node)
    if (node.type !== "dir") return yield* sysErr(Errno.ENOTDIR)
    // `..` is never empty: it holds the directory it was reached from
    if (l.name === "..") return yield* sysErr(Errno.ENOTEMPTY)
    if (node.fs === "tmpfs" && node.entries.size > 0) return yield* sysErr(Errno.ENOTEMPTY)
    yield* checkRemovable(cred, l.dir, node)
    yield* checkRemovePossible(l.dir, node)
    yield* removeName(l.dir, l.name, node)
  })
