/**
 * close, dup, dup2, dup3 (NetBSD's sys_close, sys_dup and dodup).
 */
import { Effect } from "effect"
import { Errno, fileFlagsKernel, openFlags } from "@sysproxy/protocol/netbsd"
import { closeFd } from "../../fd/FileTable.ts"
import { sysErr } from "../../kern/SysErr.ts"
import type { SyscallImpl } from "../SyscallImpl.ts"
import { allocFd, getFd, inRange, installAt } from "./Fd.ts"

/** The flags dup3 takes (fd_dup2 refuses any other bit with EINVAL). */
const DUP3_FLAGS = openFlags.O_CLOEXEC | openFlags.O_NONBLOCK | openFlags.O_NOSIGPIPE

/** close(fd) */
export const close: SyscallImpl = (ctx) =>
  closeFd(ctx.proc.fds, ctx.args.int(0), ctx.proc).pipe(Effect.flatMap((closed) => (closed ? Effect.void : sysErr(Errno.EBADF))))

/** dup(fd): the lowest free descriptor, without close-on-exec. */
export const dup: SyscallImpl = (ctx) =>
  getFd(ctx, ctx.args.int(0)).pipe(Effect.flatMap((d) => allocFd(ctx.proc.fds, d.file, 0, false)))

/**
 * dodup: EBADF for a closed `from` or an out-of-range `to`; `from == to`
 * returns `to` and changes nothing, for dup3 too (NetBSD 7 does not make
 * that EINVAL as Linux does).
 */
const dodup = (from: number, to: number, flags: number): SyscallImpl => Effect.fnUntraced(
  function*(ctx) {
    const d = yield* getFd(ctx, from)
    if (!inRange(ctx.proc.fds, to)) return yield* sysErr(Errno.EBADF)
    if (from === to) return to
    if ((flags & ~DUP3_FLAGS) !== 0) return yield* sysErr(Errno.EINVAL)
    yield* installAt(ctx.proc.fds, d.file, to, (flags & openFlags.O_CLOEXEC) !== 0, ctx.proc)
    // fd_dup2 sets these on the open file itself, shared by every descriptor of it
    d.file.flag |= flags & (fileFlagsKernel.FNONBLOCK | fileFlagsKernel.FNOSIGPIPE)
    return to
  })

/** dup2(from, to) */
export const dup2: SyscallImpl = (ctx) => dodup(ctx.args.int(0), ctx.args.int(1), 0)(ctx)

/** dup3(from, to, flags) */
export const dup3: SyscallImpl = (ctx) => dodup(ctx.args.int(0), ctx.args.int(1), ctx.args.int(2))(ctx)
