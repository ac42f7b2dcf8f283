/**
 * The path of a directory, found by walking up to the process's root (a
 * chroot's paths start there): each directory's name in its parent (a
 * directory has exactly one: a tmpfs directory's is found among its
 * parent's entries, a host directory knows the name it was found by), a
 * mounted root continuing from the directory it covers. The same walk
 * tells whether a directory is under another.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { canAccess, VEXEC, VREAD } from "./Access.ts"
import { mountedRoot, type NameiEnv } from "./Namei.ts"
import type { Directory, DirectoryNode } from "./Vnode.ts"

/** The name `dir` has in its tmpfs parent. */
const nameIn = (parent: DirectoryNode, dir: Directory): string | undefined => {
  for (const [n, e] of parent.entries) if (e.node === dir) return n
  return undefined
}

/**
 * getcwd_common's walk from `dir` up to the root, with GETCWD_CHECK_ACCESS
 * when `check`: search permission on `dir`, then read and search on every
 * directory reached by `..` (not the root, nor a directory a mounted root
 * covers), EACCES for the first that lacks them; ENOENT for a directory
 * that was removed.
 */
const walkUp = (env: NameiEnv, dir: Directory, check: boolean): string | number => {
  const root = mountedRoot(env.root)
  const names: Array<string> = []
  let d = dir
  let perms = VEXEC
  while (d !== root) {
    if (check && !canAccess(env.cred, d, perms)) return Errno.EACCES
    perms = VEXEC | VREAD
    while (d !== root && d === d.mount.root && d.mount.covered !== undefined) d = d.mount.covered
    // the root, or a file system's root above the process's own (a cwd outside its chroot)
    if (d === root || d === d.mount.root) break
    if (d.removed) return Errno.ENOENT
    const name = d.fs === "host" ? d.name : nameIn(d.parent, d)
    if (name === undefined) return Errno.ENOENT
    names.push(name)
    d = d.parent
  }
  return "/" + names.reverse().join("/")
}

/** The absolute path of `dir`; undefined when it (or a directory above it) was removed. */
export const pathOf = (env: NameiEnv, dir: Directory): string | undefined => {
  const p = walkUp(env, dir, false)
  return typeof p === "string" ? p : undefined
}

/** __getcwd's path of `dir`: read and search permission checked on the way up (env.cred's); an errno when refused or removed. */
export const checkedPathOf = (env: NameiEnv, dir: Directory): string | number => walkUp(env, dir, true)

/** vn_isunder: is `dir` `root` or below it (`root` met on the way up to the file system's root)? */
export const isUnder = (dir: Directory, root: Directory): boolean => {
  let d = dir
  for (;;) {
    if (d === root) return true
    if (d === d.mount.root) {
      if (d.mount.covered === undefined) return false
      d = d.mount.covered
    } else {
      d = d.parent
    }
  }
}
