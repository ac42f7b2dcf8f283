/**
 * Pipes (NetBSD's sys_pipe.c without direct writes, as NetBSD 7 builds it:
 * PIPE_NODIRECT). A pipe is one ring buffer between two open files, a read
 * end and a write end; every descriptor of either end (dup, a copied or
 * shared table, another process) points at the same File, so an end closes
 * when the last reference to its File goes.
 *
 * - The buffer holds PIPE_SIZE (16 KiB); a write of more than that into an
 *   empty pipe grows it to BIG_PIPE_SIZE (64 KiB), for at most
 *   MAX_BIG_PIPES pipes of the kernel at a time.
 * - A write of at most PIPE_BUF (512) bytes still to go is atomic: it waits
 *   until it fits whole, so it is never split or interleaved.
 * - read returns what the buffer has (up to the count asked), 0 at end of
 *   file (no writer left and nothing buffered), EAGAIN for O_NONBLOCK, and
 *   otherwise sleeps; write sleeps while the buffer is full (EAGAIN or a
 *   short count with O_NONBLOCK). A sleeper ordered out of the kernel
 *   (lwpExit) returns EINTR, or the bytes it had already written.
 * - write with no reader left is EPIPE (the descriptor layer sends SIGPIPE
 *   unless O_NOSIGPIPE); the reader closing throws away what was buffered.
 * - poll, FIONREAD and fstat answer as pipe_poll, pipe_ioctl and pipe_stat.
 */
import { Errno, fileFlagsKernel, ioctl as ioc, limits, modeBits, pollEvents } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { StatInfo } from "../abi/Stat.ts"
import { File, type FileOps, FREAD, FWRITE } from "../fd/File.ts"
import type { KernelState } from "../KernelState.ts"
import { pipeKqfilter } from "../kqueue/filters/PipeFilter.ts"
import { KnoteList } from "../kqueue/Knote.ts"
import { WaitQueue } from "../proc/Sleep.ts"
import { sysErr } from "../kern/SysErr.ts"
import type { SyscallContext } from "../kern/SyscallContext.ts"

/** The buffer a pipe starts with (sys/pipe.h PIPE_SIZE). */
export const PIPE_SIZE = 16384
/** What a pipe grows to for a large write (BIG_PIPE_SIZE). */
export const BIG_PIPE_SIZE = 64 * 1024
/** Pipes of one kernel that may be big at a time (LIMITBIGPIPES, kern.pipe.maxbigpipes). */
export const MAX_BIG_PIPES = 32
/** Writes of at most this many bytes are atomic. */
export const PIPE_BUF = limits.PIPE_BUF

const { POLLIN, POLLRDNORM, POLLOUT, POLLWRNORM, POLLHUP } = pollEvents
const READ_EVENTS = POLLIN | POLLRDNORM
const WRITE_EVENTS = POLLOUT | POLLWRNORM

type Time = StatInfo["atime"]

/** Big pipes per kernel (kern.pipe.nbigpipes), kept beside the kernel's state. */
const bigPipes = new WeakMap<KernelState, { count: number }>()

const bigPipesOf = (kernel: KernelState): { count: number } => {
  let b = bigPipes.get(kernel)
  if (b === undefined) {
    b = { count: 0 }
    bigPipes.set(kernel, b)
  }
  return b
}

/** How many of the kernel's pipes are big now. */
export const bigPipeCount = (kernel: KernelState): number => bigPipes.get(kernel)?.count ?? 0

/** Pipe times are on the kernel's CLOCK_REALTIME. */
const now = (kernel: KernelState): Time => kernel.clock.realtime()

/** The state both ends share. */
export class Pipe {
  /** Buffer capacity. */
  size = PIPE_SIZE
  /** Bytes buffered. */
  count = 0
  readerOpen = true
  writerOpen = true
  /** Lwps waiting for data (or end of file). */
  readonly readers = new WaitQueue()
  /** Lwps waiting for room (or the reader to go). */
  readonly writers = new WaitQueue()
  /** poll and select sleepers on either end. */
  readonly selectors = new WaitQueue()
  /** Knotes on either end (EVFILT_READ, EVFILT_WRITE), told of every change the selectors are. */
  readonly knotes = new KnoteList()
  readonly birthtime: Time
  atime: Time
  mtime: Time
  /** The creator's credentials, which fstat reports (the open file's f_cred). */
  readonly uid: number
  readonly gid: number

