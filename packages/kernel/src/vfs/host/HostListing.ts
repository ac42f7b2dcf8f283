/**
 * getdents on a host directory: the host's listing read in pieces as the
 * caller asks (HostTree's HostDirReader, opened through the directory's
 * descriptor when the open file is first listed and kept with it), never
 * the whole directory at once. The file offset is a cookie as tmpfs's is:
 * 0 and 1 are `.` and `..`, then 2 + the entry's position in the host's
 * stream, so a listing resumes where it left off; a seek elsewhere reads
 * the stream again from the start to there.
 *
 * node:fs gives no d_ino, so each entry is lstat'ed (the entries of a
 * piece at once); an entry gone meanwhile is skipped, as are the host's own
 * devices, fifos and sockets (not served) and the driver's own names. A
 * placeholder's d_type is its record's. A placeholder left half made by a
 * crash (a reserved name, HostNamespace.ts) is removed with its record
 * when it is met. What did not fit the caller's buffer is kept for the
 * next call.
 */
import { direntTypes, Errno } from "@sysproxy/protocol/netbsd"
import { Effect, Exit, Scope, Semaphore } from "effect"
import type { DirentRecord } from "../../abi/Dirent.ts"
import type { File } from "../../fd/File.ts"
import type { SysErr } from "../../kern/SysErr.ts"
import { bytesOfName } from "../Names.ts"
import { type Listing, ListingWriter } from "../Readdir.ts"
import { direntType } from "../Vnode.ts"
import type { HostStat } from "./HostCalls.ts"
import type { HostError } from "./HostError.ts"
import type { HostFd } from "./HostFd.ts"
import { isReserved, RESERVED_PREFIX } from "./HostMount.ts"
import { inoNumber, type HostDirectory } from "./HostNode.ts"
import { type HostDirReader, hostTypeOf } from "./HostTree.ts"
import { hostIdOf } from "./Sidecar.ts"

/** Entries read from the host per piece (and lstat'ed together). */
const PIECE = 64

interface Entry {
  readonly rec: DirentRecord
  readonly cookie: bigint
}

interface ListingState {
  readonly lock: Semaphore.Semaphore
  scope: Scope.Closeable | undefined
  reader: HostDirReader | undefined
  /** The cookie of the next entry the reader gives. */
  position: bigint
  /** Where the last listing ended: a listing from here on needs no new stream. */
  resume: bigint
  /** Entries read but not yet returned, in cookie order. */
  pending: Array<Entry>
}

const states = new WeakMap<File, ListingState>()

const FIRST = 2n
const DOT = bytesOfName(".")
const DOTDOT = bytesOfName("..")

/** The reserved names a crash may leave: a placeholder being made (and the old mirror's write-back files). */
const isOrphan = (name: string): boolean =>
  name.startsWith(`${RESERVED_PREFIX}new-`) || name.startsWith(`${RESERVED_PREFIX}wb-`)

const stateOf = (file: File): ListingState => {
  let s = states.get(file)
  if (s === undefined) {
    s = { lock: Semaphore.makeUnsafe(1), scope: undefined, reader: undefined, position: FIRST, resume: FIRST, pending: [] }
    states.set(file, s)
  }
  return s
}

const closeReader = (s: ListingState): Effect.Effect<void> => {
  const scope = s.scope
  s.scope = undefined
  s.reader = undefined
  s.pending = []
  return scope === undefined ? Effect.void : Scope.close(scope, Exit.void)
}

/** The listing's host stream goes with the open file. */
export const closeListing = (file: File): Effect.Effect<void> =>
  Effect.suspend(() => {
    const s = states.get(file)
    states.delete(file)
    return s === undefined ? Effect.void : closeReader(s)
  })

/** The host stream, at the start again. */
const restart: (s: ListingState, dir: HostDirectory, dfd: HostFd) => Effect.Effect<HostDirReader, HostError> = Effect.fnUntraced(
  function*(s: ListingState, dir: HostDirectory, dfd: HostFd) {
    yield* closeReader(s)
    const scope = yield* Scope.make()
    const reader = yield* Effect.onError(Scope.provide(dir.mount.tree.readdir(dfd, PIECE), scope), () => Scope.close(scope, Exit.void))
    s.scope = scope
    s.reader = reader
    s.position = FIRST
    s.resume = FIRST
    return reader
  })

