/**
 * A descriptor table. A prefork copies its parent's (the same open files,
 * each with one more reference); a fork child shares the prefork's very
 * table object, so the table itself is reference counted and only closes
 * its files when the last process using it lets go.
 */
import { fileFlagsKernel, limits } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { FdKnotes } from "../kqueue/FdKnotes.ts"
import { type LockOwner, releaseLocks } from "../vfs/Lockf.ts"
import type { File } from "./File.ts"

export interface Descriptor {
  readonly file: File
  cloexec: boolean
}

/** The default RLIMIT_NOFILE soft limit (NOFILE): descriptors 0 to 127. */
export const DEFAULT_OPEN_FILES = limits.NOFILE

export class FileTable {
  private readonly slots: Array<Descriptor | undefined> = []
  /** Processes using this table. */
  users = 1
  /**
   * Descriptors numbered from here up are refused (EMFILE): the owner's
   * RLIMIT_NOFILE soft limit, which setrlimit updates. Lowering it closes
   * nothing that is open.
   */
  limit: number

  constructor(limit: number = DEFAULT_OPEN_FILES) {
    this.limit = limit
  }

  /** Knotes of this table's kqueues on its descriptors (made by the first one). */
  knotes: FdKnotes | undefined = undefined

  get(fd: number): Descriptor | undefined {
    return Number.isInteger(fd) && fd >= 0 ? this.slots[fd] : undefined
  }

  /** The lowest free descriptor at or above `min` and below the limit, or undefined when there is none. */
  lowestFree(min = 0): number | undefined {
    for (let fd = min; fd < this.limit; fd++) if (this.slots[fd] === undefined) return fd
    return undefined
  }

  /** Installs `file` at `fd` (taking over the caller's reference). */
  install(fd: number, file: File, cloexec: boolean): void {
    this.slots[fd] = { file, cloexec }
  }

  /** Removes a descriptor; returns its file, whose reference the caller must drop. */
  remove(fd: number): File | undefined {
    const d = this.get(fd)
    if (d === undefined) return undefined
    this.knotes?.fdClosed(fd)
    this.slots[fd] = undefined
    while (this.slots.length > 0 && this.slots[this.slots.length - 1] === undefined) this.slots.pop()
    return d.file
  }

  /** Open descriptor numbers, ascending. */
  openFds(): Array<number> {
    const out: Array<number> = []
    this.slots.forEach((d, fd) => {
      if (d !== undefined) out.push(fd)
    })
    return out
  }

  get size(): number {
    return this.openFds().length
  }

  /** A new table with the same open files and limit (prefork); kqueues are not copied (fd_copy). */
  copy(): FileTable {
    const t = new FileTable(this.limit)
    this.slots.forEach((d, fd) => {
      if (d !== undefined && d.file.ops.kind !== "kqueue") {
        d.file.refs++
        t.slots[fd] = { file: d.file, cloexec: d.cloexec }
      }
    })
    return t
  }
}

/**
 * Drops one reference to a file, closing it when it was the last (closef):
 * its flock lock, if it took one, goes first.
 */
export const releaseFile = (file: File): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (--file.refs !== 0) return Effect.void
    if (file.vnode !== undefined && (file.flag & fileFlagsKernel.FHASLOCK) !== 0) releaseLocks(file.vnode, file)
    return file.ops.close(file)
  })

/**
 * Keeps a reference to `file` while `effect` runs (NetBSD's
 * fd_getfile/fd_putfile): another lwp closing the descriptor meanwhile, as
 * during a long transfer or a wait for a lock, must not free the file.
 */
export const holdingFile = <A, E>(file: File, effect: Effect.Effect<A, E>): Effect.Effect<A, E> =>
  Effect.suspend(() => {
    file.refs++
    return effect.pipe(Effect.ensuring(releaseFile(file)))
  })

/**
 * Closes a descriptor (fd_close). False when it was not open. Closing any
 * descriptor of a file lets go of the record locks `owner` (the closing
 * process) holds on it.
 */
export const closeFd = (table: FileTable, fd: number, owner?: LockOwner): Effect.Effect<boolean> =>
  Effect.suspend(() => {
    const file = table.remove(fd)
    if (file === undefined) return Effect.succeed(false)
    if (owner !== undefined && file.vnode !== undefined) releaseLocks(file.vnode, owner)
    return releaseFile(file).pipe(Effect.as(true))
  })

/** A process lets go of its table: the last user closes every descriptor. */
export const releaseTable = (table: FileTable, owner?: LockOwner): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (--table.users > 0) return Effect.void
    return Effect.forEach(table.openFds(), (fd) => closeFd(table, fd, owner), { discard: true })
  })

/**
 * A table nobody uses any more is emptied again: a syscall that was still
 * running when its process was released may have opened something since.
 */
export const sweepOrphanTable = (table: FileTable): Effect.Effect<void> =>
  Effect.suspend(() =>
    table.users > 0 ? Effect.void : Effect.forEach(table.openFds(), (fd) => closeFd(table, fd), { discard: true })
  )

/** execNotify: closes every close-on-exec descriptor. */
export const closeOnExec = (table: FileTable, owner?: LockOwner): Effect.Effect<void> =>
  Effect.forEach(
    table.openFds().filter((fd) => table.get(fd)?.cloexec === true),
    (fd) => closeFd(table, fd, owner),
    { discard: true }
  )
