/**
 * Advisory locks (NetBSD's vfs_lockf.c): byte ranges of a node locked for
 * reading (shared) or writing (exclusive), in one list per node that both
 * kinds of lock share, so they conflict with each other:
 *
 * - flock(2) locks (and O_SHLOCK/O_EXLOCK) belong to an open file and
 *   cover the whole file; they go when the open file's last descriptor
 *   closes. Before sleeping for an exclusive lock the file gives up the
 *   shared one it holds.
 * - fcntl(2) record locks belong to a process; closing any descriptor of
 *   the file, or the process going, releases all of its locks on it.
 *   Setting one replaces the owner's own locks in its range (a lock of the
 *   same type that contains the range stays as it is), splitting them.
 *
 * Locks count against the uid that set them: past MAX_LOCKS_PER_UID a new
 * one is ENOMEM (an unlock that splits may go to twice that). NetBSD
 * exempts the superuser; here it gets ROOT_MAX_LOCKS, so no client can
 * grow the lists without bound.
 *
 * A conflicting request fails with EAGAIN, or (F_SETLKW, flock without
 * LOCK_NB) sleeps until it can be granted; an lwp ordered out of the
 * kernel while asleep gets EINTR. A record lock that would wait for a
 * process that itself waits (through a chain of single-threaded processes)
 * for the caller is EDEADLK, as is a chain longer than MAX_DEPTH.
 */
import { Errno, flockTypes } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { Lwp } from "../proc/Lwp.ts"
import { WaitQueue } from "../proc/Sleep.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import type { Mount } from "./Mount.ts"
import type { Vnode } from "./Vnode.ts"

const { F_RDLCK, F_WRLCK, F_UNLCK } = flockTypes

/** How far deadlock detection follows a chain of waiting processes (maxlockdepth). */
export const MAX_DEPTH = 50
/** maxlocksperuid. */
export const MAX_LOCKS_PER_UID = 1024
/** The superuser's bound (NetBSD has none). */
export const ROOT_MAX_LOCKS = 65536

/** A record lock's owner: a process (its pid shows in F_GETLK). */
export interface ProcessOwner {
  readonly pid: number
  /** Its lwps now in the kernel: a chain is followed only through single-threaded processes. */
  readonly lwps: ReadonlySet<Lwp>
}

/** Who holds a lock: a process (fcntl) or an open file (flock). */
export type LockOwner = ProcessOwner | object

export interface Lock {
  /** F_RDLCK or F_WRLCK. */
  type: number
  start: bigint
  /** Last byte, or -1: to the end of the file, whatever it grows to. */
  end: bigint
  readonly owner: LockOwner
  /** A flock(2) lock (F_FLOCK) rather than a record lock (F_POSIX). */
  readonly flock: boolean
  /** Who set it (lf_uid): it counts against this uid's locks. */
  readonly uid: number
}

/** What a caller asks for: a lock it would hold, and whether it may sleep for it. */
export interface LockRequest {
  readonly type: number
  readonly start: bigint
  readonly end: bigint
  readonly owner: LockOwner
  readonly flock: boolean
  /** The caller's uid. */
  readonly uid: number
}

class LockList {
  /** Sorted by start (vfs_lockf's lf_next list). */
  locks: Array<Lock> = []
  /** The kernel's per-uid lock counts. */
  readonly counts: Map<number, number>

  constructor(counts: Map<number, number>) {
    this.counts = counts
  }

  /** Requests asleep until a lock of this node changes. */
  readonly waiters = new WaitQueue()
}

const lists = new WeakMap<Vnode, LockList>()
/** Locks held in each kernel (found from its root file system), by the uid that set them (ui_lockcnt). */
const counts = new WeakMap<Mount, Map<number, number>>()

const countsOf = (node: Vnode): Map<number, number> => {
  let m = node.mount
  while (m.covered !== undefined) m = m.covered.mount
  let c = counts.get(m)
  if (c === undefined) counts.set(m, c = new Map())
  return c
}

const limitOf = (uid: number): number => (uid === 0 ? ROOT_MAX_LOCKS : MAX_LOCKS_PER_UID)

