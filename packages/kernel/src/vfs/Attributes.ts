/**
 * A node's attributes: what stat reports, and the calls that change them
 * (chmod, chown, setting times, truncating), with the time stamps POSIX
 * says each change marks.
 */
import { Errno, modeBits } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { StatInfo } from "../abi/Stat.ts"
import type { Timespec } from "../abi/Timespec.ts"
import { knoteAttrib, knoteResized } from "../kqueue/VnodeEvents.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { checkAccess, checkOwner, type Cred, isRoot, VWRITE } from "./Access.ts"
import { MAX_FILE_SIZE, PAGE_SIZE } from "./FileData.ts"
import { DeviceNode, typeBits, type Vnode } from "./Vnode.ts"

/** st_blksize: the page size. */
export const BLKSIZE = 4096
/** A directory's st_size grows by this per entry, as a tmpfs directory grows by its dirent size. */
export const DIRENT_BYTES = 40
/** uid_t/gid_t -1: leave it as it is. */
export const NO_CHANGE = 0xffff_ffff

export const sizeOf = (node: Vnode): number => {
  switch (node.type) {
    case "reg":
      return node.data.size
    case "dir":
      return node.entries.size * DIRENT_BYTES
    case "lnk":
      return node.target.length
    default:
      return 0
  }
}

/** st_blocks: the data pages of a regular file (holes are free); others as tmpfs, their size in whole pages. */
const blocksOf = (node: Vnode): number => {
  const pages = node.type === "reg" ? node.data.pageCount : Math.ceil(sizeOf(node) / PAGE_SIZE)
  return (pages * PAGE_SIZE) / 512
}

export const statOf = (node: Vnode): StatInfo => ({
  dev: node.mount.dev,
  mode: typeBits[node.type] | node.mode,
  ino: node.ino,
  nlink: node instanceof DeviceNode ? (node.driver.shownNlink ?? node.nlink) : node.nlink,
  uid: node.uid,
  gid: node.gid,
  rdev: node instanceof DeviceNode ? node.driver.rdev : 0,
  atime: node.atime,
  mtime: node.mtime,
  ctime: node.ctime,
  birthtime: node.birthtime,
  size: sizeOf(node),
  blocks: blocksOf(node),
  blksize: BLKSIZE
})

export const markAccessed = (node: Vnode): void => {
  node.atime = node.mount.clock()
}

/** The data changed: mtime and ctime. */
export const markModified = (node: Vnode): void => {
  const now = node.mount.clock()
  node.mtime = now
  node.ctime = now
}

/** The attributes changed: ctime. */
export const markChanged = (node: Vnode): void => {
  node.ctime = node.mount.clock()
}

export const chmod = (cred: Cred, node: Vnode, mode: number): Effect.Effect<void, SysErr> =>
  Effect.gen(function*() {
    yield* checkOwner(cred, node)
    const perms = mode & modeBits.ALLPERMS
    if (!isRoot(cred)) {
      // only the superuser may set the sticky bit on a file, or setgid to a group it is not in
      if (node.type !== "dir" && (perms & modeBits.S_ISTXT) !== 0) return yield* sysErr(Errno.EFTYPE)
      if ((perms & modeBits.S_ISGID) !== 0 && node.gid !== cred.gid) return yield* sysErr(Errno.EPERM)
    }
    node.mode = perms
    markChanged(node)
    knoteAttrib(node)
  })

export const chown = (cred: Cred, node: Vnode, uid: number, gid: number): Effect.Effect<void, SysErr> =>
  Effect.gen(function*() {
    const newUid = uid === NO_CHANGE ? node.uid : uid
    const newGid = gid === NO_CHANGE ? node.gid : gid
    if (!isRoot(cred) && (cred.uid !== node.uid || newUid !== node.uid || newGid !== cred.gid && newGid !== node.gid)) {
      return yield* sysErr(Errno.EPERM)
    }
    if (uid === NO_CHANGE && gid === NO_CHANGE) return
    node.uid = newUid
    node.gid = newGid
    // a non-superuser giving a file away loses its set-id bits
    if (!isRoot(cred)) node.mode &= ~(modeBits.S_ISUID | modeBits.S_ISGID)
    markChanged(node)
    knoteAttrib(node)
  })

/** A new access or modification time: a given time, the current time, or unchanged. */
export type TimeUpdate = Timespec | "now" | "omit"

/**
 * utimes/utimensat: setting both to now needs ownership or write access,
 * setting any to a given time needs ownership; setting nothing changes nothing.
 */
export const setTimes = (cred: Cred, node: Vnode, atime: TimeUpdate, mtime: TimeUpdate): Effect.Effect<void, SysErr> =>
  Effect.gen(function*() {
    if (atime === "omit" && mtime === "omit") return
    if (atime !== "now" && atime !== "omit" || mtime !== "now" && mtime !== "omit") {
      yield* checkOwner(cred, node)
    } else if (!isRoot(cred) && cred.uid !== node.uid) {
      yield* checkAccess(cred, node, VWRITE)
    }
    const now = node.mount.clock()
    if (atime !== "omit") node.atime = atime === "now" ? now : atime
    if (mtime !== "omit") node.mtime = mtime === "now" ? now : mtime
    node.ctime = now
    knoteAttrib(node)
  })

/** Sets a file's size (truncate/ftruncate/O_TRUNC); devices ignore it. */
export const truncate = (node: Vnode, length: bigint): Effect.Effect<void, SysErr> =>
  Effect.gen(function*() {
    if (length < 0n) return yield* sysErr(Errno.EINVAL)
    if (node.type === "dir") return yield* sysErr(Errno.EISDIR)
    if (node.type !== "reg") return node.type === "lnk" ? yield* sysErr(Errno.EINVAL) : undefined
    if (length > BigInt(MAX_FILE_SIZE)) return yield* sysErr(Errno.EFBIG)
    const size = Number(length)
    if (size === node.data.size) return
    const from = node.data.size
    node.data.resize(size)
    markModified(node)
    knoteResized(node, from, size)
  })
