/**
 * Knotes (NetBSD's struct knote): one registered event of one kqueue, and
 * the lists objects keep of the knotes watching them (struct klist).
 *
 * An object that can be watched (a pipe, a socket, a vnode, a process, a
 * kqueue) holds a KnoteList and calls `notify(hint)` where its state
 * changes (NetBSD's KNOTE). Each knote's filter decides from the hint and
 * the object's state whether its event is active, and an active knote is
 * queued on its kqueue for kevent to collect.
 */
import type { File } from "../fd/File.ts"
import type { Linked, LinkedSet } from "../kern/LinkedSet.ts"
import type { KQueue } from "./KQueue.ts"

/** kn_status bits. */
export const KN_ACTIVE = 0x01
export const KN_QUEUED = 0x02
export const KN_DISABLED = 0x04
export const KN_DETACHED = 0x08

/** What a filter does for one knote (struct filterops without the attach, which made it). */
export interface FilterOps {
  /** f_event: is the event active now? It updates the knote's data, fflags and flags. */
  readonly event: (kn: Knote, hint: number) => boolean
  /** f_detach: takes the knote off what it watches. */
  readonly detach: (kn: Knote) => void
}

const unattached: FilterOps = { event: () => false, detach: () => {} }

export class Knote implements Linked<Knote> {
  status = 0
  /** Its place in its kqueue's queue while queued (KN_QUEUED). */
  linkedIn: LinkedSet<Knote> | undefined = undefined
  linkPrev: Knote | undefined = undefined
  linkNext: Knote | undefined = undefined
  fop: FilterOps = unattached
  /** kn_kevent.flags: the flags it was added with (EV_SYSFLAGS cleared), plus what filters set. */
  flags: number
  fflags = 0
  data = 0n
  udata: bigint
  /** The fflags and data given when it was added (kn_sfflags, kn_sdata). */
  sfflags: number
  sdata: bigint

  readonly kq: KQueue
  readonly ident: bigint
  readonly filter: number
  /** The open file an fd filter watches (kn_obj), and its descriptor; none and -1 otherwise. */
  readonly file: File | undefined
  readonly fd: number

  constructor(
    kq: KQueue,
    ident: bigint,
    filter: number,
    flags: number,
    udata: bigint,
    sfflags: number,
    sdata: bigint,
    file: File | undefined,
    fd: number
  ) {
    this.kq = kq
    this.ident = ident
    this.filter = filter
    this.flags = flags
    this.udata = udata
    this.sfflags = sfflags
    this.sdata = sdata
    this.file = file
    this.fd = fd
  }
}

/** The knotes watching one object (struct klist). */
export class KnoteList {
  /** Made on first use: most objects are never watched. */
  private knotes: Set<Knote> | undefined = undefined

  get size(): number {
    return this.knotes?.size ?? 0
  }

  add(kn: Knote): void {
    ;(this.knotes ??= new Set()).add(kn)
  }

  remove(kn: Knote): void {
    this.knotes?.delete(kn)
  }

  /** KNOTE(list, hint): every knote whose event is now active is queued on its kqueue. */
  notify(hint: number): void {
    const knotes = this.knotes
    if (knotes === undefined || knotes.size === 0) return
    // a filter may take its knote off the list (NOTE_EXIT) or add one
    for (const kn of [...knotes]) {
      if (kn.fop.event(kn, hint)) kn.kq.activate(kn)
    }
  }
}
