/**
 * A node's attributes: what stat reports, and the calls that change them
 * (chmod, chown, setting times, truncating), with the time stamps POSIX
 * says each change marks. The checks are the kernel's whatever the file
 * system; a host file system's node then changes on the host
 * (host/HostAttributes.ts), which keeps its times itself, and reports the
 * host's size, blocks and block size.
 */
import { Errno, modeBits } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { StatInfo } from "../abi/Stat.ts"
import type { Timespec } from "../abi/Timespec.ts"
import { NO_ID } from "../kauth/Cred.ts"
import { knoteAttrib, knoteResized } from "../kqueue/VnodeEvents.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { checkAccess, checkOwner, type CredHolder, inGroup, isRoot, owns, VWRITE } from "./Access.ts"
import { MAX_FILE_SIZE, PAGE_SIZE } from "./FileData.ts"
import { checkChangeable } from "./Flags.ts"
import { hostChmod, hostChown, hostSetTimes, hostTruncate } from "./host/HostAttributes.ts"
import { driverOf, typeBits, type Vnode } from "./Vnode.ts"

/** st_blksize: the page size. */
export const BLKSIZE = 4096
/** A directory's st_size grows by this per entry, as a tmpfs directory grows by its dirent size. */
export const DIRENT_BYTES = 40
/** st_rdev of a node that is no device: NODEV, (dev_t)-1. */
export const NODEV = -1
/** uid_t/gid_t -1: leave it as it is. */
export const NO_CHANGE = NO_ID

export const sizeOf = (node: Vnode): number => {
  if (node.fs === "host") return node.size
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
  if (node.fs === "host") return node.blocks
  const pages = node.type === "reg" ? node.data.pageCount : Math.ceil(sizeOf(node) / PAGE_SIZE)
  return (pages * PAGE_SIZE) / 512
}

export const statOf = (node: Vnode): StatInfo => {
  const driver = driverOf(node)
  return {
    dev: node.mount.dev,
    mode: typeBits[node.type] | node.mode,
    ino: node.ino,
    nlink: driver?.shownNlink ?? node.nlink,
    uid: node.uid,
    gid: node.gid,
    rdev: driver?.rdev ?? NODEV,
    atime: node.atime,
    mtime: node.mtime,
    ctime: node.ctime,
    birthtime: node.birthtime,
    size: sizeOf(node),
    blocks: blocksOf(node),
    blksize: node.fs === "host" ? node.blksize : BLKSIZE,
    flags: node.flags
  }
}

/** The data was read: atime (the host keeps a host node's times). */
export const markAccessed = (node: Vnode): void => {
  if (node.fs === "tmpfs") node.atime = node.mount.clock()
}

/** The data changed: mtime and ctime. */
export const markModified = (node: Vnode): void => {
  if (node.fs === "host") return
  const now = node.mount.clock()
  node.mtime = now
  node.ctime = now
}

/** The attributes changed: ctime. */
export const markChanged = (node: Vnode): void => {
  if (node.fs === "tmpfs") node.ctime = node.mount.clock()
}

/** EROFS for a change to a node of a read-only file system (before the permission checks, as tmpfs_chmod and the rest, ufs_setattr and ufs_lookup). */
export const checkReadOnly = (node: Vnode): Effect.Effect<void, SysErr> =>
  node.mount.readOnly ? sysErr(Errno.EROFS) : Effect.void

/**
 * genfs_can_chmod: only the owner (or root) may; a non-root owner may not
 * put the sticky bit on a non-directory (EFTYPE), nor set-group-id unless
 * the file's group is one of its supplementary groups (EPERM).
 */
const checkChmod = (who: CredHolder, node: Vnode, perms: number): Effect.Effect<void, SysErr> =>
  Effect.suspend(() => {
    if (isRoot(who)) return Effect.void
    if (!owns(who, node)) return sysErr(Errno.EPERM)
    if (node.type !== "dir" && (perms & modeBits.S_ISTXT) !== 0) return sysErr(Errno.EFTYPE)
    if ((perms & modeBits.S_ISGID) !== 0 && !who.cred.isMember(node.gid)) return sysErr(Errno.EPERM)
    return Effect.void
  })

export const chmod: (who: CredHolder, node: Vnode, mode: number) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(who: CredHolder, node: Vnode, mode: number) {
    yield* checkReadOnly(node)
    yield* checkChangeable(node)
    const perms = mode & modeBits.ALLPERMS
    yield* checkChmod(who, node, perms)
    if (node.fs === "host") yield* hostChmod(node, perms)
    else node.mode = perms
    markChanged(node)
    knoteAttrib(node)
  })

