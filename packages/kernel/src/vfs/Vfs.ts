/**
 * The VFS as the rest of the kernel sees it. (Placeholder contract; the VFS
 * implementation fills it in.)
 */
import type { File } from "../fd/File.ts"
import type { Vnode } from "./Vnode.ts"

export interface Vfs {
  readonly root: Vnode
  /** A new open file on /dev/console, write-only (fds 0-2 of a new guest). */
  readonly openConsole: () => File
}

export interface VfsOptions {
  readonly physmem: number
  readonly console: (pid: number, bytes: Uint8Array) => void
}

export declare const makeVfs: (options: VfsOptions) => Vfs
