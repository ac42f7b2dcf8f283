/**
 * File handles (NetBSD's fhandle_t with tmpfs's fid, vfs_composefh and
 * vfs_fhtovp): a node named by its file system and, within it, by inode
 * number and generation, so it can be found again without a path. A host
 * file system's handle carries the host inode number; it finds the node
 * while the vnode cache keeps it (the host cannot open an inode by number
 * for a server that is not privileged), ESTALE after.
 *
 * fhandle_t: fsid_t fh_fsid (f_fsidx, two int32), then struct fid, which
 * for tmpfs is struct tmpfs_fid: uint16 tf_len (16), uint16 tf_pad,
 * uint32 tf_gen, ino_t tf_id. Its size is FHANDLE_SIZE_MIN (28): the 24
 * bytes and zero padding.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import type { Mount } from "./Mount.ts"
import { fsidOf } from "./Statvfs.ts"
import type { Vnode } from "./Vnode.ts"

/** FHANDLE_SIZE_MIN (FHANDLE_SIZE_COMPAT) and FHANDLE_SIZE_MAX. */
export const FHANDLE_SIZE_MIN = 28
export const FHANDLE_SIZE_MAX = 1024
/** sizeof(struct tmpfs_fid). */
const TMPFS_FID_SIZE = 16
/** offsetof(fhandle_t, fh_fid). */
const FID_AT = 8
/** NFSX_V2FH: a handle of this size may carry a shorter one, zero padded (an NFSv2 kludge). */
const NFSX_V2FH = 32

/** FHANDLE_SIZE of a handle whose fid is `fidLen` bytes. */
const handleSize = (fidLen: number): number => Math.max(FHANDLE_SIZE_MIN, FID_AT + fidLen)

/** vfs_composefh_alloc: the handle of `node`. */
export const composeHandle = (node: Vnode): Uint8Array => {
  const bytes = new Uint8Array(handleSize(TMPFS_FID_SIZE))
  const v = new DataView(bytes.buffer)
  const [fsid0, fsid1] = fsidOf(node.mount)
  v.setInt32(0, fsid0, true)
  v.setInt32(4, fsid1, true)
  v.setUint16(FID_AT, TMPFS_FID_SIZE, true)
  v.setUint32(FID_AT + 4, node.gen, true)
  v.setBigUint64(FID_AT + 8, BigInt(node.ino), true)
  return bytes
}

/**
 * vfs_copyinfh_alloc's size rules for a handle given as `size` bytes whose
 * fid says it is `fidLen` long: EINVAL past FHANDLE_SIZE_MAX, under
 * FHANDLE_SIZE_MIN, or when the handle is another size; the size to read
 * it at.
 */
export const handleLength = (size: number, fidLen: number): Effect.Effect<number, SysErr> => {
  if (size > FHANDLE_SIZE_MAX || size < FHANDLE_SIZE_MIN) return sysErr(Errno.EINVAL)
  const own = handleSize(fidLen)
  if (own === size) return Effect.succeed(size)
  // an NFSv2 handle is padded to 32 bytes: it is read again at its own size
  if (size === NFSX_V2FH && own < size) return Effect.succeed(own)
  return sysErr(Errno.EINVAL)
}

/** The fid_len field of a handle's first bytes. */
export const fidLengthOf = (bytes: Uint8Array): number =>
  bytes.length < FID_AT + 2 ? 0 : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint16(FID_AT, true)

/**
 * vfs_fhtovp + tmpfs_fhtovp: the mount whose fsid the handle carries
 * (ESTALE if none), a tmpfs fid (EINVAL otherwise), a live node with that
 * inode number and generation (ESTALE otherwise).
 */
export const resolveHandle = (mounts: ReadonlyArray<Mount>, bytes: Uint8Array): Effect.Effect<Vnode, SysErr> =>
  Effect.suspend(() => {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const fsid = [v.getInt32(0, true), v.getInt32(4, true)]
    const mount = mounts.find((m) => {
      const [a, b] = fsidOf(m)
      return a === fsid[0] && b === fsid[1]
    })
    if (mount === undefined) return sysErr(Errno.ESTALE)
    if (v.getUint16(FID_AT, true) !== TMPFS_FID_SIZE) return sysErr(Errno.EINVAL)
    const gen = v.getUint32(FID_AT + 4, true)
    const ino = Number(v.getBigUint64(FID_AT + 8, true))
    const node = mount.fstype === "tmpfs" ? mount.byIno.get(ino) : mount.cached(ino)
    return node === undefined || node.gen !== gen ? sysErr(Errno.ESTALE) : Effect.succeed(node)
  })