  private buffer: Uint8Array = new Uint8Array(0)
  /** Where the oldest buffered byte is. */
  private out = 0
  readonly kernel: KernelState

  constructor(kernel: KernelState, uid: number, gid: number) {
    this.kernel = kernel
    this.uid = uid
    this.gid = gid
    this.birthtime = now(kernel)
    this.atime = this.birthtime
    this.mtime = this.birthtime
  }

  /** Bytes a write may add now when `resid` bytes are still to go (0 while an atomic write does not fit). */
  room(resid: number): number {
    const space = this.size - this.count
    return space < resid && resid <= PIPE_BUF ? 0 : space
  }

  /** Copies out and drops up to `len` buffered bytes. */
  take(len: number): Uint8Array {
    const n = Math.min(len, this.count)
    const data = new Uint8Array(n)
    const first = Math.min(n, this.size - this.out)
    data.set(this.buffer.subarray(this.out, this.out + first))
    if (first < n) data.set(this.buffer.subarray(0, n - first), first)
    this.count -= n
    this.out = this.count === 0 ? 0 : (this.out + n) % this.size
    return data
  }

  /** Appends `data`, which fits. */
  put(data: Uint8Array): void {
    if (this.buffer.length !== this.size) this.buffer = new Uint8Array(this.size)
    const at = (this.out + this.count) % this.size
    const first = Math.min(data.length, this.size - at)
    this.buffer.set(data.subarray(0, first), at)
    if (first < data.length) this.buffer.set(data.subarray(first), 0)
    this.count += data.length
  }

  /** A large write into an empty pipe makes it big, while the kernel has big pipes to spare (pipespace). */
  growFor(resid: number): void {
    const big = bigPipesOf(this.kernel)
    if (resid > PIPE_SIZE && this.size <= PIPE_SIZE && this.count === 0 && big.count < MAX_BIG_PIPES) {
      big.count++
      this.size = BIG_PIPE_SIZE
      this.buffer = new Uint8Array(0)
      this.out = 0
    }
  }

  /** The reader went: what was buffered is gone, and so is the buffer. */
  dropBuffer(): void {
    if (this.size > PIPE_SIZE) bigPipesOf(this.kernel).count--
    this.size = PIPE_SIZE
    this.buffer = new Uint8Array(0)
    this.count = 0
    this.out = 0
  }
}

const nonblocking = (file: File): boolean => (file.flag & fileFlagsKernel.FNONBLOCK) !== 0

const stat = (pipe: Pipe, reader: boolean): StatInfo => ({
  dev: 0,
  ino: 0,
  nlink: 0,
  rdev: 0,
  mode: modeBits.S_IFIFO | modeBits.S_IRUSR | modeBits.S_IWUSR,
  uid: pipe.uid,
  gid: pipe.gid,
  // the write end has no buffer of its own: it shows its peer's size while there is one
  blksize: reader ? pipe.size : pipe.readerOpen ? pipe.size : 0,
  size: reader ? pipe.count : 0,
  blocks: reader && pipe.count > 0 ? 1 : 0,
  atime: reader ? pipe.atime : pipe.birthtime,
  mtime: reader ? pipe.mtime : pipe.birthtime,
  ctime: pipe.birthtime,
  birthtime: pipe.birthtime
})

// A read and a write as generator functions made once (Effect.fnUntraced),
// not an Effect.gen closure per call: V8 gives every new generator function
// its own prototype and map (BENCHMARKS.md, "generator closures").

const pipeRead = Effect.fnUntraced(function*(pipe: Pipe, ctx: SyscallContext, file: File, len: number) {
  for (;;) {
    if (pipe.count > 0) {
      const data = pipe.take(len)
      pipe.atime = now(pipe.kernel)
      pipe.writers.wakeAll()
      pipe.selectors.wakeAll()
      pipe.knotes.notify(0)
      return data
    }
    // end of file: the writer is gone and everything it wrote has been read
    if (!pipe.writerOpen) return new Uint8Array(0)
    if (nonblocking(file)) return yield* sysErr(Errno.EAGAIN)
    const why = yield* pipe.readers.sleep(ctx.lwp, undefined, () => pipe.count > 0 || !pipe.writerOpen)
    if (why === "interrupted") return yield* sysErr(Errno.EINTR)
  }
})

