/**
 * The name of the file a descriptor is open on, for middleware that
 * matches calls by path (fault injection's `write:path=/tmp/log*`). A host
 * file system's vnode knows the name it was found by and its directory, so
 * its path is read upwards. A tmpfs node does not know its name: it is
 * found by walking its file system from its root (and the path of the
 * directory that file system is mounted on put before it), and remembered
 * per vnode; a remembered name is checked against the tree before it is
 * used, so a rename or unlink is seen. The first name found wins for a
 * file with several links; an unlinked file, a pipe or a socket has none.
 */
import type { DescriptorPathsService } from "@sysproxy/hypervisor"
import type { KernelState } from "../KernelState.ts"
import { pathOf as directoryPath } from "./Getcwd.ts"
import type { HostVnode } from "./host/HostNode.ts"
import { mountedRoot } from "./Namei.ts"
import type { Directory, DirectoryNode, TmpfsVnode, Vnode } from "./Vnode.ts"

const join = (dir: string, name: string) => (dir === "/" ? `/${name}` : `${dir}/${name}`)

/** Whether `path` (relative to the tmpfs root `root`) still leads to `node`. */
const stillNames = (root: DirectoryNode, path: string, node: TmpfsVnode): boolean => {
  let cur: TmpfsVnode = root
  for (const name of path.split("/")) {
    if (name === "") continue
    if (cur.type !== "dir") return false
    const next: TmpfsVnode | undefined = cur.entries.get(name)?.node
    if (next === undefined) return false
    cur = next
  }
  return cur === node
}

/** Depth first from a tmpfs root, within its file system: `node`'s path relative to it. */
const search = (root: DirectoryNode, node: TmpfsVnode): string | undefined => {
  const seen = new Set<DirectoryNode>()
  const stack: Array<[DirectoryNode, string]> = [[root, "/"]]
  while (stack.length > 0) {
    const [dir, path] = stack.pop()!
    if (seen.has(dir)) continue
    seen.add(dir)
    for (const [name, entry] of dir.entries) {
      const child = entry.node
      if (child === node) return join(path, name)
      // what is mounted on a directory hides its contents
      if (child.type === "dir" && child.mountedHere === undefined) stack.push([child, join(path, name)])
    }
  }
  return undefined
}

export const makeDescriptorPaths = (state: KernelState): DescriptorPathsService => {
  const known = new WeakMap<Vnode, string>()
  const env = () => ({ root: state.vfs.root, cred: state.init })
  /** Where a file system's root shows in the whole tree. */
  const mountPath = (dir: Directory): string | undefined => directoryPath(env(), mountedRoot(dir))
  const hostPath = (node: HostVnode): string | undefined => {
    if (node.type === "dir") return directoryPath(env(), node)
    if (node.nlink === 0) return undefined
    const dir = directoryPath(env(), node.parent)
    return dir === undefined ? undefined : join(dir, node.name)
  }
  const tmpfsPath = (node: TmpfsVnode): string | undefined => {
    const root = node.mount.root
    const base = mountPath(root)
    if (base === undefined) return undefined
    if (node === root) return base
    const cached = known.get(node)
    const relative = cached !== undefined && stillNames(root, cached, node) ? cached : search(root, node)
    if (relative === undefined) {
      known.delete(node)
      return undefined
    }
    known.set(node, relative)
    return base === "/" ? relative : base + relative
  }
  return {
    pathOf: (pid, fd) => {
      const node = state.procs.get(pid)?.fds.get(fd)?.file.vnode
      if (node === undefined) return undefined
      return node.fs === "host" ? hostPath(node) : tmpfsPath(node)
    }
  }
}
