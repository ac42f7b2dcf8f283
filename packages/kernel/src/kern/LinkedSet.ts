/**
 * A set threaded through its members (an intrusive doubly linked list),
 * with a Set's methods: add, has, delete, size, iteration in the order of
 * arrival. For sets a syscall fills and empties every time: a process's
 * lwps in the kernel, a kqueue's queue of active knotes.
 *
 * Not a Set: V8 reallocates a Set's table when it shrinks, and the table
 * it leaves behind points to its successor. Once one of those tables has
 * reached old space (it was current during a young collection), every
 * later one is kept alive through the next young collection and promoted:
 * for a set going from empty to one and back on every call, ~120 bytes of
 * old space per syscall, and young collections that copy a growing chain
 * (bench/syscalls.ts). Links in the members cost no allocation at all.
 * A member is in one LinkedSet at a time.
 */

/** The fields a member carries for the set it is in. */
export interface Linked<T extends Linked<T>> {
  linkedIn: LinkedSet<T> | undefined
  linkPrev: T | undefined
  linkNext: T | undefined
}

export class LinkedSet<T extends Linked<T>> implements Iterable<T> {
  private head: T | undefined = undefined
  private tail: T | undefined = undefined
  private count = 0

  get size(): number {
    return this.count
  }

  /** Adds `item` at the end (nothing when it is here already). */
  add(item: T): this {
    if (item.linkedIn !== undefined) return this
    item.linkedIn = this
    item.linkPrev = this.tail
    item.linkNext = undefined
    if (this.tail === undefined) this.head = item
    else this.tail.linkNext = item
    this.tail = item
    this.count++
    return this
  }

  has(item: T): boolean {
    return item.linkedIn === this
  }

  delete(item: T): boolean {
    if (item.linkedIn !== this) return false
    const prev = item.linkPrev
    const next = item.linkNext
    if (prev === undefined) this.head = next
    else prev.linkNext = next
    if (next === undefined) this.tail = prev
    else next.linkPrev = prev
    // a member that left keeps no link: garbage must not point at live members
    item.linkedIn = undefined
    item.linkPrev = undefined
    item.linkNext = undefined
    this.count--
    return true
  }

  /** The oldest member, if any. */
  first(): T | undefined {
    return this.head
  }

  /**
   * The members as they are now: callers may take members off (or add
   * some) while the loop runs, as ordering lwps out or collecting knotes
   * does.
   */
  [Symbol.iterator](): Iterator<T> {
    const now: Array<T> = []
    for (let at = this.head; at !== undefined; at = at.linkNext) now.push(at)
    return now[Symbol.iterator]()
  }
}
