/**
 * An open file: what a descriptor points at. Several descriptors (dup, a
 * copied or shared table) may point at one File; it is closed when the
 * last reference goes.
 */
import type { Effect } from "effect"
import type { StatInfo } from "../abi/Stat.ts"
import type { Knote } from "../kqueue/Knote.ts"
import type { WaitQueue } from "../proc/Sleep.ts"
import type { SysErr } from "../kern/SysErr.ts"
import type { SyscallContext } from "../kern/SyscallContext.ts"
import type { Vnode } from "../vfs/Vnode.ts"

/** Kernel file flags: FFLAGS(oflags) = oflags + 1, so FREAD 1, FWRITE 2. */
export const FREAD = 1
export const FWRITE = 2

/** What a kind of file (vnode, pipe, socket, device) does with the descriptor calls. */
export interface FileOps {
  readonly kind: "vnode" | "pipe" | "socket" | "device" | "kqueue" | "sem"
  /** Reads up to `len` bytes at `offset` (or the file offset when undefined, which it advances). */
  readonly read: (ctx: SyscallContext, file: File, len: number, offset: bigint | undefined) => Effect.Effect<Uint8Array, SysErr>
  /** Writes `data` at `offset` (or the file offset / end for O_APPEND); returns the count written. */
  readonly write: (ctx: SyscallContext, file: File, data: Uint8Array, offset: bigint | undefined) => Effect.Effect<number, SysErr>
  /**
   * Every write is taken whole without looking at the data (the null and
   * zero devices): the caller's buffer is never copied in, so a write costs
   * no COPYIN and a bad buffer is no error. `write` is then never called.
   */
  readonly discardsWrites?: boolean
  /**
   * ioctl beyond what the descriptor layer handles itself (FIOCLEX,
   * FIONCLEX, FIONBIO, FIOASYNC, FIOSETOWN, FIOGETOWN, and FIONREAD on a
   * "vnode" file, which is size - offset). `cmd` is the whole command word;
   * `arg` is the int (or, for an 8-byte parameter, the long) the caller
   * passed by reference for an IOC_IN command, the raw argument otherwise.
   * For an IOC_OUT command the result is copied back as the command's
   * parameter size (FIONREAD: an int). Unknown commands: ENOTTY.
   */
  readonly ioctl?: (ctx: SyscallContext, file: File, cmd: number, arg: bigint) => Effect.Effect<bigint, SysErr>
  /**
   * For a file that refuses what the descriptor layer asks of it beside
   * the flag itself: the errno its fo_fcntl answers F_SETFL with, and the
   * one its fo_ioctl answers FIONBIO, FIOASYNC, FIOSETOWN and FIOGETOWN
   * with (0: taken). Absent: both taken (vnodes, pipes, sockets).
   */
  readonly refuses?: { readonly setfl: number; readonly ioctl: number }
  /**
   * poll(2) readiness: the subset of `events` that is ready now, plus the
   * conditions reported whether asked for or not (POLLHUP, POLLERR).
   * Absent: nothing is ever ready.
   */
  readonly poll?: (file: File, events: number) => number
  /**
   * The queue woken whenever the file's poll answer may have changed (poll
   * and select sleep on it). Absent: the answer never changes by itself.
   */
  readonly pollQueue?: (file: File) => WaitQueue
  /**
   * fo_kqfilter: attaches an EVFILT_READ, EVFILT_WRITE or EVFILT_VNODE knote
   * to what the file watches (setting its filter ops); an errno when the file
   * does not support that filter. Absent: EOPNOTSUPP.
   */
  readonly kqfilter?: (file: File, kn: Knote) => number
  /** fstat answered by the file itself (a pipe, a socket); absent: its vnode's attributes, or EOPNOTSUPP with none. */
  readonly stat?: (file: File) => StatInfo
  /** fsync(2) of what the file reaches beyond the kernel (a host file), fdatasync(2) with `dataOnly`; absent: nothing to do. */
  readonly sync?: (file: File, dataOnly: boolean) => Effect.Effect<void, SysErr>
  /** The last reference is gone. */
  readonly close: (file: File) => Effect.Effect<void>
  /** lseek, pread and pwrite are allowed (ESPIPE otherwise). */
  readonly seekable: boolean
  /**
   * The file's current size, for lseek(SEEK_END) and FIONREAD; absent
   * counts as 0 (as a character device's va_size is).
   */
  readonly size?: (file: File) => bigint
}

export class File {
  offset = 0n
  refs = 1
  /** F_SETOWN: the pid to send SIGIO to (negative: a process group). */
  owner = 0

  /** What the file does; a revoked file (vfs/Revoke.ts) is given dead ops. */
  ops: FileOps
  /** FREAD | FWRITE | the FCNTLFLAGS bits (O_APPEND, O_NONBLOCK, O_ASYNC, ...). */
  flag: number
  readonly vnode: Vnode | undefined

  constructor(
    ops: FileOps,
    flag: number,
    vnode: Vnode | undefined
  ) {
    this.ops = ops
    this.flag = flag
    this.vnode = vnode
  }
}
