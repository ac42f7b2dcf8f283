/**
 * The kqueue (NetBSD's struct kqueue and its fileops, kern_event.c): an
 * open file holding the knotes registered on it and the queue of those
 * whose event is active, in the order they became active.
 *
 * - Knotes on descriptors (EVFILT_READ, EVFILT_WRITE, EVFILT_VNODE) are
 *   also listed by the descriptor table under their descriptor number
 *   (FdKnotes), so closing that descriptor takes them away.
 * - Closing the kqueue takes every knote of it away (timers stop, watched
 *   objects forget them).
 * - A kqueue is never copied into a forked process's table (fd_copy).
 * - As a file: read and write are ENXIO, poll is readable while events are
 *   queued, fstat shows a fifo with st_size the queued count and st_blksize
 *   sizeof(struct kevent), and another kqueue may watch it with EVFILT_READ
 *   (data: the queued count); any other filter on it is error 1 (EPERM),
 *   as kqueue_kqfilter answers.
 */
import { Effect } from "effect"
import { Errno, fileFlagsKernel, modeBits, pollEvents } from "@sysproxy/protocol/netbsd"
import { evfilt, KEVENT_SIZE } from "../abi/Kevent.ts"
import type { StatInfo } from "../abi/Stat.ts"
import { File, type FileOps, FREAD, FWRITE } from "../fd/File.ts"
import type { FileTable } from "../fd/FileTable.ts"
import type { KernelState } from "../KernelState.ts"
import { LinkedSet } from "../kern/LinkedSet.ts"
import { sysErr } from "../kern/SysErr.ts"
import { WaitQueue } from "../proc/Sleep.ts"
import { FdKnotes } from "./FdKnotes.ts"
import { KN_ACTIVE, KN_DISABLED, KN_QUEUED, type Knote, KnoteList } from "./Knote.ts"

const READABLE = pollEvents.POLLIN | pollEvents.POLLRDNORM

/** Live knotes per kernel (the kernel's figures). */
const knoteCounts = new WeakMap<KernelState, { count: number }>()

const countsOf = (kernel: KernelState): { count: number } => {
  let c = knoteCounts.get(kernel)
  if (c === undefined) {
    c = { count: 0 }
    knoteCounts.set(kernel, c)
  }
  return c
}

/** The knotes alive in `kernel`. */
export const knoteCount = (kernel: KernelState): number => knoteCounts.get(kernel)?.count ?? 0

/** The key a knote is found by: its filter and descriptor, or its filter and ident. */
const keyOf = (filter: number, id: bigint): string => `${filter}:${id}`

export class KQueue {
  /** Every knote of this kqueue, by filter and ident (fd filters: by descriptor). */
  private readonly knotes = new Map<string, Knote>()
  /** Active knotes, oldest first (kq_head; kq_count is its size); not a Set, as every scan empties and refills it (LinkedSet). */
  readonly queue = new LinkedSet<Knote>()
  /** kevent sleepers (kq_cv). */
  readonly waiters = new WaitQueue()
  /** poll and select sleepers on the kqueue's descriptor. */
  readonly selectors = new WaitQueue()
  /** Knotes of kqueues watching this one (kq_sel's klist). */
  readonly watchers = new KnoteList()
  closed = false

  readonly kernel: KernelState
  /** The descriptor table it was made in (kq_fdp). */
  readonly table: FileTable

  constructor(kernel: KernelState, table: FileTable) {
    this.kernel = kernel
    this.table = table
  }

  get count(): number {
    return this.queue.size
  }

  /** The knote registered for `filter` on `id` (a descriptor number for fd filters). */
  find(filter: number, id: bigint): Knote | undefined {
    return this.knotes.get(keyOf(filter, id))
  }

  /** Lists a new knote (before its filter attaches it). */
  insert(kn: Knote): void {
    this.knotes.set(keyOf(kn.filter, kn.fd >= 0 ? BigInt(kn.fd) : kn.ident), kn)
    if (kn.fd >= 0) (this.table.knotes ??= new FdKnotes()).add(kn.fd, kn)
    countsOf(this.kernel).count++
  }

  /** knote_activate: the event happened; queued unless disabled or queued already. */
  activate(kn: Knote): void {
    kn.status |= KN_ACTIVE
    if ((kn.status & (KN_QUEUED | KN_DISABLED)) === 0) this.enqueue(kn)
  }

