/**
 * Open files on a host file system's regular files and directories. A
 * regular file has a host descriptor of its own, opened through the
 * node's path descriptor (HostTree.reopen): reads and writes are
 * positioned host I/O on it, asynchronous (libuv's pool), with no page
 * cache: what a write returns is on the host (in its page cache), and a
 * write the host refuses (ENOSPC, EDQUOT, EIO) is that errno to the caller
 * at once, the file offset unmoved. fsync and fdatasync are the host's,
 * and a node with a sidecar record has the store's log synced too.
 * O_APPEND goes to the host descriptor (pwrite on it appends, as NetBSD's
 * does). A directory's open file is tmpfs's (VnodeFile.ts), its listing
 * HostListing.ts's.
 */
import { Errno, openFlags, pollEvents, rlimit, signals } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import * as Fs from "node:fs"
import { File, type FileOps, FREAD, FWRITE } from "../../fd/File.ts"
import { vnodeKqfilter } from "../../kqueue/filters/VnodeFilter.ts"
import { knoteWritten } from "../../kqueue/VnodeEvents.ts"
import { sysErr, type SysErr } from "../../kern/SysErr.ts"
import type { SyscallContext } from "../../kern/SyscallContext.ts"
import { MAX_FILE_SIZE } from "../FileData.ts"
import type { HostFd } from "./HostFd.ts"
import { closeListing } from "./HostListing.ts"
import { type HostMount, toSysErr } from "./HostMount.ts"
import type { HostRegular, HostVnode } from "./HostNode.ts"

const { O_APPEND, O_RDONLY, O_RDWR, O_WRONLY } = Fs.constants

/** A regular file's host descriptor, and whether the host appends on it. */
interface HostOpen {
  fd: HostFd
  append: boolean
}

const opened = new WeakMap<File, HostOpen>()

const EMPTY = new Uint8Array(0)
const READY = pollEvents.POLLIN | pollEvents.POLLRDNORM | pollEvents.POLLOUT | pollEvents.POLLWRNORM

/** The host open flags for the kernel file flags `flag`. */
const hostFlags = (flag: number, append: boolean): number =>
  ((flag & FREAD) !== 0 && (flag & FWRITE) !== 0 ? O_RDWR : (flag & FWRITE) !== 0 ? O_WRONLY : O_RDONLY) |
  (append ? O_APPEND : 0)

const wantsAppend = (file: File): boolean => (file.flag & openFlags.O_APPEND) !== 0

/** A new open file on `node` with `fd` as its host descriptor; the node is held while it is open. */
const attach = (node: HostRegular, fd: HostFd, flag: number, append: boolean): File => {
  const file = new File(hostRegularOps, flag, node)
  opened.set(file, { fd, append })
  node.opens++
  node.mount.cache.hold(node)
  return file
}

/** Opens the host file behind `node` for the kernel file flags `flag`. */
export const openHostRegular = (node: HostRegular, flag: number): Effect.Effect<File, SysErr> => {
  const mount = node.mount
  const append = (flag & openFlags.O_APPEND) !== 0
  // uninterruptible: the descriptor opened is the file's, or it would be lost; the path descriptor is the regular
  // file's own (pathFd checked its identity), so its type is not asked again
  return mount.withFd(node, (pfd) =>
    Effect.uninterruptible(Effect.map(mount.tree.reopenOwned(pfd, hostFlags(flag, append), "reg"), (fd) => attach(node, fd, flag, append))))
}

/** An open file on a file just created (hostCreate), on the descriptor its creation opened (read-write). */
export const openHostCreated = (node: HostRegular, io: HostFd, flag: number): File =>
  attach(node, io, flag, (flag & openFlags.O_APPEND) !== 0)

const closeHost = (file: File): Effect.Effect<void> =>
  Effect.suspend(() => {
    const node = file.vnode
    if (node?.fs !== "host") return Effect.void
    const o = opened.get(file)
    opened.delete(file)
    node.opens--
    node.mount.release(node)
    return Effect.andThen(o === undefined ? Effect.void : o.fd.close, node.mount.cache.release(node))
  })

