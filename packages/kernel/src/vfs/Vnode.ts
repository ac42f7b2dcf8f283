/**
 * A file system node. The VFS (vfs/*) owns its full shape; the rest of the
 * kernel only holds references to vnodes (a process's cwd, an open file).
 */
export interface Vnode {
  /** Inode number, unique within its file system. */
  readonly ino: number
}
