/**
 * struct stat (Structs.stat, 152 bytes) for __stat50, __lstat50, __fstat50
 * and fstatat: the codec is shared with the client (@sysproxy/protocol);
 * the kernel keeps no file flags or generation numbers, so those are 0.
 */
import type { Stat } from "@sysproxy/protocol"

/** What stat reports about a file. */
export type StatInfo = Omit<Stat, "flags" | "gen">

export { encodeStat, STAT_SIZE } from "@sysproxy/protocol"
