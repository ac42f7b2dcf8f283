/**
 * Lookups on a host file system: namei asks for one name in one directory,
 * and the host is asked about that name only (an lstat through the
 * directory's descriptor, HostTree.ts). The node found is the cache's vnode
 * for its host identity, refreshed from that stat, or a new one; so a
 * change a host process made is seen at the next lookup. The driver's own
 * names (the sidecar's directory, placeholders being made) are not there.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { type SysErr, sysErr } from "../../kern/SysErr.ts"
import type { HostError } from "./HostError.ts"
import { isReserved } from "./HostMount.ts"
import type { HostDirectory, HostSymlink, HostVnode } from "./HostNode.ts"

/** A name that is not there: the host said so, or the directory went meanwhile. */
const isAbsent = (e: HostError): boolean => e.errno === Errno.ENOENT

/** The vnode `name` (a single component, neither "." nor "..") names in `dir`; undefined when there is none. */
export const hostLookup = (dir: HostDirectory, name: string): Effect.Effect<HostVnode | undefined, SysErr> => {
  if (dir.removed || isReserved(dir, name)) return Effect.succeed(undefined)
  const mount = dir.mount
  return Effect.flatMap(
    mount.withFd(dir, (fd) => Effect.catchIf(mount.tree.lstat(fd, name), isAbsent, () => Effect.succeed(undefined))),
    (st) => (st === undefined ? Effect.succeed(undefined) : mount.vnodeFor(dir, name, st))
  )
}

/** A host symlink's target (read once: a symlink's target never changes). */
export const hostReadlink = (node: HostSymlink): Effect.Effect<string, SysErr> => {
  const known = node.target
  if (known !== undefined) return Effect.succeed(known)
  const mount = node.mount
  return mount.withFd(node.parent, (dir) => mount.tree.readlink(dir, node.name)).pipe(
    Effect.tap((target) => Effect.sync(() => (node.target = target))),
    Effect.catchIf((e) => e.errno === Errno.EINVAL, () => sysErr(Errno.ENOENT))
  )
}
