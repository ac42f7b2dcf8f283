/**
 * Open files on regular files and directories: the FileOps the descriptor
 * calls (read, write, pread, pwrite, lseek) use. A regular file reads and
 * writes at the given offset or the file offset, which it advances; with
 * O_APPEND every write (pwrite too, as on NetBSD) goes to the end; one
 * reaching past RLIMIT_FSIZE is refused whole (EFBIG, SIGXFSZ). The open
 * file keeps the node's data alive after an unlink until the last close.
 * A host file system's files have ops of their own (host/HostFileOps.ts),
 * as has a host file mapping's window (HostFileNode.ts).
 */
import { Errno, openFlags, pollEvents, rlimit, signals } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { File, FileOps } from "../fd/File.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import type { SyscallContext } from "../kern/SyscallContext.ts"
import { vnodeKqfilter } from "../kqueue/filters/VnodeFilter.ts"
import { knoteWritten } from "../kqueue/VnodeEvents.ts"
import { markAccessed, markModified, sizeOf } from "./Attributes.ts"
import { MAX_FILE_SIZE } from "./FileData.ts"
import { closeHostDirectory, hostRegularOps } from "./host/HostFileOps.ts"
import { driverOf, type Vnode } from "./Vnode.ts"

const READY = pollEvents.POLLIN | pollEvents.POLLRDNORM | pollEvents.POLLOUT | pollEvents.POLLWRNORM

/** The node is no longer open through `file`: its space may go back (unlinked, no other opens). */
export const closeNode = (file: File): Effect.Effect<void> =>
  Effect.sync(() => {
    const node = file.vnode
    if (node === undefined) return
    node.opens--
    node.mount.release(node)
  })

/** A write past the caller's RLIMIT_FSIZE: SIGXFSZ to its client, and EFBIG. */
const fileTooBig = (ctx: SyscallContext): Effect.Effect<never, SysErr> =>
  Effect.andThen(ctx.proc.client?.raise(signals.SIGXFSZ) ?? Effect.void, sysErr(Errno.EFBIG))

export const regularOps: FileOps = {
  kind: "vnode",
  seekable: true,
  read: (_ctx, file, len, offset) =>
    Effect.suspend(() => {
      const node = file.vnode
      if (node?.type !== "reg" || node.fs !== "tmpfs") return sysErr(Errno.EBADF)
      const at = offset ?? file.offset
      if (at < 0n) return sysErr(Errno.EINVAL)
      const data = at >= BigInt(node.data.size) || len <= 0 ? new Uint8Array(0) : node.data.read(Number(at), len)
      markAccessed(node)
      if (offset === undefined) file.offset = at + BigInt(data.length)
      return Effect.succeed(data)
    }),
  write: (ctx, file, data, offset) =>
    Effect.suspend(() => {
      const node = file.vnode
      if (node?.type !== "reg" || node.fs !== "tmpfs") return sysErr(Errno.EBADF)
      const at = (file.flag & openFlags.O_APPEND) !== 0 ? BigInt(node.data.size) : offset ?? file.offset
      if (at < 0n) return sysErr(Errno.EINVAL)
      if (data.length === 0) return Effect.succeed(0)
      const end = at + BigInt(data.length)
      // past RLIMIT_FSIZE: nothing is written, and the writer gets SIGXFSZ
      if (end > ctx.proc.limits.get(rlimit.RLIMIT_FSIZE).cur) return fileTooBig(ctx)
      if (end > BigInt(MAX_FILE_SIZE)) return sysErr(Errno.EFBIG)
      const grows = end > BigInt(node.data.size)
      // all or nothing: a write that does not fit leaves the file as it was
      if (!node.data.write(Number(at), data)) return sysErr(Errno.ENOSPC)
      markModified(node)
      knoteWritten(node, grows)
      if (offset === undefined) file.offset = end
      return Effect.succeed(data.length)
    }),
  poll: (_file, events) => events & READY,
  kqfilter: vnodeKqfilter,
  size: (file) => BigInt(file.vnode === undefined ? 0 : sizeOf(file.vnode)),
  close: closeNode
}

/**
 * A directory open for reading: getdents lists it (the file offset is the
 * entry cookie); read(2) is EISDIR. A host directory's listing has a host
 * stream that goes with the file.
 */
export const directoryOps: FileOps = {
  kind: "vnode",
  seekable: true,
  read: () => sysErr(Errno.EISDIR),
  write: () => sysErr(Errno.EISDIR),
  poll: (_file, events) => events & READY,
  kqfilter: vnodeKqfilter,
  size: (file) => BigInt(file.vnode === undefined ? 0 : sizeOf(file.vnode)),
  close: (file) => (file.vnode?.fs === "host" ? closeHostDirectory(file) : closeNode(file))
}

/** Fifos and sockets have nothing behind them yet. */
export const unsupportedOps: FileOps = {
  kind: "vnode",
  seekable: false,
  read: () => sysErr(Errno.EOPNOTSUPP),
  write: () => sysErr(Errno.EOPNOTSUPP),
  close: closeNode
}

/** The ops for an open file on `node`. */
export const opsFor = (node: Vnode): FileOps => {
  switch (node.type) {
    case "reg":
      return node.fs === "host" ? hostRegularOps : node.ops ?? regularOps
    case "dir":
      return directoryOps
    case "chr":
    case "blk":
      return driverOf(node)?.ops ?? unsupportedOps
    default:
      return unsupportedOps
  }
}
