/**
 * What the file system tells the knotes on its vnodes (VN_KNOTE), with the
 * hints tmpfs gives in NetBSD 7:
 * - a write: NOTE_EXTEND when it grew the file, then NOTE_WRITE;
 * - a truncate that grows the file: NOTE_EXTEND (shrinking tells nothing);
 * - chmod, chown, utimes: NOTE_ATTRIB;
 * - a new entry in a directory (tmpfs_dir_attach): the directory gets
 *   NOTE_WRITE, and NOTE_LINK too when the entry is a directory; a hard
 *   link also gives the node NOTE_LINK;
 * - an entry taken out (tmpfs_dir_detach): the node NOTE_LINK while it has
 *   links left, NOTE_DELETE when that was its last (a directory's "."
 *   goes first, so rmdir is NOTE_DELETE); the directory as for attach;
 * - rename: the moved node is detached from its old directory and attached
 *   to the new one when the directory changes (so a file with one link
 *   sees NOTE_DELETE), the directory gets NOTE_WRITE when it stays, a
 *   replaced node is detached, and the moved node gets NOTE_RENAME last;
 * - revoke: NOTE_REVOKE.
 */
import { notes } from "../abi/Kevent.ts"
import type { Directory, Vnode } from "../vfs/Vnode.ts"

const { NOTE_DELETE, NOTE_WRITE, NOTE_EXTEND, NOTE_ATTRIB, NOTE_LINK, NOTE_RENAME, NOTE_REVOKE } = notes

const dirHint = (node: Vnode): number => NOTE_WRITE | (node.type === "dir" ? NOTE_LINK : 0)

/** Data was written; `extended` when the file grew. */
export const knoteWritten = (node: Vnode, extended: boolean): void => {
  if (extended) node.knotes.notify(NOTE_EXTEND)
  node.knotes.notify(NOTE_WRITE)
}

/** The size was set: only growth is told. */
export const knoteResized = (node: Vnode, from: number, to: number): void => {
  if (to > from) node.knotes.notify(NOTE_EXTEND)
}

/** Mode, owner or times changed. */
export const knoteAttrib = (node: Vnode): void => node.knotes.notify(NOTE_ATTRIB)

/** `node` got a name in `dir`; `linked` when that is a new hard link of an existing node. */
export const knoteAttached = (dir: Directory, node: Vnode, linked = false): void => {
  dir.knotes.notify(dirHint(node))
  if (linked) node.knotes.notify(NOTE_LINK)
}

/** `node`'s name in `dir` is gone (its link count already dropped). */
export const knoteDetached = (dir: Directory, node: Vnode): void => {
  node.knotes.notify(node.nlink > 0 ? NOTE_LINK : NOTE_DELETE)
  dir.knotes.notify(dirHint(node))
}

/**
 * `node` was renamed from `from` into `to` (a replaced entry was detached
 * already, `replaced` telling whether there was one).
 */
export const knoteRenamed = (from: Directory, to: Directory, node: Vnode, replaced: boolean): void => {
  if (from !== to) {
    // detached and attached again: its last link gone for a moment
    node.knotes.notify(node.nlink > 1 ? NOTE_LINK : NOTE_DELETE)
    from.knotes.notify(dirHint(node))
    to.knotes.notify(dirHint(node))
  } else if (!replaced) {
    from.knotes.notify(NOTE_WRITE)
  }
  node.knotes.notify(NOTE_RENAME)
}

/** Access to the node was revoked. */
export const knoteRevoked = (node: Vnode): void => node.knotes.notify(NOTE_REVOKE)
