/**
 * Descriptor lookups and allocation shared by the descriptor syscalls.
 */
import { Effect } from "effect"
import { Errno } from "@sysproxy/protocol/netbsd"
import type { File } from "../../fd/File.ts"
import { type Descriptor, type FileTable, releaseFile } from "../../fd/FileTable.ts"
import { type LockOwner, releaseLocks } from "../../vfs/Lockf.ts"
import { sysErr, type SysErr } from "../../kern/SysErr.ts"
import type { SyscallContext } from "../../kern/SyscallContext.ts"

/** The open descriptor `fd` of the caller, or EBADF. */
export const getFd = (ctx: SyscallContext, fd: number): Effect.Effect<Descriptor, SysErr> => {
  const d = ctx.proc.fds.get(fd)
  return d === undefined ? sysErr(Errno.EBADF) : Effect.succeed(d)
}

/** A descriptor number the table may hold (below RLIMIT_NOFILE): what dup2 and F_DUPFD accept. */
export const inRange = (table: FileTable, fd: number): boolean => fd >= 0 && fd < table.limit

/** A new descriptor for `file` at the lowest free number >= min (one more reference); EMFILE when full. */
export const allocFd = (table: FileTable, file: File, min: number, cloexec: boolean): Effect.Effect<number, SysErr> => {
  const fd = table.lowestFree(min)
  if (fd === undefined) return sysErr(Errno.EMFILE)
  file.refs++
  table.install(fd, file, cloexec)
  return Effect.succeed(fd)
}

/**
 * Puts `file` at descriptor `to` and then drops what was there: the slot
 * never looks free in between, and dup2 onto another descriptor of the same
 * file never closes it (its new reference is taken first). The replaced
 * descriptor is closed as close(2) would: `owner`'s record locks on it go.
 */
export const installAt = (table: FileTable, file: File, to: number, cloexec: boolean, owner: LockOwner): Effect.Effect<void> =>
  Effect.suspend(() => {
    file.refs++
    const old = table.remove(to)
    table.install(to, file, cloexec)
    if (old === undefined) return Effect.void
    if (old.vnode !== undefined) releaseLocks(old.vnode, owner)
    return releaseFile(old)
  })
