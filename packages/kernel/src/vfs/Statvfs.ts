/**
 * statvfs of a mounted file system (NetBSD's dostatvfs over tmpfs_statvfs
 * and copy_statvfs_info): sizes in pages from the file system's own
 * accounting, its names, owner and visible flags. A host file system's
 * figures are the host's statfs of the tree. A caller asking for
 * ST_NOWAIT (or ST_LAZY, or any flag but ST_WAIT) gets the figures of the
 * last fresh call instead, as NetBSD answers from mnt_stat. Under a chroot
 * (statvfsFor) the names are the process's own: a mount below its root
 * loses the root's path from its name, one outside cannot be seen (EPERM),
 * or is called "/" where the caller asked about a file on it; and what is
 * asked under a chroot is not remembered.
 */
import type { Statvfs } from "@sysproxy/protocol"
import { Errno, mountFlags, statvfsFlags } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import type { SyscallContext } from "../kern/SyscallContext.ts"
import { pathOf } from "./Getcwd.ts"
import { PAGE_SIZE } from "./FileData.ts"
import type { HostStatfs } from "./host/HostCalls.ts"
import { toSysErr } from "./host/HostMount.ts"
import type { Mount } from "./Mount.ts"
import type { Directory } from "./Vnode.ts"

/** TMPFS_MAXNAMLEN: tmpfs's f_namemax. */
export const TMPFS_NAME_MAX = 255

export const TMPFS_TYPE_NAME = "tmpfs"
/** What a host file system calls itself (f_fstypename, and f_mntfromname: the host's path stays the operator's). */
export const HOSTFS_TYPE_NAME = "hostfs"

/** NetBSD's makefstype: the second word of f_fsidx. */
const makefstype = (type: string): number => {
  let rv = 0
  for (let i = 0; i < type.length; i++) rv = ((rv << 2) ^ type.charCodeAt(i)) | 0
  return rv
}

const FSTYPE = makefstype(TMPFS_TYPE_NAME)
const HOST_FSTYPE = makefstype(HOSTFS_TYPE_NAME)

/** f_fsidx: vfs_getnewfsid's two words, the first of them the st_dev of the files on it. */
export const fsidOf = (mount: Mount): readonly [number, number] => [mount.dev, mount.fstype === "tmpfs" ? FSTYPE : HOST_FSTYPE]

/** What statvfs counts: blocks of `bsize` bytes and nodes, in all, free and free for anyone. */
interface Figures {
  readonly bsize: number
  readonly blocks: number
  readonly bfree: number
  readonly bavail: number
  readonly files: number
  readonly ffree: number
}

const tmpfsFigures = (mount: Mount & { readonly fstype: "tmpfs" }): Figures => {
  const u = mount.usage()
  return { bsize: PAGE_SIZE, blocks: u.blocks, bfree: u.bfree, bavail: u.bfree, files: u.files, ffree: u.ffree }
}

/** The host's figures as last asked (none asked yet: all zero). */
const hostFigures = (s: HostStatfs | undefined): Figures => ({
  bsize: Number(s?.bsize ?? BigInt(PAGE_SIZE)),
  blocks: Number(s?.blocks ?? 0n),
  bfree: Number(s?.bfree ?? 0n),
  bavail: Number(s?.bavail ?? 0n),
  files: Number(s?.files ?? 0n),
  ffree: Number(s?.ffree ?? 0n)
})

/** f_flag: mnt_flag & MNT_VISFLAGMASK, as an unsigned word. */
const visibleFlags = (mount: Mount): number => (mount.flags & mountFlags.MNT_VISFLAGMASK) >>> 0

/** Fresh figures, which become the mount's remembered ones when `remember`. */
const fresh = (mount: Mount, remember: boolean): Statvfs => {
  const f = mount.fstype === "tmpfs" ? tmpfsFigures(mount) : hostFigures(mount.hostStatfs)
  const typeName = mount.fstype === "tmpfs" ? TMPFS_TYPE_NAME : HOSTFS_TYPE_NAME
  const stat: Statvfs = {
    flag: visibleFlags(mount),
    bsize: f.bsize,
    frsize: f.bsize,
    iosize: f.bsize,
    blocks: f.blocks,
    bfree: f.bfree,
    bavail: f.bavail,
    bresvd: f.bfree - f.bavail,
    files: f.files,
    ffree: f.ffree,
    favail: f.ffree,
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
    fstypename: typeName,
    mntonname: mount.onName,
    mntfromname: typeName
  }
  if (remember) mount.lastStat = stat
  return stat
}

const wantsFresh = (mount: Mount, flags: number): boolean =>
  flags === 0 || flags === statvfsFlags.ST_WAIT || mount.lastStat === undefined

/** dostatvfs: fresh for 0 or ST_WAIT (remembered unless told not to), the remembered figures otherwise (f_flag always current). */
export const statvfsOf = (mount: Mount, flags: number, remember = true): Statvfs => {
  const cached = wantsFresh(mount, flags) ? undefined : mount.lastStat
  if (cached === undefined) return fresh(mount, remember)
  return { ...cached, flag: visibleFlags(mount) }
}

/** statvfsOf, a host file system's figures asked of the host first when fresh ones are wanted. */
export const statvfsNow = (mount: Mount, flags: number, remember = true): Effect.Effect<Statvfs, SysErr> => {
  if (mount.fstype === "tmpfs" || !wantsFresh(mount, flags)) return Effect.sync(() => statvfsOf(mount, flags, remember))
  return Effect.map(
    Effect.mapError(mount.tree.statfs(mount.tree.root), toSysErr),
    (s) => {
      mount.hostStatfs = s
      return statvfsOf(mount, flags, remember)
    }
  )
}

/**
 * dostatvfs's names under a chroot whose root is `rootPath` from the real
 * root: a mount at or below it is named from the chroot ("/" for the root
 * itself); one elsewhere is "/" when `root` (the caller asked about a file
 * on it, or getvfsstat's stand-in root), else undefined (EPERM).
 */
export const seenFromChroot = (stat: Statvfs, rootPath: string, root: boolean): Statvfs | undefined => {
  if (rootPath === "/") return stat
  const name = stat.mntonname
  const next = name.startsWith(rootPath) ? name.charAt(rootPath.length) : undefined
  if (next === "/" || next === "") return { ...stat, mntonname: next === "" ? "/" : name.slice(rootPath.length) }
  return root ? { ...stat, mntonname: "/" } : undefined
}

/** The path of the caller's chroot from the real root (getcwd_common to rootvnode); ENOENT when it is gone. */
export const chrootPath = (ctx: SyscallContext, rdir: Directory): Effect.Effect<string, SysErr> => {
  const p = pathOf({ root: ctx.kernel.vfs.root, cred: ctx.proc }, rdir)
  return p === undefined ? sysErr(Errno.ENOENT) : Effect.succeed(p)
}

/** dostatvfs for the caller: its chroot's view of the names (EPERM for a mount it cannot see unless `root`). */
export const statvfsFor = (ctx: SyscallContext, mount: Mount, flags: number, root: boolean): Effect.Effect<Statvfs, SysErr> => {
  const rdir = ctx.proc.rdir
  if (rdir === undefined) return statvfsNow(mount, flags)
  return Effect.flatMap(chrootPath(ctx, rdir), (rootPath) =>
    Effect.flatMap(statvfsNow(mount, flags, false), (stat) => {
      const seen = seenFromChroot(stat, rootPath, root)
      return seen === undefined ? sysErr(Errno.EPERM) : Effect.succeed(seen)
    }))
}
