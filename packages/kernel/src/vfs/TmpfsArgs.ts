/**
 * struct tmpfs_args (version 1), the data argument of a tmpfs mount, as
 * NetBSD/amd64 lays it out: int ta_version; ino_t ta_nodes_max; off_t
 * ta_size_max; uid_t ta_root_uid; gid_t ta_root_gid; mode_t ta_root_mode.
 */
import { modeBits } from "@sysproxy/protocol/netbsd"
import type { TmpfsMountArgs } from "./Mount.ts"
import type { TmpfsOptions } from "./Vfs.ts"

export const TMPFS_ARGS_VERSION = 1
export const TMPFS_ARGS_SIZE = 40

const VERSION = 0
const NODES_MAX = 8
const SIZE_MAX = 16
const ROOT_UID = 24
const ROOT_GID = 28
const ROOT_MODE = 32

/** ta_version of the struct in `bytes` (at least TMPFS_ARGS_SIZE of them). */
export const decodeTmpfsVersion = (bytes: Uint8Array): number =>
  new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getInt32(VERSION, true)

/** VNOVAL as a uid_t or gid_t: no owner a root may have. */
const VNOVAL_ID = 0xffff_ffff

/** The mount options in `bytes`; undefined (EINVAL) for a version this kernel does not know or a root owned by VNOVAL, as tmpfs_mount. */
export const decodeTmpfsArgs = (bytes: Uint8Array): TmpfsOptions | undefined => {
  if (bytes.length < TMPFS_ARGS_SIZE) return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (view.getInt32(VERSION, true) !== TMPFS_ARGS_VERSION) return undefined
  if (view.getUint32(ROOT_UID, true) === VNOVAL_ID || view.getUint32(ROOT_GID, true) === VNOVAL_ID) return undefined
  const nodesMax = view.getBigUint64(NODES_MAX, true)
  const sizeMax = view.getBigInt64(SIZE_MAX, true)
  const clamp = (v: bigint) => (v <= 0n ? 0 : v > BigInt(Number.MAX_SAFE_INTEGER) ? 0 : Number(v))
  return {
    root: {
      uid: view.getUint32(ROOT_UID, true),
      gid: view.getUint32(ROOT_GID, true),
      mode: view.getUint32(ROOT_MODE, true) & modeBits.ALLPERMS
    },
    nodesMax: clamp(nodesMax),
    sizeMax: clamp(sizeMax)
  }
}

/** struct tmpfs_args as MNT_GETARGS answers it (version 1; the size limit's 64 bits as they are, UINT64_MAX for none). */
export const encodeTmpfsArgs = (a: TmpfsMountArgs): Uint8Array => {
  const bytes = new Uint8Array(TMPFS_ARGS_SIZE)
  const view = new DataView(bytes.buffer)
  view.setInt32(VERSION, TMPFS_ARGS_VERSION, true)
  view.setBigUint64(NODES_MAX, BigInt(a.nodesMax), true)
  view.setBigUint64(SIZE_MAX, a.sizeMax, true)
  view.setUint32(ROOT_UID, a.root.uid, true)
  view.setUint32(ROOT_GID, a.root.gid, true)
  view.setUint32(ROOT_MODE, a.root.mode, true)
  return bytes
}
