/**
 * struct statvfs as NetBSD/amd64 lays it out (Structs.statvfs, 2256 bytes),
 * as statvfs1, fstatvfs1, getvfsstat and __fhstatvfs140 copy it out:
 * written by the kernel, read by the client.
 */
import { allocBytes, viewOf } from "../Bytes.ts"
import { Structs } from "../netbsd/index.ts"
import { fieldOffset } from "./Fields.ts"

export interface Statvfs {
  /** ST_* flags (the mount's visible MNT_* flags). */
  readonly flag: number
  readonly bsize: number
  readonly frsize: number
  readonly iosize: number
  /** Sizes in f_frsize units. */
  readonly blocks: number
  readonly bfree: number
  readonly bavail: number
  readonly bresvd: number
  /** Nodes. */
  readonly files: number
  readonly ffree: number
  readonly favail: number
  readonly fresvd: number
  readonly syncreads: number
  readonly syncwrites: number
  readonly asyncreads: number
  readonly asyncwrites: number
  /** f_fsidx: the two 32-bit words of the fsid_t. */
  readonly fsidx: readonly [number, number]
  readonly fsid: number
  readonly namemax: number
  readonly owner: number
  readonly fstypename: string
  readonly mntonname: string
  readonly mntfromname: string
}

export const STATVFS_SIZE = Structs.statvfs.size

const at = (name: string) => fieldOffset(Structs.statvfs, name)
const U64_FIELDS = [
  ["flag", "f_flag"],
  ["bsize", "f_bsize"],
  ["frsize", "f_frsize"],
  ["iosize", "f_iosize"],
  ["blocks", "f_blocks"],
  ["bfree", "f_bfree"],
  ["bavail", "f_bavail"],
  ["bresvd", "f_bresvd"],
  ["files", "f_files"],
  ["ffree", "f_ffree"],
  ["favail", "f_favail"],
  ["fresvd", "f_fresvd"],
  ["syncreads", "f_syncreads"],
  ["syncwrites", "f_syncwrites"],
  ["asyncreads", "f_asyncreads"],
  ["asyncwrites", "f_asyncwrites"],
  ["fsid", "f_fsid"],
  ["namemax", "f_namemax"]
] as const satisfies ReadonlyArray<readonly [keyof Statvfs, string]>
const U64_OFFSETS = U64_FIELDS.map(([key, name]) => [key, at(name)] as const)
const FSIDX = at("f_fsidx")
const OWNER = at("f_owner")
const STRINGS = [
  ["fstypename", at("f_fstypename"), Structs.statvfs.fields.find((f) => f.name === "f_fstypename")?.size ?? 32],
  ["mntonname", at("f_mntonname"), Structs.statvfs.fields.find((f) => f.name === "f_mntonname")?.size ?? 1024],
  ["mntfromname", at("f_mntfromname"), Structs.statvfs.fields.find((f) => f.name === "f_mntfromname")?.size ?? 1024]
] as const

/** A name as the kernel keeps it (one char per byte), truncated to leave room for its NUL. */
const putString = (bytes: Uint8Array, offset: number, size: number, s: string): void => {
  const n = Math.min(s.length, size - 1)
  for (let i = 0; i < n; i++) bytes[offset + i] = s.charCodeAt(i) & 0xff
}

const getString = (bytes: Uint8Array, offset: number, size: number): string => {
  let s = ""
  for (let i = 0; i < size; i++) {
    const c = bytes[offset + i] ?? 0
    if (c === 0) break
    s += String.fromCharCode(c)
  }
  return s
}

/** The 2256 bytes of a struct statvfs; f_spare and the padding are zero. */
export const encodeStatvfs = (s: Statvfs): Uint8Array => {
  const bytes = allocBytes(STATVFS_SIZE)
  const view = viewOf(bytes)
  const o = bytes.byteOffset
  for (const [key, offset] of U64_OFFSETS) view.setBigUint64(o + offset, BigInt(s[key]), true)
  view.setInt32(o + FSIDX, s.fsidx[0], true)
  view.setInt32(o + FSIDX + 4, s.fsidx[1], true)
  view.setUint32(o + OWNER, s.owner, true)
  for (const [key, offset, size] of STRINGS) putString(bytes, offset, size, s[key])
  return bytes
}

/** The struct statvfs at the start of `bytes` (at least STATVFS_SIZE of them). */
export const decodeStatvfs = (bytes: Uint8Array): Statvfs => {
  const view = viewOf(bytes)
  const o = bytes.byteOffset
  const u64 = (offset: number) => Number(view.getBigUint64(o + offset, true))
  const numbers = Object.fromEntries(U64_OFFSETS.map(([key, offset]) => [key, u64(offset)]))
  return {
    ...(numbers as Record<(typeof U64_FIELDS)[number][0], number>),
    fsidx: [view.getInt32(o + FSIDX, true), view.getInt32(o + FSIDX + 4, true)],
    owner: view.getUint32(o + OWNER, true),
    fstypename: getString(bytes, STRINGS[0][1], STRINGS[0][2]),
    mntonname: getString(bytes, STRINGS[1][1], STRINGS[1][2]),
    mntfromname: getString(bytes, STRINGS[2][1], STRINGS[2][2])
  }
}