/** The host descriptor of `file`, opened again when fcntl changed O_APPEND since it was opened. */
const descriptor = (file: File, node: HostRegular): Effect.Effect<HostFd, SysErr> =>
  Effect.suspend(() => {
    const o = opened.get(file)
    if (o === undefined) return sysErr(Errno.EBADF)
    const append = wantsAppend(file)
    if (o.append === append) return Effect.succeed(o.fd)
    const mount: HostMount = node.mount
    return mount.withFd(node, (pfd) =>
      Effect.uninterruptible(Effect.flatMap(mount.tree.reopenOwned(pfd, hostFlags(file.flag, append), "reg"), (fd) => {
        const old = o.fd
        o.fd = fd
        o.append = append
        return Effect.as(old.close, fd)
      })))
  })

/** A write past the caller's RLIMIT_FSIZE: SIGXFSZ to its client, and EFBIG. */
const fileTooBig = (ctx: SyscallContext): Effect.Effect<never, SysErr> =>
  Effect.andThen(ctx.proc.client?.raise(signals.SIGXFSZ) ?? Effect.void, sysErr(Errno.EFBIG))

const regularOf = (file: File): HostRegular | undefined => {
  const node = file.vnode
  return node?.fs === "host" && node.type === "reg" ? node : undefined
}

export const hostRegularOps: FileOps = {
  kind: "vnode",
  seekable: true,
  read: (_ctx, file, len, offset) =>
    Effect.suspend(() => {
      const node = regularOf(file)
      const o = opened.get(file)
      if (node === undefined || o === undefined) return sysErr(Errno.EBADF)
      const at = offset ?? file.offset
      if (at < 0n) return sysErr(Errno.EINVAL)
      if (len <= 0 || at >= BigInt(MAX_FILE_SIZE)) return Effect.succeed(EMPTY)
      return node.mount.tree.read(o.fd, len, Number(at)).pipe(
        Effect.mapError(toSysErr),
        Effect.tap((data) =>
          Effect.sync(() => {
            if (offset === undefined) file.offset = at + BigInt(data.length)
          })
        )
      )
    }),
  write: (ctx, file, data, offset) =>
    Effect.suspend(() => {
      const node = regularOf(file)
      if (node === undefined) return sysErr(Errno.EBADF)
      const append = wantsAppend(file)
      // with O_APPEND the host writes at its end; the size known here is where that is
      const at = append ? BigInt(node.size) : offset ?? file.offset
      if (at < 0n) return sysErr(Errno.EINVAL)
      if (data.length === 0) return Effect.succeed(0)
      const end = at + BigInt(data.length)
      if (end > ctx.proc.limits.get(rlimit.RLIMIT_FSIZE).cur) return fileTooBig(ctx)
      if (end > BigInt(MAX_FILE_SIZE)) return sysErr(Errno.EFBIG)
      return descriptor(file, node).pipe(
        Effect.flatMap((fd) => Effect.mapError(node.mount.tree.write(fd, data, Number(at)), toSysErr)),
        Effect.map(() => {
          const grows = Number(end) > node.size
          if (grows) node.size = Number(end)
          knoteWritten(node, grows)
          if (offset === undefined || append) file.offset = end
          return data.length
        })
      )
    }),
  poll: (_file, events) => events & READY,
  kqfilter: vnodeKqfilter,
  size: (file) => BigInt(regularOf(file)?.size ?? 0),
  sync: (file, dataOnly) =>
    Effect.suspend(() => {
      const node = regularOf(file)
      const o = opened.get(file)
      if (node === undefined || o === undefined) return Effect.void
      const tree = node.mount.tree
      const data = Effect.mapError(dataOnly ? tree.fdatasync(o.fd) : tree.fsync(o.fd), toSysErr)
      const sidecar = node.mount.sidecar
      return node.record === undefined || sidecar === undefined ? data : Effect.andThen(data, Effect.mapError(sidecar.sync, toSysErr))
    }),
  close: closeHost
}

/** A host directory's open file is closed: its listing's host stream with it. */
export const closeHostDirectory = (file: File): Effect.Effect<void> => Effect.andThen(closeListing(file), closeHost(file))

/** fstat: the node's attributes from the host, through the file's own descriptor when it has one. */
export const refreshOpen = (file: File, node: HostVnode): Effect.Effect<void, SysErr> => {
  const o = opened.get(file)
  if (o === undefined) return node.mount.refresh(node)
  return Effect.mapError(Effect.map(node.mount.tree.fstat(o.fd), (st) => node.applyStat(st)), toSysErr)
}
