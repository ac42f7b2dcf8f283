/**
 * Directory listings for getdents: `.` (cookie 0), `..` (cookie 1), then
 * the entries in creation order. A listing resumes at a cookie, so entries
 * added or removed between calls do not shift the others.
 */
import { direntTypes } from "@sysproxy/protocol/netbsd"
import { type DirentRecord, direntSize, encodeDirent } from "../abi/Dirent.ts"
import { bytesOfName } from "./Names.ts"
import { direntType, type DirectoryNode } from "./Vnode.ts"

export interface Listing {
  /** Whole records, at most the size asked for. */
  readonly bytes: Uint8Array
  /** The cookie to resume at (the new file offset). */
  readonly next: bigint
}

const DOT = bytesOfName(".")
const DOTDOT = bytesOfName("..")

/**
 * Records from `cookie` on that fit in `max` bytes; undefined when the next
 * record does not fit at all (getdents says EINVAL). `..` is the parent
 * within the directory's own file system (a root lists itself), as on NetBSD.
 */
export const readdir = (dir: DirectoryNode, cookie: bigint, max: number): Listing | undefined => {
  const records: Array<{ readonly rec: DirentRecord; readonly cookie: number }> = []
  // a removed directory lists nothing, not even `.` and `..`
  if (!dir.removed) {
    records.push({ rec: { fileno: dir.ino, type: direntTypes.DT_DIR, name: DOT }, cookie: 0 })
    records.push({ rec: { fileno: dir.parent.ino, type: direntTypes.DT_DIR, name: DOTDOT }, cookie: 1 })
  }
  const chunks: Array<Uint8Array> = []
  let used = 0
  let next = cookie
  const take = (rec: DirentRecord, at: number): boolean => {
    const size = direntSize(rec.name.length)
    if (used + size > max) return false
    chunks.push(encodeDirent(rec))
    used += size
    next = BigInt(at) + 1n
    return true
  }
  let full = false
  for (const r of records) {
    if (BigInt(r.cookie) < cookie) continue
    if (!take(r.rec, r.cookie)) {
      full = true
      break
    }
  }
  if (!full) {
    for (const [name, entry] of dir.entries) {
      if (BigInt(entry.cookie) < cookie) continue
      if (!take({ fileno: entry.node.ino, type: direntType[entry.node.type], name: bytesOfName(name) }, entry.cookie)) {
        full = true
        break
      }
    }
  }
  if (full && chunks.length === 0) return undefined
  if (!full && next < BigInt(dir.nextCookie)) next = BigInt(dir.nextCookie)
  const bytes = new Uint8Array(used)
  let at = 0
  for (const c of chunks) {
    bytes.set(c, at)
    at += c.length
  }
  return { bytes, next }
}
