/**
 * Advisory locks through descriptors: flock(2) (sys_flock), fcntl's
 * F_GETLK, F_SETLK and F_SETLKW (do_fcntl_lock), and the VOP_ADVLOCK
 * step both share (lf_advlock's range rules; a fifo has no locks:
 * EOPNOTSUPP). The locks themselves are vfs/Lockf.ts.
 */
import { decodeFlock, encodeFlock, type Flock, FLOCK_SIZE } from "@sysproxy/protocol"
import { Errno, fileFlagsKernel, flockOps, lseekWhence } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { FREAD, FWRITE } from "../../fd/File.ts"
import { holdingFile } from "../../fd/FileTable.ts"
import { sysErr, type SysErr } from "../../kern/SysErr.ts"
import { copyin, copyout, type SyscallContext } from "../../kern/SyscallContext.ts"
import { sizeOf } from "../../vfs/Attributes.ts"
import { flockFile, lockable } from "../../vfs/Flock.ts"
import { F_RDLCK, F_UNLCK, F_WRLCK, getLock, type Lock, type LockOwner, setLock, unlock } from "../../vfs/Lockf.ts"
import type { Vnode } from "../../vfs/Vnode.ts"
import type { SyscallImpl } from "../SyscallImpl.ts"
import { getFd } from "./Fd.ts"

/** The byte range a struct flock names (lf_advlock): EINVAL for a bad whence or a start before 0. */
const rangeOf = (node: Vnode, f: Flock): Effect.Effect<{ readonly start: bigint; readonly end: bigint }, SysErr> => {
  let start: bigint
  if (f.whence === lseekWhence.SEEK_SET || f.whence === lseekWhence.SEEK_CUR) start = f.start
  else if (f.whence === lseekWhence.SEEK_END) start = BigInt(node.type === "reg" ? sizeOf(node) : 0) + f.start
  else return sysErr(Errno.EINVAL)
  let end: bigint
  if (f.len === 0n) end = -1n
  else if (f.len > 0n) end = start + f.len - 1n
  else {
    // lockf() allows a negative length: the bytes before start
    end = start - 1n
    start += f.len
  }
  return start < 0n ? sysErr(Errno.EINVAL) : Effect.succeed({ start, end })
}

/** flock(fd, how): EOPNOTSUPP for a pipe or socket, EINVAL for anything but one of LOCK_SH, LOCK_EX, LOCK_UN. */
export const flock: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const { file } = yield* getFd(ctx, ctx.args.int(0))
    const node = file.vnode
    if (node === undefined) return yield* sysErr(Errno.EOPNOTSUPP)
    const how = ctx.args.int(1)
    const op = how & ~flockOps.LOCK_NB
    if (op === flockOps.LOCK_UN) {
      file.flag &= ~fileFlagsKernel.FHASLOCK
      yield* lockable(node)
      return yield* unlock(node, file, ctx.proc.uid, 0n, -1n)
    }
    const type = op === flockOps.LOCK_EX ? F_WRLCK : op === flockOps.LOCK_SH ? F_RDLCK : undefined
    if (type === undefined) return yield* sysErr(Errno.EINVAL)
    file.flag |= fileFlagsKernel.FHASLOCK
    yield* flockFile(ctx, file, node, type, (how & flockOps.LOCK_NB) === 0)
  })

/** F_GETLK's answer: the lock in the way, or the request itself with l_type F_UNLCK. */
const answer = (f: Flock, block: Lock | undefined): Flock =>
  block === undefined ? { ...f, type: F_UNLCK } : {
    type: block.type,
    whence: lseekWhence.SEEK_SET,
    start: block.start,
    len: block.end === -1n ? 0n : block.end - block.start + 1n,
    pid: "pid" in block.owner && typeof block.owner.pid === "number" ? block.owner.pid : -1
  }

/**
 * fcntl(fd, F_GETLK | F_SETLK | F_SETLKW, struct flock *): the struct is
 * read first, then the descriptor (EBADF; EINVAL with no vnode); the lock
 * type must suit how the file was opened (EBADF); the owner is the process.
 */
export const fcntlLock: (ctx: SyscallContext, cmd: "get" | "set" | "wait") => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(ctx, cmd) {
    const arg = ctx.args.ptr(2)
    let f = decodeFlock(yield* copyin(ctx, arg, FLOCK_SIZE))
    const { file } = yield* getFd(ctx, ctx.args.int(0))
    const node = file.vnode
    if (node === undefined) return yield* sysErr(Errno.EINVAL)
    if (f.whence === lseekWhence.SEEK_CUR) f = { ...f, start: f.start + file.offset }
    const owner: LockOwner = ctx.proc
    if (cmd === "get") {
      if (f.type !== F_RDLCK && f.type !== F_WRLCK && f.type !== F_UNLCK) return yield* sysErr(Errno.EINVAL)
      yield* lockable(node)
      const { start, end } = yield* rangeOf(node, f)
      const block = getLock(node, { type: f.type, start, end, owner, flock: false, uid: ctx.proc.uid })
      return yield* copyout(ctx, arg, encodeFlock(answer(f, block)))
    }
    if (f.type === F_UNLCK) {
      yield* lockable(node)
      const { start, end } = yield* rangeOf(node, f)
      return yield* unlock(node, owner, ctx.proc.uid, start, end)
    }
    if (f.type !== F_RDLCK && f.type !== F_WRLCK) return yield* sysErr(Errno.EINVAL)
    if ((file.flag & (f.type === F_RDLCK ? FREAD : FWRITE)) === 0) return yield* sysErr(Errno.EBADF)
    yield* lockable(node)
    const { start, end } = yield* rangeOf(node, f)
    yield* holdingFile(file, setLock(ctx.lwp, node, { type: f.type, start, end, owner, flock: false, uid: ctx.proc.uid }, cmd === "wait"))
  })
