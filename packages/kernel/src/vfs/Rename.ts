/**
 * rename(2): moves a name, replacing what the new name held. NetBSD's
 * rules: a file may not replace a directory (EISDIR), a directory only an
 * empty directory (ENOTDIR, ENOTEMPTY), a directory may not move into its
 * own subtree (EINVAL), and names stay on their file system (EXDEV).
 * Renaming a name onto itself does nothing; onto another hard link of the
 * same node, BSD's rename removes the source name while POSIX's
 * (__posix_rename, `retain`) leaves both. Immutable and append-only
 * flags stop it (Flags.ts). On a host file system it is one host rename,
 * which replaces the target atomically (host/HostNamespace.ts).
 */
import { Errno, limits } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { knoteRenamed } from "../kqueue/VnodeEvents.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { checkAccess, type CredHolder, VEXEC, VWRITE } from "./Access.ts"
import { markChanged, markModified } from "./Attributes.ts"
import type { Lookup } from "./Namei.ts"
import { isDotName } from "./Names.ts"
import { checkRemovePossible, checkRenamePossible } from "./Flags.ts"
import { hostRename } from "./host/HostNamespace.ts"
import { checkRemovable, detach, detached, isMountPoint, removeName } from "./Remove.ts"
import type { Directory } from "./Vnode.ts"

/** Is `ancestor` on the way from `dir` up to its file system's root? */
const isWithin = (dir: Directory, ancestor: Directory): boolean => {
  for (let d = dir;; d = d.parent) {
    if (d === ancestor) return true
    if (d.parent === d) return false
  }
}

export const rename: (cred: CredHolder, from: Lookup, to: Lookup, retain?: boolean) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(cred: CredHolder, from: Lookup, to: Lookup, retain = false) {
    const src = from.entry
    if (src === undefined) return yield* sysErr(Errno.ENOENT)
    if (isDotName(from.name) || isDotName(to.name)) return yield* sysErr(Errno.EINVAL)
    if (isMountPoint(src)) return yield* sysErr(Errno.EBUSY)
    if (to.dir.removed) return yield* sysErr(Errno.ENOENT)
    if (from.dir.mount !== to.dir.mount) return yield* sysErr(Errno.EXDEV)
    const dst = to.entry
    if (dst === src) {
      if (retain || (from.dir === to.dir && from.name === to.name)) return
      yield* checkRemovable(cred, from.dir, src)
      yield* checkRemovePossible(from.dir, src)
      return yield* removeName(from.dir, from.name, src)
    }
    if (dst !== undefined && isMountPoint(dst)) return yield* sysErr(Errno.EBUSY)
    if (src.type === "dir") {
      if (dst !== undefined && dst.type !== "dir") return yield* sysErr(Errno.ENOTDIR)
      if (isWithin(to.dir, src)) return yield* sysErr(Errno.EINVAL)
      if (dst?.type === "dir" && dst.fs === "tmpfs" && dst.entries.size > 0) return yield* sysErr(Errno.ENOTEMPTY)
      if (to.dir !== from.dir && dst === undefined && to.dir.nlink >= limits.LINK_MAX) {
        return yield* sysErr(Errno.EMLINK)
      }
    } else {
      if (dst?.type === "dir") return yield* sysErr(Errno.EISDIR)
      if (to.trailingSlash) return yield* sysErr(Errno.ENOTDIR)
    }
    yield* checkRenamePossible(from.dir, src, to.dir, dst)
    yield* checkRemovable(cred, from.dir, src)
    if (dst !== undefined) yield* checkRemovable(cred, to.dir, dst)
    else yield* checkAccess(cred, to.dir, VWRITE | VEXEC)

    const fromDir = from.dir
    const toDir = to.dir
    if (fromDir.fs === "host" && toDir.fs === "host" && src.fs === "host" && dst?.fs !== "tmpfs") {
      yield* hostRename(fromDir, from.name, src, toDir, to.name, dst)
      if (dst !== undefined) detached(toDir, dst)
    } else if (fromDir.fs === "tmpfs" && toDir.fs === "tmpfs" && src.fs === "tmpfs" && dst?.fs !== "host") {
      if (dst !== undefined) detach(toDir, to.name, dst)
      fromDir.entries.delete(from.name)
      toDir.addEntry(to.name, src)
      if (src.type === "dir" && fromDir !== toDir) {
        fromDir.nlink--
        toDir.nlink++
        src.parent = toDir
      }
    }
    markChanged(src)
    markModified(from.dir)
    markModified(to.dir)
    knoteRenamed(from.dir, to.dir, src, dst !== undefined)
  })
