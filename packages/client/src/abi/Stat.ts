/**
 * struct stat (Structs.stat, 152 bytes) as __stat50, __lstat50 and
 * __fstat50 copy it out, and the file-type tests of sys/stat.h.
 */
import { modeBits, Structs } from "@sysproxy/protocol/netbsd"
import { structReader } from "./StructReader.ts"
import { decodeTimespec, type Timespec } from "./Timespec.ts"

export interface Stat {
  readonly dev: number
  /** File type (S_IFMT bits) and permission bits. */
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
  readonly flags: number
  readonly gen: number
}

export const STAT_SIZE = Structs.stat.size

const read = structReader(Structs.stat)

export const decodeStat = (bytes: Uint8Array): Stat => {
  const r = read(bytes)
  const ts = (name: "st_atim" | "st_mtim" | "st_ctim" | "st_birthtim") => decodeTimespec(bytes, r.offset(name))
  return {
    dev: r.int("st_dev"),
    mode: r.int("st_mode"),
    ino: r.int("st_ino"),
    nlink: r.int("st_nlink"),
    uid: r.int("st_uid"),
    gid: r.int("st_gid"),
    rdev: r.int("st_rdev"),
    atime: ts("st_atim"),
    mtime: ts("st_mtim"),
    ctime: ts("st_ctim"),
    birthtime: ts("st_birthtim"),
    size: r.int("st_size"),
    blocks: r.int("st_blocks"),
    blksize: r.int("st_blksize"),
    flags: r.int("st_flags"),
    gen: r.int("st_gen")
  }
}

/** The S_IFMT bits of a mode. */
export const fileType = (mode: number): number => mode & modeBits.S_IFMT

export const isDirectory = (s: Pick<Stat, "mode">): boolean => fileType(s.mode) === modeBits.S_IFDIR
export const isRegularFile = (s: Pick<Stat, "mode">): boolean => fileType(s.mode) === modeBits.S_IFREG
export const isSymbolicLink = (s: Pick<Stat, "mode">): boolean => fileType(s.mode) === modeBits.S_IFLNK
