/**
 * fcntl (NetBSD's sys_fcntl). Record locks (F_GETLK, F_SETLK, F_SETLKW)
 * are Lock.ts; file-system controls (F_FSCTL) are not implemented: EINVAL,
 * like any unknown command.
 */
import { Effect } from "effect"
import { Errno, fcntlCmds, fdFlags, fileFlagsKernel } from "@sysproxy/protocol/netbsd"
import { closeFd } from "../../fd/FileTable.ts"
import { sysErr } from "../../kern/SysErr.ts"
import type { SyscallContext } from "../../kern/SyscallContext.ts"
import type { SyscallImpl } from "../SyscallImpl.ts"
import { allocFd, getFd, inRange } from "./Fd.ts"
import { fcntlLock } from "./Lock.ts"

const { FCNTLFLAGS, FNOSIGPIPE } = fileFlagsKernel

/** F_CLOSEM: closes every descriptor >= fd (no check that fd itself is open). */
const closeFrom = (ctx: SyscallContext, fd: number) =>
  fd < 0
    ? sysErr(Errno.EBADF)
    : Effect.forEach(ctx.proc.fds.openFds().filter((n) => n >= fd), (n) => closeFd(ctx.proc.fds, n, ctx.proc), {
      discard: true
    })

/** fcntl(fd, cmd, arg) */
export const fcntl: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const fd = ctx.args.int(0)
    const cmd = ctx.args.int(1)
    // the commands that do not look at fd come first, as in sys_fcntl
    if (cmd === fcntlCmds.F_CLOSEM) return yield* closeFrom(ctx, fd)
    if (cmd === fcntlCmds.F_MAXFD) return ctx.proc.fds.openFds().at(-1) ?? -1
    if (cmd === fcntlCmds.F_GETLK) return yield* fcntlLock(ctx, "get")
    if (cmd === fcntlCmds.F_SETLK) return yield* fcntlLock(ctx, "set")
    if (cmd === fcntlCmds.F_SETLKW) return yield* fcntlLock(ctx, "wait")

    const d = yield* getFd(ctx, fd)
    const file = d.file
    // arg is a void *: int-valued commands use its low 32 bits ((int)(long)arg)
    const arg = ctx.args.int(2)
    switch (cmd) {
      case fcntlCmds.F_DUPFD:
      case fcntlCmds.F_DUPFD_CLOEXEC:
        if (!inRange(ctx.proc.fds, arg)) return yield* sysErr(Errno.EINVAL)
        return yield* allocFd(ctx.proc.fds, file, arg, cmd === fcntlCmds.F_DUPFD_CLOEXEC)
      case fcntlCmds.F_GETFD:
        return d.cloexec ? fdFlags.FD_CLOEXEC : 0
      case fcntlCmds.F_SETFD:
        d.cloexec = (arg & fdFlags.FD_CLOEXEC) !== 0
        return 0
      case fcntlCmds.F_GETFL:
        // OFLAGS(f_flag): the kernel keeps FFLAGS(oflags) = oflags + 1
        return file.flag - 1
      case fcntlCmds.F_SETFL: {
        // FFLAGS(arg) & FCNTLFLAGS: only those bits change, the access mode stays
        const bits = ((arg + 1) | 0) & FCNTLFLAGS
        file.flag = (file.flag & ~FCNTLFLAGS) | bits
        return 0
      }
      case fcntlCmds.F_GETOWN:
        return file.owner
      case fcntlCmds.F_SETOWN:
        file.owner = arg
        return 0
      case fcntlCmds.F_GETNOSIGPIPE:
        return (file.flag & FNOSIGPIPE) !== 0 ? 1 : 0
      case fcntlCmds.F_SETNOSIGPIPE:
        file.flag = ctx.args.ptr(2) !== 0n ? file.flag | FNOSIGPIPE : file.flag & ~FNOSIGPIPE
        return 0
      default:
        return yield* sysErr(Errno.EINVAL)
    }
  })
