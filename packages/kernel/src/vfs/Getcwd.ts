/**
 * The path of a directory, found by walking up to the process's root (a
 * chroot's paths start there): each directory's name in its parent (a
 * directory has exactly one: a tmpfs directory's is found among its
 * parent's entries, a host directory knows the name it was found by), a
 * mounted root continuing from the directory it covers. The same walk
 * tells whether a directory is under another.
 */
import { mountedRoot, type NameiEnv } from "./Namei.ts"
import type { Directory, DirectoryNode } from "./Vnode.ts"

/** The name `dir` has in its tmpfs parent. */
const nameIn = (parent: DirectoryNode, dir: Directory): string | undefined => {
  for (const [n, e] of parent.entries) if (e.node === dir) return n
  return undefined
}

/** The absolute path of `dir`; undefined when it (or a directory above it) was removed. */
export const pathOf = (env: NameiEnv, dir: Directory): string | undefined => {
  const root = mountedRoot(env.root)
  const names: Array<string> = []
  let d = dir
  while (d !== root) {
    if (d === d.mount.root) {
      if (d.mount.covered === undefined) break
      d = d.mount.covered
      continue
    }
    if (d.removed) return undefined
    const name = d.fs === "host" ? d.name : nameIn(d.parent, d)
    if (name === undefined) return undefined
    names.push(name)
    d = d.parent
  }
  return "/" + names.reverse().join("/")
}

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
