/**
 * struct stat as NetBSD/amd64 lays it out (Structs.stat, 152 bytes), for
 * __stat50, __lstat50, __fstat50 and fstatat.
 */
import { Structs } from "@sysproxy/protocol/netbsd"
import { type Timespec, writeTimespec } from "./Timespec.ts"

/** What stat reports about a file. */
export interface StatInfo {
  readonly dev: number
  /** File type bits and permission bits. */
  readonly mode: number
  readonly ino: number
  readonly nlink: number
  readonly uid: number
  readonly gid: number
  readonly rdev: number
  readonly atime: Timespec
  readonly mtime: Timespec
  readonly ctime: Timespec
  readonly birthtime: Timespec
  readonly size: number
  /** Allocated space in 512-byte units. */
  readonly blocks: number
  readonly blksize: number
}

export const STAT_SIZE = Structs.stat.size

const offsets = new Map<string, number>(Structs.stat.fields.map((f) => [f.name, f.offset]))
const at = (name: string): number => offsets.get(name) ?? 0

/** The 152 bytes of struct stat; padding and st_flags/st_gen/st_spare are zero. */
export const encodeStat = (s: StatInfo): Uint8Array => {
  const bytes = new Uint8Array(STAT_SIZE)
  const view = new DataView(bytes.buffer)
  view.setBigUint64(at("st_dev"), BigInt(s.dev), true)
  view.setUint32(at("st_mode"), s.mode, true)
  view.setBigUint64(at("st_ino"), BigInt(s.ino), true)
  view.setUint32(at("st_nlink"), s.nlink, true)
  view.setUint32(at("st_uid"), s.uid, true)
  view.setUint32(at("st_gid"), s.gid, true)
  view.setBigUint64(at("st_rdev"), BigInt(s.rdev), true)
  writeTimespec(view, at("st_atim"), s.atime)
  writeTimespec(view, at("st_mtim"), s.mtime)
  writeTimespec(view, at("st_ctim"), s.ctime)
  writeTimespec(view, at("st_birthtim"), s.birthtime)
  view.setBigInt64(at("st_size"), BigInt(s.size), true)
  view.setBigInt64(at("st_blocks"), BigInt(s.blocks), true)
  view.setInt32(at("st_blksize"), s.blksize, true)
  return bytes
}
