/**
 * Unmounting a tmpfs (NetBSD's dounmount, vflush, tmpfs_unmount): a file
 * system something still uses is EBUSY: a file open on it, a process's
 * working directory in it, or another file system mounted on one of its
 * directories. MNT_FORCE unmounts it all the same (but for a file system
 * mounted on it): its open files are revoked (Revoke.ts) first.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { KernelState } from "../KernelState.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import type { Mount } from "./Mount.ts"
import { killFiles, openFiles } from "./Revoke.ts"

export const unmount: (kernel: KernelState, mount: Mount, force: boolean) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(kernel: KernelState, mount: Mount, force: boolean) {
    const vfs = kernel.vfs
    if (vfs.mounts.some((m) => m.covered?.mount === mount)) return yield* sysErr(Errno.EBUSY)
    const files = openFiles(kernel, (f) => f.vnode?.mount === mount)
    const cwd = [...kernel.procs.values()].some((p) => !p.released && p.cwd.mount === mount)
    if (!force && (files.size > 0 || cwd)) return yield* sysErr(Errno.EBUSY)
    yield* killFiles(files)
    vfs.detach(mount)
  })
