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
import type { Proc } from "../proc/Proc.ts"
import { sysErr, SysErr } from "../kern/SysErr.ts"
import type { SyscallContext } from "../kern/SyscallContext.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

/** reboot's boot string is at most this long (sys_reboot's buffer). */
const BOOTSTR_MAX = 128

const live = (ctx: SyscallContext): Array<Proc> => [...ctx.kernel.procs.values()].filter((p) => !p.released)

/** Sends `sig` (0: none, only the check) to the process's client. */
const deliver = (p: Proc, sig: number): Effect.Effect<void> =>
  sig === 0 || p.client === undefined ? Effect.void : p.client.raise(sig)

/**
 * killpg1: every process of the group (all = every process but the caller)
 * except pid 1; ESRCH when there was none.
 */
const killMany = (targets: ReadonlyArray<Proc>, sig: number): Effect.Effect<void, SysErr> =>
  targets.length === 0
    ? sysErr(Errno.ESRCH)
    : Effect.forEach(targets, (p) => deliver(p, sig), { discard: true })

/**
 * kill(pid, sig), as sys_kill: pid > 0 one process (ESRCH if none, EPERM
 * for init, which has no client to raise it in); 0 the caller's process
 * group; -1 every process but init and the caller; < -1 process group -pid.
 */
const kill: SyscallImpl = (ctx) =>
  Effect.gen(function*() {
    const pid = ctx.args.int(0)
    const sig = ctx.args.int(1)
    if (sig >>> 0 >= signals.NSIG) return yield* sysErr(Errno.EINVAL)
    if (pid > 0) {
      const p = ctx.kernel.procs.get(pid)
      if (p === undefined || p.released) return yield* sysErr(Errno.ESRCH)
      if (sig !== 0 && p.client === undefined) return yield* sysErr(Errno.EPERM)
      return yield* deliver(p, sig)
    }
    const others = live(ctx).filter((p) => p.pid > 1)
    if (pid === -1) return yield* killMany(others.filter((p) => p !== ctx.proc), sig)
    const pgid = pid === 0 ? ctx.proc.pgid : -pid
    return yield* killMany(others.filter((p) => p.pgid === pgid), sig)
  })

/**
 * reboot(opt, bootstr): asks the server to halt. The caller gets its
 * answer first; the server stops after sending it (HaltRequest.lwp).
 */
const reboot: SyscallImpl = (ctx) =>
  Effect.gen(function*() {
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