  /** knote_enqueue (EV_ENABLE): no longer disabled, and queued when active. */
  enable(kn: Knote): void {
    kn.status &= ~KN_DISABLED
    if ((kn.status & (KN_ACTIVE | KN_QUEUED)) === KN_ACTIVE) this.enqueue(kn)
  }

  private enqueue(kn: Knote): void {
    kn.status |= KN_QUEUED
    this.queue.add(kn)
    this.waiters.wakeAll()
    this.selectors.wakeAll()
    this.watchers.notify(0)
  }

  /** Takes a knote off the queue (a scan looks at it). */
  dequeue(kn: Knote): void {
    kn.status &= ~KN_QUEUED
    this.queue.delete(kn)
  }

  /** Puts a collected knote back at the end of the queue (still active, neither EV_ONESHOT nor EV_CLEAR). */
  requeue(kn: Knote): void {
    kn.status |= KN_QUEUED
    this.queue.add(kn)
  }

  /**
   * knote_detach: the knote is gone; `fromObject` also takes it off what it
   * watches (false when its filter never attached it).
   */
  drop(kn: Knote, fromObject: boolean): void {
    const key = keyOf(kn.filter, kn.fd >= 0 ? BigInt(kn.fd) : kn.ident)
    if (this.knotes.get(key) !== kn) return
    this.knotes.delete(key)
    if (fromObject) kn.fop.detach(kn)
    if (kn.fd >= 0) this.table.knotes?.remove(kn.fd, kn)
    if ((kn.status & KN_QUEUED) !== 0) this.dequeue(kn)
    countsOf(this.kernel).count--
  }

  /** kqueue_close: every knote goes; sleepers wake (and find the kqueue closed). */
  close(): void {
    this.closed = true
    for (const kn of [...this.knotes.values()]) this.drop(kn, true)
    this.waiters.wakeAll()
    this.selectors.wakeAll()
  }
}

const zeroTime = { sec: 0n, nsec: 0 }

/** kqueue_stat: all zero but the type, the queued count and sizeof(struct kevent). */
const statOf = (kq: KQueue): StatInfo => ({
  dev: 0,
  ino: 0,
  mode: modeBits.S_IFIFO,
  nlink: 0,
  uid: 0,
  gid: 0,
  rdev: 0,
  size: kq.count,
  blocks: 0,
  blksize: KEVENT_SIZE,
  atime: zeroTime,
  mtime: zeroTime,
  ctime: zeroTime,
  birthtime: zeroTime
})

/** kqueue_kqfilter: EVFILT_READ on a kqueue reports how many events it has queued. */
const watchKqueue = (kq: KQueue, kn: Knote): number => {
  if (kn.filter !== evfilt.EVFILT_READ) return Errno.EPERM
  kn.fop = {
    event: (k) => {
      k.data = BigInt(kq.count)
      return kq.count > 0
    },
    detach: (k) => kq.watchers.remove(k)
  }
  kq.watchers.add(kn)
  return 0
}

const kqueues = new WeakMap<FileOps, KQueue>()

const kqueueOps = (kq: KQueue): FileOps => ({
  kind: "kqueue",
  seekable: false,
  read: () => sysErr(Errno.ENXIO),
  write: () => sysErr(Errno.ENXIO),
  ioctl: () => sysErr(Errno.ENOTTY),
  // kqueue_fcntl and kqueue_ioctl: ENOTTY for F_SETFL and the flag and owner ioctls
  refuses: { setfl: Errno.ENOTTY, ioctl: Errno.ENOTTY },
  poll: (_file, events) => (kq.count > 0 ? events & READABLE : 0),
  pollQueue: () => kq.selectors,
  stat: () => statOf(kq),
  kqfilter: (_file, kn) => watchKqueue(kq, kn),
  close: () => Effect.sync(() => kq.close())
})

/** kqueue1: a new kqueue file (one reference, for the caller); FNONBLOCK and FNOSIGPIPE of `flags` are kept. */
export const openKqueue = (kernel: KernelState, table: FileTable, flags: number): File => {
  const kq = new KQueue(kernel, table)
  const ops = kqueueOps(kq)
  kqueues.set(ops, kq)
  return new File(ops, FREAD | FWRITE | (flags & (fileFlagsKernel.FNONBLOCK | fileFlagsKernel.FNOSIGPIPE)), undefined)
}

/** The kqueue behind an open file, if it is one. */
export const kqueueOf = (file: File): KQueue | undefined => kqueues.get(file.ops)
