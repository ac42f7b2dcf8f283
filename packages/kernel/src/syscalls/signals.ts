/**
 * The signals family: kill, and reboot (which asks the server to halt).
 *
 * A process here is served to a client; a signal for it is sent to that
 * client as a RAISE (proc.client.raise), which raises it in the client
 * program. There is no in-kernel signal state: no masks, handlers or
 * pending sets.
 */
import { Deferred, Effect } from "effect"
import { Errno, rebootFlags, signals, SYS } from "@sysproxy/protocol/netbsd"
import { isRoot, requireRoot, uidMatch } from "../kauth/Cred.ts"
import type { Proc } from "../proc/Proc.ts"
import { sysErr, SysErr } from "../kern/SysErr.ts"
import type { SyscallContext } from "../kern/SyscallContext.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

/** reboot's boot string is at most this long (sys_reboot's buffer). */
const BOOTSTR_MAX = 128

/** Sends `sig` (0: none, only the check) to the process's client. */
const deliver = (p: Proc, sig: number): Effect.Effect<void> =>
  sig === 0 || p.client === undefined ? Effect.void : p.client.raise(sig)

/**
 * KAUTH_PROCESS_SIGNAL: root may signal anyone; others a process whose
 * real or effective uid is one of theirs, and any process of their own
 * session with SIGCONT.
 */
const maySignal = (from: Proc, to: Proc, sig: number): boolean =>
  isRoot(from) || uidMatch(from.cred, to.cred) || sig === signals.SIGCONT && from.pgrp.session === to.pgrp.session

/**
 * killpg1: every process of `targets` but pid 1 that the caller may
 * signal; ESRCH when there was none (whether none existed or none was
 * permitted).
 */
const killMany = (ctx: SyscallContext, targets: Iterable<Proc>, sig: number): Effect.Effect<void, SysErr> => {
  const permitted = [...targets].filter((p) => !p.released && p.pid > 1 && maySignal(ctx.proc, p, sig))
  return permitted.length === 0 ? sysErr(Errno.ESRCH) : Effect.forEach(permitted, (p) => deliver(p, sig), { discard: true })
}

/**
 * kill(pid, sig), as sys_kill: pid > 0 one process (ESRCH if none, EPERM
 * for init, which has no client to raise it in, or for a process the
 * caller may not signal); 0 the caller's process group; -1 every process
 * but init and the caller; < -1 process group -pid (ESRCH if it has no
 * members).
 */
const kill: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const pid = ctx.args.int(0)
    const sig = ctx.args.int(1)
    if (sig >>> 0 >= signals.NSIG) return yield* sysErr(Errno.EINVAL)
    if (pid > 0) {
      const p = ctx.kernel.procs.get(pid)
      if (p === undefined || p.released) return yield* sysErr(Errno.ESRCH)
      if (sig !== 0 && p.client === undefined) return yield* sysErr(Errno.EPERM)
      if (!maySignal(ctx.proc, p, sig)) return yield* sysErr(Errno.EPERM)
      return yield* deliver(p, sig)
    }
    if (pid === -1) {
      return yield* killMany(ctx, [...ctx.kernel.procs.values()].filter((p) => p !== ctx.proc), sig)
    }
    const pgrp = pid === 0 ? ctx.proc.pgrp : ctx.kernel.pgrps.find(-pid)
    return yield* killMany(ctx, pgrp?.members ?? [], sig)
  })

/**
 * reboot(opt, bootstr): root only. Asks the server to halt; the caller
 * gets its answer first, the server stops after sending it
 * (HaltRequest.lwp).
 */
const reboot: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    yield* requireRoot(ctx.proc)
    const howto = ctx.args.int(0)
    if ((howto & rebootFlags.RB_STRING) !== 0) {
      yield* ctx.mem.copyinstr(ctx.args.ptr(1), BOOTSTR_MAX).pipe(
        Effect.mapError((e) => new SysErr({ errno: e.errno }))
      )
    }
    yield* Deferred.succeed(ctx.kernel.halt, { howto, lwp: ctx.lwp })
  })

export const family: SyscallFamily = [
  [SYS.kill, kill],
  [SYS.reboot, reboot]
]
