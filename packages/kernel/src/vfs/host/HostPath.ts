/**
 * The only host paths the host-backed file system hands the host:
 * `/proc/self/fd/N` (the node a descriptor holds) and `/proc/self/fd/N/name`
 * (one name in the directory a descriptor holds). The host resolves
 * `/proc/self/fd/N` as the descriptor itself, never through a path, so a
 * call on such a path reaches exactly the directory the descriptor holds,
 * wherever a host process moved it, and `name` is a single component: the
 * host never walks a path of ours through more than one directory, and a
 * symlink in the middle of a walk is refused by the walk itself (each step
 * is an open with O_NOFOLLOW, see HostTree.ts), not by a check beforehand.
 *
 * Names are the kernel's byte strings (one latin1 char per byte,
 * vfs/Names.ts), so any name the host or a client has, UTF-8 or not, is the
 * same bytes on both sides.
 */

declare const HostPathBrand: unique symbol

/** A path built here; HostCalls takes no other. */
export type HostPath = Buffer & { readonly [HostPathBrand]: true }

const SLASH = 0x2f
const DOT = 0x2e

/**
 * A kernel name as one host path component; undefined for what is not one
 * ("", ".", "..", or with a "/" or NUL in it: namei never passes those on).
 */
export const componentBytes = (name: string): Buffer | undefined => {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) return undefined
  return Buffer.from(name, "latin1")
}

/** The kernel name for host name bytes. */
export const nameOfBytes = (bytes: Uint8Array): string => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("latin1")

/** "/proc/self/fd/<fd>/" for the descriptors a lookup goes through, made once each. */
const prefixes: Array<Buffer | undefined> = []

const prefixOf = (fd: number): Buffer => {
  let p = prefixes[fd]
  if (p === undefined) {
    p = Buffer.from(`/proc/self/fd/${fd}/`)
    if (fd < 65536) prefixes[fd] = p
  }
  return p
}

/**
 * `/proc/self/fd/<fd>/<name>` for a kernel name (componentBytes's rules),
 * built in one buffer; undefined for what is not one component.
 */
export const procNamePath = (fd: number, name: string): HostPath | undefined => {
  if (name === "" || name === "." || name === ".." || name.includes("/") || name.includes("\0")) return undefined
  if (!Number.isInteger(fd) || fd < 0) throw new Error(`procPath: bad descriptor ${fd}`)
  const prefix = prefixOf(fd)
  const path = Buffer.allocUnsafe(prefix.length + name.length)
  prefix.copy(path)
  path.write(name, prefix.length, "latin1")
  return path as HostPath
}

/** `/proc/self/fd/<fd>`, or `/proc/self/fd/<fd>/<name>` for a component from `componentBytes`. */
export const procPath = (fd: number, name?: Buffer): HostPath => {
  if (!Number.isInteger(fd) || fd < 0) throw new Error(`procPath: bad descriptor ${fd}`)
  const head = Buffer.from(`/proc/self/fd/${fd}`)
  if (name === undefined) return head as HostPath
  const dots = name.length <= 2 && name.every((b) => b === DOT)
  if (name.length === 0 || dots || name.includes(SLASH) || name.includes(0)) throw new Error("procPath: not one component")
  return Buffer.concat([head, Buffer.of(SLASH), name]) as HostPath
}
