/** A file mode as ls -l and stat show it (strmode(3) without its trailing space). */
import { modeBits } from "@sysproxy/protocol/netbsd"

const typeChar = (mode: number): string => {
  switch (mode & modeBits.S_IFMT) {
    case modeBits.S_IFDIR:
      return "d"
    case modeBits.S_IFLNK:
      return "l"
    case modeBits.S_IFCHR:
      return "c"
    case modeBits.S_IFBLK:
      return "b"
    case modeBits.S_IFIFO:
      return "p"
    case modeBits.S_IFSOCK:
      return "s"
    case modeBits.S_IFWHT:
      return "w"
    case modeBits.S_IFREG:
      return "-"
    default:
      return "?"
  }
}

/** r, w, and the execute slot, which also shows setuid/setgid/sticky (lower case when executable too). */
const triplet = (bits: number, special: boolean, specialChar: string): string => {
  const x = (bits & 1) !== 0
  const exec = special ? (x ? specialChar : specialChar.toUpperCase()) : x ? "x" : "-"
  return `${(bits & 4) !== 0 ? "r" : "-"}${(bits & 2) !== 0 ? "w" : "-"}${exec}`
}

export const modeString = (mode: number): string =>
  typeChar(mode) +
  triplet(mode >> 6, (mode & modeBits.S_ISUID) !== 0, "s") +
  triplet(mode >> 3, (mode & modeBits.S_ISGID) !== 0, "s") +
  triplet(mode, (mode & modeBits.S_ISVTX) !== 0, "t")