/**
 * genfs_can_chown: the owner may only change the group, to its effective
 * gid or one of its groups (or leave it as it is); root may do anything.
 */
const checkChown = (who: CredHolder, node: Vnode, uid: number, gid: number): Effect.Effect<void, SysErr> =>
  isRoot(who) || owns(who, node) && uid === node.uid && (gid === node.gid || inGroup(who, gid))
    ? Effect.void
    : sysErr(Errno.EPERM)

/**
 * chown, fchown, lchown, fchownat (vfs_syscalls' change_owner, then the file
 * system's setattr). NetBSD semantics clear S_ISUID when an owner is given
 * and S_ISGID when a group is given, for root too; the POSIX variants
 * (`posix`: __posix_chown and friends) clear both only for a non-root caller
 * and keep them for root. The new mode then goes through chmod's checks, as
 * setattr applies it after the new owner (a refused mode leaves the new
 * owner in place). Both ids NO_CHANGE changes nothing and checks nothing.
 */
export const chown: (who: CredHolder, node: Vnode, uid: number, gid: number, posix?: boolean) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(who: CredHolder, node: Vnode, uid: number, gid: number, posix = false) {
    let mode = node.mode
    if (posix) {
      if (!isRoot(who)) mode &= ~(modeBits.S_ISUID | modeBits.S_ISGID)
    } else {
      if (uid !== NO_CHANGE) mode &= ~modeBits.S_ISUID
      if (gid !== NO_CHANGE) mode &= ~modeBits.S_ISGID
    }
    if (uid === NO_CHANGE && gid === NO_CHANGE && mode === node.mode) return
    if (uid !== NO_CHANGE || gid !== NO_CHANGE) {
      const newUid = uid === NO_CHANGE ? node.uid : uid
      const newGid = gid === NO_CHANGE ? node.gid : gid
      yield* checkReadOnly(node)
      yield* checkChangeable(node)
      yield* checkChown(who, node, newUid, newGid)
      if (node.fs === "host") {
        yield* hostChown(node, newUid, newGid)
      } else {
        node.uid = newUid
        node.gid = newGid
      }
      markChanged(node)
      knoteAttrib(node)
    }
    if (mode !== node.mode) yield* chmod(who, node, mode)
  })

/** A new access or modification time: a given time, the current time, or unchanged. */
export type TimeUpdate = Timespec | "now" | "omit"

/**
 * utimes/utimensat: setting both to now needs ownership or write access,
 * setting any to a given time needs ownership; setting nothing changes nothing.
 */
export const setTimes: (who: CredHolder, node: Vnode, atime: TimeUpdate, mtime: TimeUpdate) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(who: CredHolder, node: Vnode, atime: TimeUpdate, mtime: TimeUpdate) {
    if (atime === "omit" && mtime === "omit") return
    yield* checkReadOnly(node)
    yield* checkChangeable(node)
    if (atime !== "now" && atime !== "omit" || mtime !== "now" && mtime !== "omit") {
      yield* checkOwner(who, node)
    } else if (!isRoot(who) && !owns(who, node)) {
      yield* checkAccess(who, node, VWRITE)
    }
    const now = node.mount.clock()
    const a = atime === "omit" ? node.atime : atime === "now" ? now : atime
    const m = mtime === "omit" ? node.mtime : mtime === "now" ? now : mtime
    if (node.fs === "host") {
      yield* hostSetTimes(node, a, m)
    } else {
      node.atime = a
      node.mtime = m
      node.ctime = now
    }
    knoteAttrib(node)
  })

/** Sets a file's size (truncate/ftruncate/O_TRUNC); devices ignore it. */
export const truncate: (node: Vnode, length: bigint) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(node: Vnode, length: bigint) {
    if (length < 0n) return yield* sysErr(Errno.EINVAL)
    if (node.type === "dir") return yield* sysErr(Errno.EISDIR)
    if (node.type !== "reg") return node.type === "lnk" ? yield* sysErr(Errno.EINVAL) : undefined
    yield* checkReadOnly(node)
    yield* checkChangeable(node)
    if (length > BigInt(MAX_FILE_SIZE)) return yield* sysErr(Errno.EFBIG)
    const size = Number(length)
    const from = sizeOf(node)
    if (node.fs === "host") {
      // the host's size may have moved since the node was last looked at: it is set whatever it was
      yield* hostTruncate(node, size)
    } else {
      if (size === from) return
      node.data.resize(size)
      markModified(node)
    }
    knoteResized(node, from, size)
  })
