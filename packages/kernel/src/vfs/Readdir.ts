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

/** The records of one getdents answer as they are gathered, within `max` bytes. */
export class ListingWriter {
  readonly #max: number
  readonly #chunks: Array<Uint8Array> = []
  #used = 0
  /** The cookie after the last record taken (where the next answer resumes). */
  next: bigint

  constructor(max: number, start: bigint) {
    this.#max = max
    this.next = start
  }

  /** Adds `rec`, whose cookie is `at`, if it fits; false (nothing added) when it does not. */
  take(rec: DirentRecord, at: bigint): boolean {
    const size = direntSize(rec.name.length)
    if (this.#used + size > this.#max) return false
    this.#chunks.push(encodeDirent(rec))
    this.#used += size
    this.next = at + 1n
    return true
  }

  get empty(): boolean {
    return this.#chunks.length === 0
  }

  /** The answer: the records in order, and where the next one resumes. */
  listing(): Listing {
    const bytes = new Uint8Array(this.#used)
    let at = 0
    for (const c of this.#chunks) {
      bytes.set(c, at)
      at += c.length
    }
    return { bytes, next: this.next }
  }
}

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
  const out = new ListingWriter(max, cookie)
  let full = false
  for (const r of records) {
    if (BigInt(r.cookie) < cookie) continue
    if (!out.take(r.rec, BigInt(r.cookie))) {
      full = true
      break
    }
  }
  if (!full) {
    for (const [name, entry] of dir.entries) {
      if (BigInt(entry.cookie) < cookie) continue
      if (!out.take({ fileno: entry.node.ino, type: direntType[entry.node.type], name: bytesOfName(name) }, BigInt(entry.cookie))) {
        full = true
        break
      }
    }
  }
  if (full && out.empty) return undefined
  if (!full && out.next < BigInt(dir.nextCookie)) out.next = BigInt(dir.nextCookie)
  return out.listing()
}
