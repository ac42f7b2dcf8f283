/**
 * Path lookup (namei): from a start directory (the cwd or a dirfd's) or the
 * process's root for an absolute path, one component at a time, checking
 * search permission on every directory passed, crossing into file systems
 * mounted on the way, `..` leaving a mounted file system through the
 * directory it covers, and symlinks expanded in place (ELOOP after
 * MAXSYMLINKS). `..` at the process's root (a chroot) stays there, as it
 * does at the file system's root; a start directory outside the chroot (a
 * descriptor opened before it) is not held in, as NetBSD does not hold it.
 *
 * A tmpfs directory answers from its entries at once; a host directory asks
 * the host about the one name (host/HostLookup.ts), and a host symlink's
 * target is read when first followed. Either way the symlink is resolved
 * here, in the kernel's namespace, never by the host.
 */
import { Errno, limits } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { checkAccess, type CredHolder, VEXEC } from "./Access.ts"
import { hostLookup, hostReadlink } from "./host/HostLookup.ts"
import type { Directory, Vnode } from "./Vnode.ts"

export interface NameiEnv {
  /** Where "/" leads: the process's chroot directory, or the root file system's root. */
  readonly root: Directory
  readonly cred: CredHolder
}

/** What a path names, and where its last component was looked up. */
export interface Lookup {
  /** The directory the last component was looked up in. */
  readonly dir: Directory
  /** The last component: "" when the path names the root ("/"), or "." / "..". */
  readonly name: string
  /** The directory's entry for `name`, as stored (a mount point stays the covered directory). */
  readonly entry: Vnode | undefined
  /** What the path names, mounts crossed; undefined when nothing is there. */
  readonly node: Vnode | undefined
  /** The path ended in "/": what it names must be a directory. */
  readonly trailingSlash: boolean
}

/** The root of whatever is mounted on `dir` (the directory itself when nothing is). */
export const mountedRoot = (dir: Directory): Directory => {
  let d = dir
  while (d.mountedHere !== undefined) d = d.mountedHere.root
  return d
}

/** What a lookup landing on `node` sees: a mount point shows the mounted root. */
export const crossMounts = (node: Vnode): Vnode => (node.type === "dir" ? mountedRoot(node) : node)

/** `..` of `dir`: the (process's or file system's) root's is itself; a mounted root's is the parent of the directory it covers. */
export const parentOf = (env: NameiEnv, dir: Directory): Directory => {
  if (dir === mountedRoot(env.root)) return dir
  let d = dir
  while (d !== env.root && d === d.mount.root && d.mount.covered !== undefined) d = d.mount.covered
  return d.parent
}

const components = (path: string): Array<string> => path.split("/").filter((c) => c !== "")

/**
 * Looks `path` up from `start`. With `follow` a symlink in the last place is
 * followed too (it always is when a trailing slash follows it). A missing
 * last component is not an error here (creating calls want its directory):
 * `node` is then undefined. Missing or non-directory components before it
 * are ENOENT / ENOTDIR.
 */
export const namei: (env: NameiEnv, start: Vnode, path: string, follow: boolean) => Effect.Effect<Lookup, SysErr> = Effect.fnUntraced(
  function*(env: NameiEnv, start: Vnode, path: string, follow: boolean) {
    if (path === "") return yield* sysErr(Errno.ENOENT)
    let trailingSlash = path.endsWith("/")
    let cur: Vnode = path.startsWith("/") ? mountedRoot(env.root) : start
    let rest = components(path)
    let hops = 0
    let last: Lookup | undefined
    while (rest.length > 0) {
      const name = rest[0] ?? ""
      rest = rest.slice(1)
      if (name.length > limits.NAME_MAX) return yield* sysErr(Errno.ENAMETOOLONG)
      if (cur.type !== "dir") return yield* sysErr(Errno.ENOTDIR)
      const dir: Directory = cur
      yield* checkAccess(env.cred, dir, VEXEC)
      const entry: Vnode | undefined = name === "."
        ? dir
        : name === ".."
        ? parentOf(env, dir)
        : dir.fs === "tmpfs"
        ? dir.entries.get(name)?.node
        : yield* hostLookup(dir, name)
      const isLast = rest.length === 0
      if (entry === undefined) {
        if (!isLast) return yield* sysErr(Errno.ENOENT)
        return { dir, name, entry: undefined, node: undefined, trailingSlash }
      }
      const node = crossMounts(entry)
      if (node.type === "lnk" && (!isLast || follow || trailingSlash)) {
        if (++hops > limits.MAXSYMLINKS) return yield* sysErr(Errno.ELOOP)
        const target = node.fs === "tmpfs" ? node.target : yield* hostReadlink(node)
        if (target === "") return yield* sysErr(Errno.ENOENT)
        if (target.length + rest.reduce((n, c) => n + c.length + 1, 0) >= limits.PATH_MAX) {
          return yield* sysErr(Errno.ENAMETOOLONG)
        }
        if (isLast && target.endsWith("/")) trailingSlash = true
        rest = [...components(target), ...rest]
        // a target of "/" (or ".") alone names the directory it resolves from
        const from: Directory = target.startsWith("/") ? mountedRoot(env.root) : dir
        cur = from
        last = { dir: from, name: target.startsWith("/") ? "" : ".", entry: from, node: from, trailingSlash }
        continue
      }
      if (isLast) {
        if (trailingSlash && node.type !== "dir") return yield* sysErr(Errno.ENOTDIR)
        return { dir, name, entry, node, trailingSlash }
      }
      cur = node
    }
    // the path was "/" (or a symlink expanded to nothing but slashes)
    if (last !== undefined) return last
    const root = mountedRoot(env.root)
    return { dir: root, name: "", entry: root, node: root, trailingSlash }
  })