/** A crash's leftover: removed, with its record when it was the node's only name. */
const removeOrphan = (dir: HostDirectory, dfd: HostFd, name: string, st: HostStat): Effect.Effect<void> => {
  const mount = dir.mount
  if (mount.readOnly) return Effect.void
  const forget = st.nlink <= 1n && mount.sidecar !== undefined ? mount.sidecar.forget(hostIdOf(st)) : Effect.void
  return Effect.ignore(Effect.andThen(mount.tree.unlink(dfd, name), forget))
}

/** One entry of a piece as its record; undefined for one not shown (a reserved name, gone meanwhile, or a host-only type). */
const entryOf = Effect.fnUntraced(function*(dir: HostDirectory, dfd: HostFd, name: string, cookie: bigint) {
  const mount = dir.mount
  const reserved = isReserved(dir, name)
  if (reserved && !isOrphan(name)) return undefined
  const st = yield* Effect.catchIf(mount.tree.lstat(dfd, name), (err) => err.errno === Errno.ENOENT, () => Effect.succeed(undefined))
  if (st === undefined) return undefined
  if (reserved) {
    if (st.isFile()) yield* removeOrphan(dir, dfd, name, st)
    return undefined
  }
  let type = hostTypeOf(st)
  if (type === "reg") {
    const record = yield* Effect.orElseSucceed(mount.recordOf(st), () => undefined)
    if (record?.type !== undefined) type = record.type
  } else if (type !== "dir" && type !== "lnk") {
    return undefined
  }
  const entry: Entry = { rec: { fileno: inoNumber(st.ino), type: direntType[type], name: bytesOfName(name) }, cookie }
  return entry
})

/** The next piece of the host's listing as records (those not shown dropped, cookies counted all the same). */
const nextPiece: (s: ListingState, dir: HostDirectory, dfd: HostFd, reader: HostDirReader) => Effect.Effect<void, HostError> = Effect.fnUntraced(
  function*(s: ListingState, dir: HostDirectory, dfd: HostFd, reader: HostDirReader) {
    const raw = yield* reader.next(PIECE)
    const first = s.position
    s.position += BigInt(raw.length)
    const recs = yield* Effect.forEach(raw, (e, i) => entryOf(dir, dfd, e.name, first + BigInt(i)), { concurrency: PIECE })
    for (const r of recs) if (r !== undefined) s.pending.push(r)
  })

/**
 * Records from `cookie` on that fit in `max` bytes; undefined when the
 * next record does not fit at all (getdents says EINVAL).
 */
const listFrom = Effect.fnUntraced(function*(s: ListingState, dir: HostDirectory, dfd: HostFd, cookie: bigint, max: number) {
  const out = new ListingWriter(max, cookie)
  let full = false
  if (!dir.removed) {
    // `..` of a file system's root is the root itself, as for tmpfs
    if (cookie <= 0n) full = !out.take({ fileno: dir.ino, type: direntTypes.DT_DIR, name: DOT }, 0n)
    if (!full && cookie <= 1n) full = !out.take({ fileno: dir.parent.ino, type: direntTypes.DT_DIR, name: DOTDOT }, 1n)
    let from = cookie < FIRST ? FIRST : cookie
    // a first listing, or a seek back before where the last one ended, reads the stream again
    let reader = s.reader
    if (reader === undefined || from < s.resume) reader = yield* restart(s, dir, dfd)
    while (!full) {
      const entry = s.pending[0]
      if (entry === undefined) {
        if (reader.ended) {
          if (out.next < s.position) out.next = s.position
          break
        }
        yield* nextPiece(s, dir, dfd, reader)
        continue
      }
      if (entry.cookie < from) {
        s.pending.shift()
        continue
      }
      if (!out.take(entry.rec, entry.cookie)) {
        full = true
        break
      }
      s.pending.shift()
      from = entry.cookie + 1n
    }
  }
  if (full && out.empty) return undefined
  s.resume = out.next
  return out.listing()
})

export const hostReaddir = (file: File, dir: HostDirectory, cookie: bigint, max: number): Effect.Effect<Listing | undefined, SysErr> => {
  const s = stateOf(file)
  return s.lock.withPermits(1)(dir.mount.withFd(dir, (dfd) => listFrom(s, dir, dfd, cookie, max)))
}
