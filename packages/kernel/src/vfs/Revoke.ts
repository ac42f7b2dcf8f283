/**
 * Revoking open files (NetBSD's vgone to deadfs): revoke(2), and a forced
 * unmount, cut every open file on the nodes concerned off from them. The
 * file system's close runs once, then the file keeps only dead ops, as
 * dead_vnops.c answers: reads and writes EIO, ioctl and anything about the
 * node (fstat, fchmod, ...) EBADF, poll every event asked for, fsync,
 * lseek and close succeed. New opens of the node are not affected.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { File, FileOps } from "../fd/File.ts"
import type { KernelState } from "../KernelState.ts"
import { sysErr } from "../kern/SysErr.ts"
import { driverOf, type Vnode } from "./Vnode.ts"
import { knoteRevoked } from "../kqueue/VnodeEvents.ts"

export const deadOps: FileOps = {
  kind: "vnode",
  seekable: true,
  read: () => sysErr(Errno.EIO),
  write: () => sysErr(Errno.EIO),
  ioctl: () => sysErr(Errno.EBADF),
  poll: (_file, events) => events,
  close: () => Effect.void
}

export const isDead = (file: File): boolean => file.ops === deadOps

/** Every open file of the kernel's processes that `pick` chooses (each once, however many descriptors it has). */
export const openFiles = (kernel: KernelState, pick: (file: File) => boolean): Set<File> => {
  const files = new Set<File>()
  for (const p of kernel.procs.values()) {
    for (const fd of p.fds.openFds()) {
      const file = p.fds.get(fd)?.file
      if (file !== undefined && !isDead(file) && pick(file)) files.add(file)
    }
  }
  return files
}

/** Cuts `files` off their nodes: each is closed as its file system would, then left dead. */
export const killFiles = (files: Iterable<File>): Effect.Effect<void> =>
  Effect.forEach(files, (file) => {
    // vclean tells the node's knotes it is gone
    if (file.vnode !== undefined) knoteRevoked(file.vnode)
    const close = file.ops.close(file)
    file.ops = deadOps
    return close
  }, { discard: true })

/**
 * VOP_REVOKE(REVOKEALL): the open files on `node` die; for a device node,
 * those on every node of the same device (specfs aliases).
 */
export const revokeNode = (kernel: KernelState, node: Vnode): Effect.Effect<void> =>
  Effect.suspend(() => {
    const rdev = driverOf(node)?.rdev
    const same = (v: Vnode | undefined): boolean =>
      v === node || (v !== undefined && rdev !== undefined && v.type === node.type && driverOf(v)?.rdev === rdev)
    return killFiles(openFiles(kernel, (f) => same(f.vnode)))
  })
