/**
 * struct stat (Structs.stat, 152 bytes) for __stat50, __lstat50, __fstat50
 * and fstatat: the codec is shared with the client (@sysproxy/protocol);
 * the kernel keeps no generation numbers, so st_gen is 0.
 */
import type { Stat } from "@sysproxy/protocol"

/** What stat reports about a file (st_flags where the file has any; rdev -1 is NODEV). */
export type StatInfo = Omit<Stat, "flags" | "gen"> & Partial<Pick<Stat, "flags">>

export { encodeStat, STAT_SIZE } from "@sysproxy/protocol"
