/**
 * The sessions family: process groups and sessions (getpgrp, getpgid,
 * setpgid, getsid, setsid) and the session's login name (__getlogin,
 * __setlogin). A new guest is in group 0 of session 0 and leads neither,
 * so its first setsid succeeds.
 */
import { Effect } from "effect"
import { Errno, limits, SYS } from "@sysproxy/protocol/netbsd"
import { requireRoot } from "../kauth/Cred.ts"
import { sysErr, SysErr } from "../kern/SysErr.ts"
import { copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import type { Proc } from "../proc/Proc.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

/** proc_find: the live process `pid` (0 is the caller), or ESRCH. */
const findProc = (ctx: SyscallContext, pid: number): Effect.Effect<Proc, SysErr> => {
  if (pid === 0) return Effect.succeed(ctx.proc)
  const p = ctx.kernel.procs.get(pid)
  return p === undefined || p.released ? sysErr(Errno.ESRCH) : Effect.succeed(p)
}

const getpgrp: SyscallImpl = (ctx) => Effect.succeed(ctx.proc.pgid)

/** getpgid(pid): pid 0 is the caller; ESRCH for no such process. */
const getpgid: SyscallImpl = (ctx) => Effect.map(findProc(ctx, ctx.args.int(0)), (p) => p.pgid)

/** getsid(pid): pid 0 is the caller; ESRCH for no such process. */
const getsid: SyscallImpl = (ctx) => Effect.map(findProc(ctx, ctx.args.int(0)), (p) => p.sid)

/** The result of proc_enterpgrp: `value` on success, else its errno. */
const entered = (errno: number, value: number) => (errno === 0 ? Effect.succeed(value) : sysErr(errno))

/**
 * setsid: a new session and group named after the caller, which leads
 * both. EPERM when a group of that id exists (the caller leads one, or
 * another process is in one named after it).
 */
const setsid: SyscallImpl = (ctx) =>
  Effect.suspend(() => {
    const pid = ctx.proc.pid
    return entered(ctx.kernel.pgrps.enter(ctx.kernel.procs, ctx.proc, pid, pid, true), pid)
  })

/**
 * setpgid(pid, pgid): pid 0 is the caller, pgid 0 the target's pid.
 * EINVAL for a negative pgid; ESRCH unless the target is the caller or a
 * descendant; EPERM across sessions, for a session leader, or for a group
 * that does not exist in the session and is not named after the target;
 * EACCES for a child that exec'd.
 */
const setpgid: SyscallImpl = (ctx) =>
  Effect.suspend(() => {
    const requested = ctx.args.int(1)
    if (requested < 0) return sysErr(Errno.EINVAL)
    const pid = ctx.args.int(0) === 0 ? ctx.proc.pid : ctx.args.int(0)
    const pgid = requested === 0 ? pid : requested
    return entered(ctx.kernel.pgrps.enter(ctx.kernel.procs, ctx.proc, pid, pgid, false), 0)
  })

/** s_login's size (MAXLOGNAME): __getlogin gives at most this many bytes. */
const LOGIN_SIZE = limits.MAXLOGNAME

/**
 * __getlogin(buf, len): copies the session's login name, cut to `len`
 * bytes (at most MAXLOGNAME, NUL-padded; a short buffer gets a truncated
 * name without its NUL, and no error).
 */
const getlogin: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    // the kernel takes the length as an int, then compares it as unsigned
    const asked = ctx.args.int(1)
    const len = asked < 0 || asked > LOGIN_SIZE ? LOGIN_SIZE : asked
    if (len > 0) yield* copyout(ctx, ctx.args.ptr(0), ctx.proc.pgrp.session.login.slice(0, len))
  })

/**
 * __setlogin(name): root only; a name longer than MAXLOGNAME (no NUL
 * within MAXLOGNAME + 1 bytes) is EINVAL. It names the caller's session
 * (every process in it sees it).
 */
const setlogin: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    yield* requireRoot(ctx.proc)
    // a name that does not fit is EINVAL here, not ENAMETOOLONG
    const bytes = yield* Effect.mapError(
      ctx.mem.copyinstr(ctx.args.ptr(0), LOGIN_SIZE + 1),
      (e) => new SysErr({ errno: e.errno === Errno.ENAMETOOLONG ? Errno.EINVAL : e.errno })
    )
    const nul = bytes.indexOf(0)
    if (nul < 0) return yield* sysErr(Errno.EINVAL)
    const login = new Uint8Array(LOGIN_SIZE)
    login.set(bytes.subarray(0, Math.min(nul, LOGIN_SIZE)))
    ctx.proc.pgrp.session.login = login
  })

export const family: SyscallFamily = [
  [SYS.getpgrp, getpgrp],
  [SYS.getpgid, getpgid],
  [SYS.setpgid, setpgid],
  [SYS.getsid, getsid],
  [SYS.setsid, setsid],
  [SYS.__getlogin, getlogin],
  [SYS.__setlogin, setlogin]
]
