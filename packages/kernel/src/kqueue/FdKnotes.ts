/**
 * The knotes a descriptor table's kqueues hold on its descriptors (each
 * fdfile's ff_knlist): closing a descriptor takes them away
 * (knote_fdclose), whichever kqueue they belong to, even while other
 * descriptors of the same file stay open.
 */
import type { Knote } from "./Knote.ts"

export class FdKnotes {
  private readonly byFd = new Map<number, Set<Knote>>()

  add(fd: number, kn: Knote): void {
    let s = this.byFd.get(fd)
    if (s === undefined) {
      s = new Set()
      this.byFd.set(fd, s)
    }
    s.add(kn)
  }

  remove(fd: number, kn: Knote): void {
    const s = this.byFd.get(fd)
    if (s === undefined) return
    s.delete(kn)
    if (s.size === 0) this.byFd.delete(fd)
  }

  /** knote_fdclose: descriptor `fd` is closing; its knotes go. */
  fdClosed(fd: number): void {
    const s = this.byFd.get(fd)
    if (s === undefined) return
    for (const kn of [...s]) kn.kq.drop(kn, true)
    this.byFd.delete(fd)
  }
}
