/**
 * An open file on a fifo node (tmpfs's fifo vnode ops over fifofs, the
 * fifo itself being ipc/Fifo.ts): reads mark the node accessed and writes
 * modified; a read that found end of file clears it for the next, and a
 * non-blocking read with no writer reads 0 bytes rather than EAGAIN;
 * FIONREAD counts the buffered bytes (0 on a file open for writing, whose
 * write socket answers last); not seekable (ESPIPE).
 */
import { Errno, ioctl as ioc, pollEvents } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { File, type FileOps, FWRITE } from "../fd/File.ts"
import { type Fifo, fifoOf, forgetFifo, liveFifo } from "../ipc/Fifo.ts"
import { PIPE_BUF } from "../ipc/Pipe.ts"
import { evfilt } from "../abi/Kevent.ts"
import { pipeKqfilter } from "../kqueue/filters/PipeFilter.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import type { SyscallContext } from "../kern/SyscallContext.ts"
import { WaitQueue } from "../proc/Sleep.ts"
import { closeNode } from "./VnodeFile.ts"
import type { Vnode } from "./Vnode.ts"

const READ_EVENTS = pollEvents.POLLIN | pollEvents.POLLRDNORM
const WRITE_EVENTS = pollEvents.POLLOUT | pollEvents.POLLWRNORM

const withFifo = <A>(file: File, f: (fifo: Fifo, node: Vnode) => Effect.Effect<A, SysErr>): Effect.Effect<A, SysErr> =>
  Effect.suspend(() => {
    const node = file.vnode
    const fifo = node === undefined ? undefined : liveFifo(node)
    return node === undefined || fifo === undefined ? sysErr(Errno.EBADF) : f(fifo, node)
  })

const EMPTY = new Uint8Array(0)
const NEVER = new WaitQueue()

export const fifoOps: FileOps = {
  kind: "vnode",
  seekable: false,
  read: (ctx, file, len) =>
    withFifo(file, (fifo, node) => {
      node.atime = node.mount.clock()
      if (len <= 0) return Effect.succeed(EMPTY)
      return fifo.readOps.read(ctx, file, len, undefined).pipe(
        Effect.tap((data) =>
          Effect.sync(() => {
            // the end of file is reported once
            if (data.length === 0) fifo.pipe.writerOpen = true
          })
        ),
        Effect.catchIf((e) => e.errno === Errno.EAGAIN || e.errno === Errno.EINTR, (e) => {
          if (e.errno === Errno.EAGAIN) return fifo.writers === 0 ? Effect.succeed(EMPTY) : Effect.fail(e)
          fifo.pipe.writerOpen = true
          return Effect.fail(e)
        })
      )
    }),
  write: (ctx, file, data) =>
    withFifo(file, (fifo, node) => {
      node.mtime = node.mount.clock()
      return fifo.writeOps.write(ctx, file, data, undefined)
    }),
  ioctl: (_ctx, file, cmd) =>
    withFifo(file, (fifo) =>
      cmd === ioc.FIONREAD
        ? Effect.succeed((file.flag & FWRITE) !== 0 ? 0n : BigInt(fifo.pipe.count))
        : sysErr(Errno.ENOTTY)),
  poll: (file, events) => {
    const fifo = file.vnode === undefined ? undefined : liveFifo(file.vnode)
    if (fifo === undefined) return 0
    const p = fifo.pipe
    let revents = 0
    if (p.count > 0 || !p.writerOpen) revents |= events & READ_EVENTS
    if (!p.readerOpen || p.size - p.count >= PIPE_BUF) revents |= events & WRITE_EVENTS
    return revents
  },
  // fifo_kqfilter: reading watches the buffer as its reader does, writing as its writer (whatever the file's mode)
  kqfilter: (file, kn) => {
    const fifo = file.vnode === undefined ? undefined : liveFifo(file.vnode)
    if (fifo === undefined) return Errno.EBADF
    if (kn.filter === evfilt.EVFILT_READ) return pipeKqfilter(fifo.pipe, true, kn)
    if (kn.filter === evfilt.EVFILT_WRITE) return pipeKqfilter(fifo.pipe, false, kn)
    return Errno.EINVAL
  },
  // the fifo lives as long as a file is open on it; the spare queue is never woken
  pollQueue: (file) => (file.vnode === undefined ? undefined : liveFifo(file.vnode))?.pipe.selectors ?? NEVER,
  close: (file) =>
    Effect.suspend(() => {
      const node = file.vnode
      const fifo = node === undefined ? undefined : liveFifo(node)
      if (node !== undefined && fifo !== undefined && fifo.closed(file.flag)) forgetFifo(node)
      return closeNode(file)
    })
}

/** fifo_open's counting (under the VFS lock): a new open file on the fifo `node`, which comes to life if it must. */
export const openFifo = (ctx: SyscallContext, node: Vnode, flag: number): File => {
  fifoOf(node, ctx.kernel, node).opened(flag)
  node.opens++
  return new File(fifoOps, flag, node)
}

/** fifo_open's waiting (outside the VFS lock) for the other end. */
export const awaitFifoPeer = (ctx: SyscallContext, file: File): Effect.Effect<void, SysErr> =>
  withFifo(file, (fifo) => fifo.awaitPeer(ctx.lwp, file.flag))
