/**
 * The host file system's vnode cache, bounded: memory (and host
 * descriptors) depend on what clients use, not on the size of the tree.
 *
 * Vnodes are keyed by host identity (`vnodeKey(st_dev, st_ino)`), so every
 * name of a node (hard links) and every lookup of it finds the one vnode.
 * A vnode is held while a host call runs on it, and while something keeps
 * it that needs its descriptor (an open file, a mount point, the root): a
 * held vnode is never dropped. The others wait, least recently used first
 * (a lookup that finds one makes it the most recent), and are dropped
 * (their `drop` run: it closes the vnode's host descriptor) once the cache
 * holds more than `capacity` vnodes; so the cache exceeds its capacity only
 * by vnodes held beyond it, as NetBSD's vcache does past desiredvnodes.
 *
 * A dropped vnode that something still references (a process's cwd, a
 * directory's child, a bound socket) is not replaced by a second vnode for
 * the same node: a weak index finds it again as long as it lives, and it
 * comes back as an idle entry (its owner reopens what `drop` closed). So
 * the kernel's state of a node (knotes, locks) is never split between two
 * vnodes; only a vnode nothing references is gone.
 */
import { Effect } from "effect"
import { type Linked, LinkedSet } from "../../kern/LinkedSet.ts"

/** One key per host node: st_dev and st_ino (both 64-bit). */
export const vnodeKey = (dev: bigint, ino: bigint): bigint => (BigInt.asUintN(64, dev) << 64n) | BigInt.asUintN(64, ino)

interface Entry<V> extends Linked<Entry<V>> {
  readonly key: bigint
  readonly value: V
  holds: number
  /** Its node is gone: dropped at its last release, never kept again. */
  forgotten: boolean
}

export interface VnodeCacheOptions<V> {
  /** Most vnodes kept (held ones are kept whatever it says). */
  readonly capacity: number
  /** Releases what a dropped vnode has on the host (its descriptor). */
  readonly drop: (value: V) => Effect.Effect<void>
}

export class VnodeCache<V extends object> {
  readonly capacity: number
  readonly #drop: (value: V) => Effect.Effect<void>
  /** Every vnode kept, held or not. */
  readonly #entries = new Map<bigint, Entry<V>>()
  /**
   * The vnodes nobody holds, least recently used first. Threaded through the
   * entries: every lookup moves one and every host call holds and releases
   * one, and a Map's table churned like that is promoted (kern/LinkedSet.ts).
   */
  readonly #idle = new LinkedSet<Entry<V>>()
  readonly #entryOf = new WeakMap<V, Entry<V>>()
  /** Dropped vnodes something may still reference. */
  readonly #dropped = new Map<bigint, WeakRef<V>>()
  readonly #collected = new FinalizationRegistry<bigint>((key) => {
    if (this.#dropped.get(key)?.deref() === undefined) this.#dropped.delete(key)
  })
  /** Vnodes dropped since the cache was made. */
  drops = 0

  constructor(options: VnodeCacheOptions<V>) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) throw new Error(`vnode cache capacity ${options.capacity}`)
    this.capacity = options.capacity
    this.#drop = options.drop
  }

  /** Vnodes kept. */
  get size(): number {
    return this.#entries.size
  }

  /** Vnodes kept that nobody holds. */
  get idle(): number {
    return this.#idle.size
  }

  /**
   * The vnode of `key`, if one is kept (it becomes the most recently used),
   * or still referenced since it was dropped (it is kept again when held,
   * its descriptor reopened by its owner). Not held.
   */
  find(key: bigint): V | undefined {
    const e = this.#entries.get(key)
    if (e === undefined) return this.#dropped.get(key)?.deref()
    if (e.holds === 0) {
      // most recently used: to the end of the idle order
      this.#idle.delete(e)
      this.#idle.add(e)
    }
    return e.value
  }

  /**
   * Keeps `value` as the vnode of `key` (idle, the most recently used: older
   * idle ones make room for it) and answers it. When `key` has a vnode
   * already (two lookups of one node at once), that one is answered and
   * `value` is dropped.
   */
  add(key: bigint, value: V): Effect.Effect<V> {
    return Effect.suspend(() => {
      const existing = this.find(key)
      if (existing !== undefined) return existing === value ? Effect.succeed(value) : Effect.as(this.#drop(value), existing)
      const e = this.#keep(key, value)
      return Effect.as(Effect.andThen(this.trim, Effect.sync(() => this.#idle.add(e))), value)
    })
  }

  /**
   * Something of the kernel keeps `value`: it is not dropped until released
   * as often. A dropped vnode held again is its node's vnode again; one
   * whose node is gone stays out of the index (held, then dropped again).
   */
  hold(value: V): void {
    let e = this.#entryOf.get(value)
    if (e === undefined) throw new Error("vnode cache: hold of a vnode never kept")
    if (!e.forgotten && this.#entries.get(e.key) !== e) {
      // dropped meanwhile, yet referenced: it is the node's vnode again (no other took its key)
      if (this.#entries.has(e.key)) throw new Error("vnode cache: hold of a vnode replaced")
      this.#dropped.delete(e.key)
      e = this.#keep(e.key, value)
    }
    if (e.holds++ === 0) this.#idle.delete(e)
  }

  /** One hold less; the vnode waits among the idle ones when it was the last. */
  release(value: V): Effect.Effect<void> {
    return Effect.suspend(() => {
      const e = this.#entryOf.get(value)
      if (e === undefined || e.holds === 0) return Effect.die(new Error("vnode cache: release without a hold"))
      if (--e.holds > 0) return Effect.void
      if (e.forgotten) {
        this.drops++
        return this.#drop(e.value)
      }
      if (this.#entries.get(e.key) !== e) return Effect.void
      this.#idle.add(e)
      return this.trim
    })
  }

  /** Holds on `value` now. */
  holds(value: V): number {
    return this.#entryOf.get(value)?.holds ?? 0
  }

  /**
   * The node of `key` is gone from the host (its last name removed): its
   * vnode is no longer found by its key, which a new node may take. Those
   * that hold it keep it until they release it; then it is dropped.
   */
  forget(key: bigint): Effect.Effect<void> {
    return Effect.suspend(() => {
      this.#dropped.delete(key)
      const e = this.#entries.get(key)
      if (e === undefined) return Effect.void
      this.#entries.delete(key)
      e.forgotten = true
      if (e.holds > 0) return Effect.void
      this.#idle.delete(e)
      this.drops++
      return this.#drop(e.value)
    })
  }

  /** Drops idle vnodes, least recently used first, until the cache is within its capacity. */
  readonly trim: Effect.Effect<void> = Effect.suspend(() => {
    const out: Array<V> = []
    for (let e = this.#idle.first(); e !== undefined && this.#entries.size > this.capacity; e = this.#idle.first()) {
      this.#idle.delete(e)
      this.#entries.delete(e.key)
      this.#dropped.set(e.key, new WeakRef(e.value))
      this.#collected.register(e.value, e.key)
      out.push(e.value)
    }
    this.drops += out.length
    return out.length === 0 ? Effect.void : Effect.forEach(out, this.#drop, { discard: true })
  })

  /** A new entry, not held. */
  #keep(key: bigint, value: V): Entry<V> {
    const e: Entry<V> = { key, value, holds: 0, forgotten: false, linkedIn: undefined, linkPrev: undefined, linkNext: undefined }
    this.#entries.set(key, e)
    this.#entryOf.set(value, e)
    return e
  }
}
