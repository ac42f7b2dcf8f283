/**
 * The lwps of a process now in the kernel: a list threaded through the
 * lwps themselves, with a Set's methods (add, has, delete, size, iteration
 * in the order they came).
 *
 * Not a Set: every syscall makes an lwp and lets it go, so the set would
 * go from empty to one and back on every call, and V8 reallocates a Set's
 * table each time it shrinks. The table it leaves behind points to its
 * successor, and once one of them has reached old space every later one is
 * kept alive through a young collection and promoted: ~120 bytes of old
 * space per syscall (bench/syscalls.ts). A link in the lwp costs nothing.
 */
import type { Lwp } from "./Lwp.ts"

export class LwpList implements Iterable<Lwp> {
  private head: Lwp | undefined = undefined
  private tail: Lwp | undefined = undefined
  private count = 0

  get size(): number {
    return this.count
  }

  add(lwp: Lwp): this {
    if (lwp.list !== undefined) return this
    lwp.list = this
    lwp.prev = this.tail
    lwp.next = undefined
    if (this.tail === undefined) this.head = lwp
    else this.tail.next = lwp
    this.tail = lwp
    this.count++
    return this
  }

  has(lwp: Lwp): boolean {
    return lwp.list === this
  }

  delete(lwp: Lwp): boolean {
    if (lwp.list !== this) return false
    const { prev, next } = lwp
    if (prev === undefined) this.head = next
    else prev.next = next
    if (next === undefined) this.tail = prev
    else next.prev = prev
    // a released lwp keeps no link: garbage must not point at live lwps
    lwp.list = lwp.prev = lwp.next = undefined
    this.count--
    return true
  }

  /**
   * The lwps as they are now: callers order them out, which may end their
   * calls and take them off the list while the loop runs.
   */
  [Symbol.iterator](): Iterator<Lwp> {
    const now: Array<Lwp> = []
    for (let l = this.head; l !== undefined; l = l.next) now.push(l)
    return now[Symbol.iterator]()
  }
}
