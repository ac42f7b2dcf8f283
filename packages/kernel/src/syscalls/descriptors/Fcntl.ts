/**
 * fcntl (NetBSD's sys_fcntl). Record locks (F_GETLK, F_SETLK, F_SETLKW)
 * are Lock.ts; file-system controls (F_FSCTL) are not implemented: EINVAL,
 * like any unknown command.
 */
import { Effect } from "effect"
import { Errno, fcntlCmds, fdFlags, fileFlagsCompat, fileFlagsKernel } from "@sysproxy/protocol/netbsd"
import type { File } from "../../fd/File.ts"
import { closeFd } from "../../fd/FileTable.ts"
import { sysErr, type SysErr } from "../../kern/SysErr.ts"
import type { SyscallContext } from "../../kern/SyscallContext.ts"
import type { SyscallImpl } from "../SyscallImpl.ts"
import { allocFd, getFd, inRange } from "./Fd.ts"
import { fcntlLock } from "./Lock.ts"

const { FCNTLFLAGS, FNONBLOCK, FNOSIGPIPE } = fileFlagsKernel
const { FASYNC } = fileFlagsCompat

/** F_CLOSEM: closes every descriptor >= fd (no check that fd itself is open). */
const closeFrom = (ctx: SyscallContext, fd: number) =>
  fd < 0
    ? sysErr(Errno.EBADF)
    : Effect.forEach(ctx.proc.fds.openFds().filter((n) => n >= fd), (n) => closeFd(ctx.proc.fds, n, ctx.proc), {
      discard: true
    })

/**
 * F_SETFL as do_fcntl: FFLAGS(arg) & FCNTLFLAGS (the access mode stays),
 * asked of the file's fo_fcntl first and of its fo_ioctl for a changed
 * FNONBLOCK or FASYNC; a refusal leaves the flags as they were.
 */
const setFl = (file: File, arg: number): Effect.Effect<number, SysErr> => {
  const bits = ((arg + 1) | 0) & FCNTLFLAGS
  const refuses = file.ops.refuses
  if (refuses !== undefined) {
    if (refuses.setfl !== 0) return sysErr(refuses.setfl)
    if (((bits ^ file.flag) & (FNONBLOCK | FASYNC)) !== 0 && refuses.ioctl !== 0) return sysErr(refuses.ioctl)
  }
  file.flag = (file.flag & ~FCNTLFLAGS) | bits
  return Effect.succeed(0)
}

/** F_GETOWN and F_SETOWN go to the file's fo_ioctl (FIOGETOWN, FIOSETOWN): `answer`, unless the file refuses them. */
const ownerRefused = (file: File, answer: number, set?: () => void): Effect.Effect<number, SysErr> => {
  const errno = file.ops.refuses?.ioctl ?? 0
  if (errno !== 0) return sysErr(errno)
  set?.()
  return Effect.succeed(answer)
}

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
      case fcntlCmds.F_SETFL:
        return yield* setFl(file, arg)
      case fcntlCmds.F_GETOWN:
        return yield* ownerRefused(file, file.owner)
      case fcntlCmds.F_SETOWN:
        return yield* ownerRefused(file, 0, () => {
          file.owner = arg
        })
      case fcntlCmds.F_GETNOSIGPIPE:
        return (file.flag & FNOSIGPIPE) !== 0 ? 1 : 0
      case fcntlCmds.F_SETNOSIGPIPE:
        file.flag = ctx.args.ptr(2) !== 0n ? file.flag | FNOSIGPIPE : file.flag & ~FNOSIGPIPE
        return 0
      default:
        return yield* sysErr(Errno.EINVAL)
    }
  })