/** lf_alloc's check: one more lock for `uid` stays within `factor` times its limit (ENOMEM otherwise). */
const checkRoom = (node: Vnode, uid: number, factor: number): Effect.Effect<void, SysErr> =>
  (countsOf(node).get(uid) ?? 0) + 1 > limitOf(uid) * factor ? sysErr(Errno.ENOMEM) : Effect.void

/** The list's locks are now `next`: the per-uid counts follow. */
const replace = (list: LockList, next: Array<Lock>): void => {
  const c = list.counts
  for (const l of list.locks) c.set(l.uid, (c.get(l.uid) ?? 1) - 1)
  for (const l of next) c.set(l.uid, (c.get(l.uid) ?? 0) + 1)
  list.locks = next
}
/** The nodes an owner holds locks on, so its locks can all be let go. */
const held = new WeakMap<LockOwner, Set<Vnode>>()
/**
 * The lock each sleeping lwp waits for and its list (deadlock detection
 * follows these). A lock that has left its list since (released, split or
 * changed) woke its waiters: they count as waiting no more, as an lwp a
 * wakeup has taken off its sleep queue.
 */
const waitingFor = new WeakMap<Lwp, { readonly lock: Lock; readonly list: LockList }>()

const listOf = (node: Vnode): LockList => {
  let l = lists.get(node)
  if (l === undefined) {
    l = new LockList(countsOf(node))
    lists.set(node, l)
  }
  return l
}

const overlaps = (a: { start: bigint; end: bigint }, start: bigint, end: bigint): boolean =>
  (a.end === -1n || start <= a.end) && (end === -1n || a.start <= end)

const isProcess = (owner: LockOwner): owner is ProcessOwner => "pid" in owner && "lwps" in owner

/** lf_getblock: the first lock of another owner in the way of `req`. */
const blocking = (list: LockList, req: LockRequest): Lock | undefined =>
  list.locks.find((l) =>
    l.owner !== req.owner && overlaps(l, req.start, req.end) && (req.type === F_WRLCK || l.type === F_WRLCK)
  )

const note = (owner: LockOwner, node: Vnode, list: LockList): void => {
  let nodes = held.get(owner)
  if (list.locks.some((l) => l.owner === owner)) {
    if (nodes === undefined) held.set(owner, nodes = new Set())
    nodes.add(node)
  } else {
    nodes?.delete(node)
  }
}

const insertSorted = (list: LockList, lock: Lock): void => {
  const next = [...list.locks]
  const i = next.findIndex((l) => l.start > lock.start)
  if (i < 0) next.push(lock)
  else next.splice(i, 0, lock)
  replace(list, next)
}

/** The parts of `l` outside [start, end] (lf_split and the trimming cases). */
const outside = (l: Lock, start: bigint, end: bigint): Array<Lock> => {
  const parts: Array<Lock> = []
  if (l.start < start) parts.push({ ...l, end: start - 1n })
  if (end !== -1n && (l.end === -1n || l.end > end)) parts.push({ ...l, start: end + 1n })
  return parts
}

/** lf_clearlock: the owner's locks in [start, end] go (and are split around it). */
const clear = (list: LockList, owner: LockOwner, start: bigint, end: bigint): boolean => {
  let changed = false
  const next: Array<Lock> = []
  for (const l of list.locks) {
    if (l.owner === owner && overlaps(l, start, end)) {
      next.push(...outside(l, start, end))
      changed = true
    } else {
      next.push(l)
    }
  }
  if (changed) replace(list, next.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0)))
  return changed
}

/** The granted part of lf_setlock: the owner's locks in the range give way to the new one. */
const grant = (list: LockList, req: LockRequest): void => {
  const own = list.locks.filter((l) => l.owner === req.owner && overlaps(l, req.start, req.end))
  // a lock of the same type that already covers the range: nothing changes
  if (
    own.some((l) => l.type === req.type && l.start <= req.start && req.end !== -1n && (l.end === -1n || l.end >= req.end))
  ) return
  clear(list, req.owner, req.start, req.end)
  insertSorted(list, { type: req.type, start: req.start, end: req.end, owner: req.owner, flock: req.flock, uid: req.uid })
}

