/**
 * pathconf(2) answers (VOP_PATHCONF): tmpfs's for its files, directories
 * and symlinks (tmpfs_pathconf), specfs's for device nodes
 * (spec_pathconf), fifofs's for fifos (fifo_pathconf). A name the file
 * system does not answer is EINVAL (undefined here).
 */
import { limits, pathconf } from "@sysproxy/protocol/netbsd"
import { TMPFS_NAME_MAX } from "./Statvfs.ts"
import type { VnodeType } from "./Vnode.ts"

const {
  _PC_LINK_MAX,
  _PC_MAX_CANON,
  _PC_MAX_INPUT,
  _PC_NAME_MAX,
  _PC_PATH_MAX,
  _PC_PIPE_BUF,
  _PC_CHOWN_RESTRICTED,
  _PC_NO_TRUNC,
  _PC_VDISABLE,
  _PC_SYNC_IO,
  _PC_FILESIZEBITS
} = pathconf

/** MAX_CANON and MAX_INPUT of a terminal (sys/syslimits.h). */
const MAX_CANON = 255
const MAX_INPUT = 255
/** _POSIX_VDISABLE (sys/unistd.h). */
const POSIX_VDISABLE = 0xff
/** sizeof(off_t) * CHAR_BIT. */
const OFF_T_BITS = 64

const tmpfs = new Map<number, number>([
  [_PC_LINK_MAX, limits.LINK_MAX],
  [_PC_NAME_MAX, TMPFS_NAME_MAX],
  [_PC_PATH_MAX, limits.PATH_MAX],
  [_PC_PIPE_BUF, limits.PIPE_BUF],
  [_PC_CHOWN_RESTRICTED, 1],
  [_PC_NO_TRUNC, 1],
  [_PC_SYNC_IO, 1],
  [_PC_FILESIZEBITS, OFF_T_BITS]
])

const spec = new Map<number, number>([
  [_PC_LINK_MAX, limits.LINK_MAX],
  [_PC_MAX_CANON, MAX_CANON],
  [_PC_MAX_INPUT, MAX_INPUT],
  [_PC_PIPE_BUF, limits.PIPE_BUF],
  [_PC_CHOWN_RESTRICTED, 1],
  [_PC_VDISABLE, POSIX_VDISABLE],
  [_PC_SYNC_IO, 1]
])

const fifo = new Map<number, number>([
  [_PC_LINK_MAX, limits.LINK_MAX],
  [_PC_PIPE_BUF, limits.PIPE_BUF],
  [_PC_CHOWN_RESTRICTED, 1],
  [_PC_SYNC_IO, 1]
])

/** The value of `name` for a node of `type`; undefined (EINVAL) when its file system has none. */
export const pathconfOf = (type: VnodeType, name: number): number | undefined => {
  switch (type) {
    case "chr":
    case "blk":
      return spec.get(name)
    case "fifo":
      return fifo.get(name)
    default:
      return tmpfs.get(name)
  }
}

/** What a pipe or socket answers (sys_fpathconf): only _PC_PIPE_BUF. */
export const pipePathconf = (name: number): number | undefined => (name === _PC_PIPE_BUF ? limits.PIPE_BUF : undefined)

/** spec_pathconf, for a device file that has no node behind it (the console of a guest that has none). */
export const devicePathconf = (name: number): number | undefined => spec.get(name)
