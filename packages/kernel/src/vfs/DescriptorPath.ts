/**
 * The name of the file a descriptor is open on, for middleware that
 * matches calls by path (fault injection's `write:path=/tmp/log*`). A
 * vnode does not know its name, so it is found by walking the tree from
 * the root (mounted file systems included) and remembered per vnode; a
 * remembered name is checked against the tree before it is used, so a
 * rename or unlink is seen. The first name found wins for a file with
 * several links; an unlinked file, a pipe or a socket has none.
 */
import type { DescriptorPathsService } from "@sysproxy/hypervisor"
import type { KernelState } from "../KernelState.ts"
import { mountedRoot } from "./Namei.ts"
import type { DirectoryNode, Vnode } from "./Vnode.ts"

const join = (dir: string, name: string) => (dir === "/" ? `/${name}` : `${dir}/${name}`)

/** Whether `path` still leads from `root` to `node`. */
const stillNames = (root: DirectoryNode, path: string, node: Vnode): boolean => {
  let cur: Vnode = root
  for (const name of path.split("/")) {
    if (name === "") continue
    if (cur.type !== "dir") return false
    const next: Vnode | undefined = cur.entries.get(name)?.node
    if (next === undefined) return false
    cur = next.type === "dir" ? mountedRoot(next) : next
  }
  return cur === node || (node.type === "dir" && cur === mountedRoot(node))
}

/** Depth first from the root; directories are visited once (a mount point shows what is mounted on it). */
const search = (root: DirectoryNode, node: Vnode): string | undefined => {
  const seen = new Set<DirectoryNode>()
  const stack: Array<[DirectoryNode, string]> = [[root, "/"]]
  while (stack.length > 0) {
    const [dir, path] = stack.pop()!
    if (seen.has(dir)) continue
    seen.add(dir)
    for (const [name, entry] of dir.entries) {
      const child = entry.node
      if (child === node) return join(path, name)
      if (child.type === "dir") {
        const shown = mountedRoot(child)
        if (shown === node) return join(path, name)
        stack.push([shown, join(path, name)])
      }
    }
  }
  return undefined
}

export const makeDescriptorPaths = (state: KernelState): DescriptorPathsService => {
  const known = new WeakMap<Vnode, string>()
  return {
    pathOf: (pid, fd) => {
      const node = state.procs.get(pid)?.fds.get(fd)?.file.vnode
      if (node === undefined) return undefined
      const root = mountedRoot(state.vfs.root)
      if (node === root) return "/"
      const cached = known.get(node)
      if (cached !== undefined && stillNames(root, cached, node)) return cached
      const found = search(root, node)
      if (found === undefined) known.delete(node)
      else known.set(node, found)
      return found
    }
  }
}
