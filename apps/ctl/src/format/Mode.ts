/**
 * A file mode as ls -l and stat show it (strmode(3) without its trailing
 * space), the mark ls -F and stat's %T put after a name, and a device's
 * numbers (NetBSD's major() and minor() of a dev_t).
 */
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

/**
 * What ls -F (printtype) and stat's %T put after a name: / | @ = % by
 * type, * for an executable; ls marks anything executable, stat only a
 * regular file (`executableFilesOnly`).
 */
export const typeMark = (mode: number, executableFilesOnly = false): string => {
  switch (mode & modeBits.S_IFMT) {
    case modeBits.S_IFDIR:
      return "/"
    case modeBits.S_IFIFO:
      return "|"
    case modeBits.S_IFLNK:
      return "@"
    case modeBits.S_IFSOCK:
      return "="
    case modeBits.S_IFWHT:
      return "%"
  }
  if (executableFilesOnly && (mode & modeBits.S_IFMT) !== modeBits.S_IFREG) return ""
  return (mode & 0o111) !== 0 ? "*" : ""
}

export const isDevice = (mode: number): boolean =>
  (mode & modeBits.S_IFMT) === modeBits.S_IFCHR || (mode & modeBits.S_IFMT) === modeBits.S_IFBLK

/** major() of a dev_t. */
export const deviceMajor = (dev: number): number => (dev & 0x000fff00) >>> 8

/** minor() of a dev_t. */
export const deviceMinor = (dev: number): number => ((dev & 0x000000ff) | ((dev & 0xfff00000) >>> 12)) >>> 0
