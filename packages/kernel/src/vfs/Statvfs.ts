/**
 * statvfs of a mounted file system (NetBSD's dostatvfs over tmpfs_statvfs
 * and copy_statvfs_info): sizes in pages from the file system's own
 * accounting, its names, owner and visible flags. A caller asking for
 * ST_NOWAIT (or ST_LAZY, or any flag but ST_WAIT) gets the figures of the
 * last fresh call instead, as NetBSD answers from mnt_stat.
 */
import type { Statvfs } from "@sysproxy/protocol"
import { mountFlags, statvfsFlags } from "@sysproxy/protocol/netbsd"
import { PAGE_SIZE } from "./FileData.ts"
import type { Mount } from "./Mount.ts"

/** TMPFS_MAXNAMLEN: tmpfs's f_namemax. */
export const TMPFS_NAME_MAX = 255

export const TMPFS_TYPE_NAME = "tmpfs"

/** NetBSD's makefstype: the second word of f_fsidx. */
const makefstype = (type: string): number => {
  let rv = 0
  for (let i = 0; i < type.length; i++) rv = ((rv << 2) ^ type.charCodeAt(i)) | 0
  return rv
}

const FSTYPE = makefstype(TMPFS_TYPE_NAME)

/** f_fsidx: vfs_getnewfsid's two words, the first of them the st_dev of the files on it. */
export const fsidOf = (mount: Mount): readonly [number, number] => [mount.dev, FSTYPE]

/** f_flag: mnt_flag & MNT_VISFLAGMASK, as an unsigned word. */
const visibleFlags = (mount: Mount): number => (mount.flags & mountFlags.MNT_VISFLAGMASK) >>> 0

/** Fresh figures, which become the mount's remembered ones. */
const fresh = (mount: Mount): Statvfs => {
  const u = mount.usage()
  const stat: Statvfs = {
    flag: visibleFlags(mount),
    bsize: PAGE_SIZE,
    frsize: PAGE_SIZE,
    iosize: PAGE_SIZE,
    blocks: u.blocks,
    bfree: u.bfree,
    bavail: u.bfree,
    bresvd: 0,
    files: u.files,
    ffree: u.ffree,
    favail: u.ffree,
    fresvd: 0,
    syncreads: 0,
    syncwrites: 0,
    asyncreads: 0,
    asyncwrites: 0,
    // st_dev of every file on it, as vfs_getnewfsid makes them one
    fsidx: fsidOf(mount),
    fsid: mount.dev,
    namemax: TMPFS_NAME_MAX,
    owner: mount.owner,
    fstypename: TMPFS_TYPE_NAME,
    mntonname: mount.onName,
    mntfromname: TMPFS_TYPE_NAME
  }
  mount.lastStat = stat
  return stat
}

/** dostatvfs: fresh for 0 or ST_WAIT, the remembered figures otherwise (f_flag always current). */
export const statvfsOf = (mount: Mount, flags: number): Statvfs => {
  const cached = flags !== 0 && flags !== statvfsFlags.ST_WAIT ? mount.lastStat : undefined
  if (cached === undefined) return fresh(mount)
  return { ...cached, flag: visibleFlags(mount) }
}
