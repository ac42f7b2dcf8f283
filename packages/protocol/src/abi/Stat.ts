/**
 * struct stat as NetBSD/amd64 lays it out (Structs.stat, 152 bytes), as
 * __stat50, __lstat50, __fstat50 and fstatat copy it out: written by the
 * kernel, read by the client.
 */
import { allocBytes, viewOf } from "../Bytes.ts"
import { Structs } from "../netbsd/index.ts"
import { fieldOffset } from "./Fields.ts"
import { readTimespec, type Timespec, writeTimespec } from "./Timespec.ts"

export interface Stat {
  readonly dev: number
  /** File type (S_IFMT bits) and permission bits. */
  readonly mode: number
  readonly ino: number
  readonly nlink: number
  readonly uid: number
  readonly gid: number
  /** st_rdev; -1 is NODEV (not a device). */
  readonly rdev: number
  readonly atime: Timespec
  readonly mtime: Timespec
  readonly ctime: Timespec
  readonly birthtime: Timespec
  readonly size: number
  /** Allocated space in 512-byte units. */
  readonly blocks: number
  readonly blksize: number
  /** st_flags (chflags); 0 where the file system has none. */
  readonly flags: number
  /** st_gen, the file's generation number; 0 where the file system keeps none. */
  readonly gen: number
}

export const STAT_SIZE = Structs.stat.size

const at = (name: string) => fieldOffset(Structs.stat, name)
const DEV = at("st_dev")
const MODE = at("st_mode")
const INO = at("st_ino")
const NLINK = at("st_nlink")
const UID = at("st_uid")
const GID = at("st_gid")
const RDEV = at("st_rdev")
const ATIM = at("st_atim")
const MTIM = at("st_mtim")
const CTIM = at("st_ctim")
const BIRTHTIM = at("st_birthtim")
const SIZE = at("st_size")
const BLOCKS = at("st_blocks")
const BLKSIZE = at("st_blksize")
const FLAGS = at("st_flags")
const GEN = at("st_gen")

/** The 152 bytes of a struct stat; padding and st_spare are zero, as are flags and gen when not given. */
export const encodeStat = (s: Omit<Stat, "flags" | "gen"> & Partial<Pick<Stat, "flags" | "gen">>): Uint8Array => {
  const bytes = allocBytes(STAT_SIZE)
  const view = viewOf(bytes)
  const o = bytes.byteOffset
  view.setBigUint64(o + DEV, BigInt(s.dev), true)
  view.setUint32(o + MODE, s.mode, true)
  view.setBigUint64(o + INO, BigInt(s.ino), true)
  view.setUint32(o + NLINK, s.nlink, true)
  view.setUint32(o + UID, s.uid, true)
  view.setUint32(o + GID, s.gid, true)
  // NODEV is (dev_t)-1: a negative rdev is written as its 64-bit two's complement
  view.setBigUint64(o + RDEV, BigInt.asUintN(64, BigInt(s.rdev)), true)
  writeTimespec(view, o + ATIM, s.atime)
  writeTimespec(view, o + MTIM, s.mtime)
  writeTimespec(view, o + CTIM, s.ctime)
  writeTimespec(view, o + BIRTHTIM, s.birthtime)
  view.setBigInt64(o + SIZE, BigInt(s.size), true)
  view.setBigInt64(o + BLOCKS, BigInt(s.blocks), true)
  view.setInt32(o + BLKSIZE, s.blksize, true)
  view.setUint32(o + FLAGS, s.flags ?? 0, true)
  view.setUint32(o + GEN, s.gen ?? 0, true)
  return bytes
}

/** The struct stat at the start of `bytes` (at least STAT_SIZE of them). */
export const decodeStat = (bytes: Uint8Array): Stat => {
  const view = viewOf(bytes)
  const o = bytes.byteOffset
  return {
    dev: Number(view.getBigUint64(o + DEV, true)),
    mode: view.getUint32(o + MODE, true),
    ino: Number(view.getBigUint64(o + INO, true)),
    nlink: view.getUint32(o + NLINK, true),
    uid: view.getUint32(o + UID, true),
    gid: view.getUint32(o + GID, true),
    // signed, so NODEV ((dev_t)-1, a file that is no device) reads back as -1
    rdev: Number(view.getBigInt64(o + RDEV, true)),
    atime: readTimespec(view, o + ATIM),
    mtime: readTimespec(view, o + MTIM),
    ctime: readTimespec(view, o + CTIM),
    birthtime: readTimespec(view, o + BIRTHTIM),
    size: Number(view.getBigInt64(o + SIZE, true)),
    blocks: Number(view.getBigInt64(o + BLOCKS, true)),
    blksize: view.getInt32(o + BLKSIZE, true),
    flags: view.getUint32(o + FLAGS, true),
    gen: view.getUint32(o + GEN, true)
  }
}
