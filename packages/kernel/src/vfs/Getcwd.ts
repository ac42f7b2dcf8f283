/**
 * The path of a directory, found by walking up to the process's root (a
 * chroot's paths start there): each directory's name in its parent (a
 * directory has exactly one), a mounted root continuing from the directory
 * it covers. The same walk tells whether a directory is under another.
 */
import { mountedRoot, type NameiEnv } from "./Namei.ts"
import type { DirectoryNode } from "./Vnode.ts"

/** The absolute path of `dir`; undefined when it (or a directory above it) was removed. */
export const pathOf = (env: NameiEnv, dir: DirectoryNode): string | undefined => {
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
    const parent = d.parent
    let name: string | undefined
    for (const [n, e] of parent.entries) {
      if (e.node === d) {
        name = n
        break
      }
    }
    if (name === undefined) return undefined
    names.push(name)
    d = parent
  }
  return "/" + names.reverse().join("/")
}

/** vn_isunder: is `dir` `root` or below it (`root` met on the way up to the file system's root)? */
export const isUnder = (dir: DirectoryNode, root: DirectoryNode): boolean => {
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