/**
 * The deadlock check of lf_setlock: follow who the blocking lock's process
 * waits for, while each is a process with one lwp asleep on a lock.
 */
const wouldDeadlock = (me: ProcessOwner, block: Lock): boolean => {
  let owner = block.owner
  let i = 0
  while (i++ < MAX_DEPTH) {
    if (!isProcess(owner) || owner.lwps.size !== 1) break
    const [lwp] = owner.lwps
    const waited = lwp === undefined ? undefined : waitingFor.get(lwp)
    if (waited === undefined || waited.lock.flock || !waited.list.locks.includes(waited.lock)) break
    owner = waited.lock.owner
    if (owner === me) return true
  }
  // a chain still followed after MAX_DEPTH steps counts as a cycle (even one that ended at the last step)
  return i >= MAX_DEPTH
}

/**
 * F_SETLK: grants `req`, or fails with EAGAIN when another owner's lock is
 * in the way and `wait` is false; with `wait` it sleeps until it can.
 */
export const setLock: (lwp: Lwp, node: Vnode, req: LockRequest, wait: boolean) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(lwp: Lwp, node: Vnode, req: LockRequest, wait: boolean) {
    yield* checkRoom(node, req.uid, 1)
    const list = listOf(node)
    for (;;) {
      const block = blocking(list, req)
      if (block === undefined) break
      if (!wait) return yield* sysErr(Errno.EAGAIN)
      if (!req.flock && !block.flock && isProcess(req.owner) && wouldDeadlock(req.owner, block)) {
        return yield* sysErr(Errno.EDEADLK)
      }
      // an flock upgrade gives up the shared lock before it waits
      if (req.flock && req.type === F_WRLCK && clear(list, req.owner, req.start, req.end)) {
        note(req.owner, node, list)
        list.waiters.wakeAll()
      }
      waitingFor.set(lwp, { lock: block, list })
      const why = yield* list.waiters.sleep(lwp, undefined, () => blocking(list, req) === undefined)
      waitingFor.delete(lwp)
      if (why === "interrupted") return yield* sysErr(Errno.EINTR)
    }
    grant(list, req)
    note(req.owner, node, list)
    list.waiters.wakeAll()
  })

/** The owner's locks in [start, end] go. */
const clearRange = (node: Vnode, owner: LockOwner, start: bigint, end: bigint): void => {
  const list = lists.get(node)
  if (list === undefined || !clear(list, owner, start, end)) return
  note(owner, node, list)
  list.waiters.wakeAll()
}

/** F_UNLCK by `uid`: an unlock that may split a lock needs room for one (within twice the limit: ENOMEM). */
export const unlock = (node: Vnode, owner: LockOwner, uid: number, start: bigint, end: bigint): Effect.Effect<void, SysErr> =>
  Effect.andThen(
    start === 0n || end === -1n ? Effect.void : checkRoom(node, uid, 2),
    Effect.sync(() => clearRange(node, owner, start, end))
  )

/** F_GETLK: the first lock that would stop `req`, if any. */
export const getLock = (node: Vnode, req: LockRequest): Lock | undefined => {
  const list = lists.get(node)
  return list === undefined ? undefined : blocking(list, req)
}

/** Every lock of `owner` on `node` goes (a record lock owner closing a descriptor of it, an flock file closing). */
export const releaseLocks = (node: Vnode, owner: LockOwner): void => clearRange(node, owner, 0n, -1n)

/** Every lock of `owner` anywhere goes (a process leaving). */
export const releaseAllLocks = (owner: LockOwner): void => {
  const nodes = held.get(owner)
  if (nodes === undefined) return
  for (const node of [...nodes]) releaseLocks(node, owner)
  held.delete(owner)
}

/** The locks on `node`, in list order (for inspection and tests). */
export const locksOf = (node: Vnode): ReadonlyArray<Lock> => lists.get(node)?.locks ?? []

export { F_RDLCK, F_UNLCK, F_WRLCK }
