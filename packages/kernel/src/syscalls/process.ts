/**
 * The process family: identity and credentials, process groups and
 * sessions.
 */
import { Effect } from "effect"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import type { Proc } from "../proc/Proc.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import type { SyscallContext } from "../kern/SyscallContext.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

/** The live process `pid` (0 is the caller), or ESRCH. */
const findProc = (ctx: SyscallContext, pid: number): Effect.Effect<Proc, SysErr> => {
  if (pid === 0) return Effect.succeed(ctx.proc)
  const p = ctx.kernel.procs.get(pid)
  return p === undefined || p.released ? sysErr(Errno.ESRCH) : Effect.succeed(p)
}

/** getpid: the pid in retval[0] and the parent's in retval[1], as NetBSD returns both. */
const getpid: SyscallImpl = (ctx) => Effect.succeed([BigInt(ctx.proc.pid), BigInt(ctx.proc.ppid)] as const)

const getppid: SyscallImpl = (ctx) => Effect.succeed(ctx.proc.ppid)

// no set*id syscalls exist here, so real, effective and saved ids are one
const getuid: SyscallImpl = (ctx) => Effect.succeed(ctx.proc.uid)
const getgid: SyscallImpl = (ctx) => Effect.succeed(ctx.proc.gid)

const getpgrp: SyscallImpl = (ctx) => Effect.succeed(ctx.proc.pgid)

/** getpgid(pid): pid 0 is the caller; ESRCH for no such process. */
const getpgid: SyscallImpl = (ctx) => findProc(ctx, ctx.args.int(0)).pipe(Effect.map((p) => p.pgid))

/** getsid(pid): pid 0 is the caller; ESRCH for no such process. */
const getsid: SyscallImpl = (ctx) => findProc(ctx, ctx.args.int(0)).pipe(Effect.map((p) => p.sid))

/**
 * setsid: a new session and process group named by the caller's pid.
 * EPERM when a process group with that id exists already (the caller
 * leads one, or another process is in one named after it), as
 * proc_enterpgrp refuses.
 */
const setsid: SyscallImpl = (ctx) =>
  Effect.suspend(() => {
    const pid = ctx.proc.pid
    for (const p of ctx.kernel.procs.values()) {
      if (!p.released && p.pgid === pid) return sysErr(Errno.EPERM)
    }
    ctx.proc.sid = pid
    ctx.proc.pgid = pid
    return Effect.succeed(pid)
  })

export const family: SyscallFamily = [
  [SYS.getpid, getpid],
  [SYS.getppid, getppid],
  [SYS.getuid, getuid],
  [SYS.geteuid, getuid],
  [SYS.getgid, getgid],
  [SYS.getegid, getgid],
  [SYS.getpgrp, getpgrp],
  [SYS.getpgid, getpgid],
  [SYS.getsid, getsid],
  [SYS.setsid, setsid]
]
