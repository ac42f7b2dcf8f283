/**
 * struct stat as __stat50, __lstat50 and __fstat50 copy it out (the codec
 * is the kernel's own, from @sysproxy/protocol), and the file-type tests
 * of sys/stat.h.
 */
import type { Stat } from "@sysproxy/protocol"
import { modeBits } from "@sysproxy/protocol/netbsd"

export { decodeStat, type Stat, STAT_SIZE } from "@sysproxy/protocol"

/** The S_IFMT bits of a mode. */
export const fileType = (mode: number): number => mode & modeBits.S_IFMT

export const isDirectory = (s: Pick<Stat, "mode">): boolean => fileType(s.mode) === modeBits.S_IFDIR
export const isRegularFile = (s: Pick<Stat, "mode">): boolean => fileType(s.mode) === modeBits.S_IFREG
export const isSymbolicLink = (s: Pick<Stat, "mode">): boolean => fileType(s.mode) === modeBits.S_IFLNK