const pipeWrite = Effect.fnUntraced(function*(pipe: Pipe, ctx: SyscallContext, file: File, data: Uint8Array) {
  if (pipe.readerOpen) pipe.growFor(data.length)
  let done = 0
  while (done < data.length) {
    // the reader is gone (before the write or while it slept): EPIPE, even after a partial write
    if (!pipe.readerOpen) return yield* sysErr(Errno.EPIPE)
    const resid = data.length - done
    const room = pipe.room(resid)
    if (room > 0) {
      const n = Math.min(room, resid)
      pipe.put(data.subarray(done, done + n))
      done += n
      pipe.mtime = now(pipe.kernel)
      pipe.readers.wakeAll()
      pipe.selectors.wakeAll()
      pipe.knotes.notify(0)
      continue
    }
    // a short count when some went in (dofilewrite turns EAGAIN and EINTR after progress into one)
    if (nonblocking(file)) return done > 0 ? done : yield* sysErr(Errno.EAGAIN)
    const why = yield* pipe.writers.sleep(ctx.lwp, undefined, () => !pipe.readerOpen || pipe.room(resid) > 0)
    if (why === "interrupted") return done > 0 ? done : yield* sysErr(Errno.EINTR)
  }
  return done
})

/** The read end's ops (a fifo's reads go through them too). */
export const readEnd = (pipe: Pipe): FileOps => ({
  kind: "pipe",
  seekable: false,
  read: (ctx, file, len) => pipeRead(pipe, ctx, file, len),
  write: () => sysErr(Errno.EBADF),
  ioctl: (_ctx, _file, cmd) => (cmd === ioc.FIONREAD ? Effect.succeed(BigInt(pipe.count)) : sysErr(Errno.ENOTTY)),
  poll: (_file, events) => {
    let revents = 0
    if (pipe.count > 0 || !pipe.writerOpen) revents |= events & READ_EVENTS
    // no peer left: pipe_poll reports the read end writable too, and hung up
    if (!pipe.writerOpen) revents |= (events & WRITE_EVENTS) | POLLHUP
    return revents
  },
  pollQueue: () => pipe.selectors,
  kqfilter: (_file, kn) => pipeKqfilter(pipe, true, kn),
  stat: () => stat(pipe, true),
  close: () =>
    Effect.sync(() => {
      pipe.readerOpen = false
      pipe.dropBuffer()
      pipe.writers.wakeAll()
      pipe.readers.wakeAll()
      pipe.selectors.wakeAll()
      pipe.knotes.notify(0)
    })
})

/** The write end's ops (a fifo's writes go through them too). */
export const writeEnd = (pipe: Pipe): FileOps => ({
  kind: "pipe",
  seekable: false,
  read: () => sysErr(Errno.EBADF),
  write: (ctx, file, data) => pipeWrite(pipe, ctx, file, data),
  // FIONREAD counts the end's own buffer: a write end has none
  ioctl: (_ctx, _file, cmd) => (cmd === ioc.FIONREAD ? Effect.succeed(0n) : sysErr(Errno.ENOTTY)),
  poll: (_file, events) => {
    let revents = 0
    if (!pipe.readerOpen) revents |= (events & (READ_EVENTS | WRITE_EVENTS)) | POLLHUP
    else if (pipe.size - pipe.count >= PIPE_BUF) revents |= events & WRITE_EVENTS
    return revents
  },
  pollQueue: () => pipe.selectors,
  kqfilter: (_file, kn) => pipeKqfilter(pipe, false, kn),
  stat: () => stat(pipe, false),
  close: () =>
    Effect.sync(() => {
      pipe.writerOpen = false
      pipe.readers.wakeAll()
      pipe.writers.wakeAll()
      pipe.selectors.wakeAll()
      pipe.knotes.notify(0)
    })
})

/**
 * A new pipe's two open files, each with one reference for the caller.
 * `flags` (O_NONBLOCK, O_NOSIGPIPE, O_CLOEXEC) go into both files' flags
 * as pipe1 puts them there.
 */
export const openPipe = (
  kernel: KernelState,
  cred: { readonly uid: number; readonly gid: number },
  flags: number
): { readonly pipe: Pipe; readonly reader: File; readonly writer: File } => {
  const pipe = new Pipe(kernel, cred.uid, cred.gid)
  return {
    pipe,
    reader: new File(readEnd(pipe), FREAD | flags, undefined),
    writer: new File(writeEnd(pipe), FWRITE | flags, undefined)
  }
}
