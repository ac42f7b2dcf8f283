/**
 * Named pipes (NetBSD's fifofs). NetBSD connects two AF_LOCAL sockets;
 * here a Pipe's buffer carries the data, with fifofs's rules around it:
 *
 * - A fifo comes to life at its first open and goes (with anything still
 *   buffered) when its last open file closes.
 * - Opening for reading waits until there is a writer, opening for
 *   writing until there is a reader; O_NONBLOCK: a reader does not wait, a
 *   writer with no reader is ENXIO. O_RDWR is both ends and never waits.
 * - The last writer closing is end of file for readers, once: the read
 *   that reports it clears it, and a later blocking read waits for a new
 *   writer's data (a non-blocking one with no writer reads 0 bytes).
 * - The last reader closing makes writes EPIPE (and SIGPIPE).
 *
 * The Pipe's `writerOpen` plays the read socket's "can receive more"
 * (clear: end of file), its `readerOpen` the write socket's "can send
 * more" (clear: EPIPE).
 */
import { Errno, fileFlagsKernel } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { FREAD, FWRITE } from "../fd/File.ts"
import type { KernelState } from "../KernelState.ts"
import type { Lwp } from "../proc/Lwp.ts"
import { WaitQueue } from "../proc/Sleep.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import type { FileOps } from "../fd/File.ts"
import { Pipe, readEnd, writeEnd } from "./Pipe.ts"

export class Fifo {
  readers = 0
  writers = 0
  /** Openers waiting for the other end (fi_rcv, fi_wcv). */
  readonly opens = new WaitQueue()
  readonly pipe: Pipe
  /** The pipe's own read and write loops, which a fifo's reads and writes are. */
  readonly readOps: FileOps
  readonly writeOps: FileOps

  constructor(kernel: KernelState, uid: number, gid: number) {
    this.pipe = new Pipe(kernel, uid, gid)
    this.readOps = readEnd(this.pipe)
    this.writeOps = writeEnd(this.pipe)
  }

  private wakeAll(): void {
    this.opens.wakeAll()
    this.pipe.readers.wakeAll()
    this.pipe.writers.wakeAll()
    this.pipe.selectors.wakeAll()
  }

  /** fifo_open's counting: a first reader lets writes through again, a first writer ends an end of file. */
  opened(flag: number): void {
    if ((flag & FREAD) !== 0 && this.readers++ === 0) this.pipe.readerOpen = true
    if ((flag & FWRITE) !== 0 && this.writers++ === 0) this.pipe.writerOpen = true
    this.wakeAll()
  }

  /** fifo_close: the last reader makes writes EPIPE, the last writer is end of file. True when nobody is left. */
  closed(flag: number): boolean {
    if ((flag & FREAD) !== 0 && --this.readers === 0) this.pipe.readerOpen = false
    if ((flag & FWRITE) !== 0 && --this.writers === 0) this.pipe.writerOpen = false
    this.wakeAll()
    if (this.readers + this.writers > 0) return false
    this.pipe.dropBuffer()
    return true
  }

  /** The waiting part of fifo_open: ENXIO for a non-blocking writer with no reader, EINTR when ordered out. */
  awaitPeer(lwp: Lwp, flag: number): Effect.Effect<void, SysErr> {
    const fifo = this
    const nonblocking = (flag & fileFlagsKernel.FNONBLOCK) !== 0
    return Effect.gen(function*() {
      if ((flag & FREAD) !== 0 && !nonblocking) {
        const ready = () => fifo.pipe.count > 0 || !fifo.pipe.writerOpen || fifo.writers > 0
        while (!ready()) {
          if ((yield* fifo.opens.sleep(lwp, undefined, ready)) === "interrupted") return yield* sysErr(Errno.EINTR)
        }
      }
      if ((flag & FWRITE) !== 0) {
        if (nonblocking) return fifo.readers === 0 ? yield* sysErr(Errno.ENXIO) : undefined
        const ready = () => fifo.readers > 0
        while (!ready()) {
          if ((yield* fifo.opens.sleep(lwp, undefined, ready)) === "interrupted") return yield* sysErr(Errno.EINTR)
        }
      }
    })
  }
}

const fifos = new WeakMap<object, Fifo>()

/** The fifo behind `node`, made at its first open. */
export const fifoOf = (node: object, kernel: KernelState, owner: { readonly uid: number; readonly gid: number }): Fifo => {
  let f = fifos.get(node)
  if (f === undefined) {
    f = new Fifo(kernel, owner.uid, owner.gid)
    fifos.set(node, f)
  }
  return f
}

/** The live fifo of `node`, if it is open. */
export const liveFifo = (node: object): Fifo | undefined => fifos.get(node)

/** Its last open file closed: the next open starts afresh. */
export const forgetFifo = (node: object): void => {
  fifos.delete(node)
}
