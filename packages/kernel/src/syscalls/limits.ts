/**
 * The resource limits family (kern_resource.c): getrlimit and setrlimit
 * with NetBSD's RLIMIT_* numbers. struct rlimit is two uint64_t (rlim_cur,
 * rlim_max). Raising a hard limit is root's; what is stored is clamped as
 * dosetrlimit clamps it (RLIMIT_NOFILE to maxfiles, so RLIM_INFINITY
 * becomes 1772).
 */
import { Effect } from "effect"
import { Errno, rlimit, Structs, SYS } from "@sysproxy/protocol/netbsd"
import { isRoot } from "../kauth/Cred.ts"
import { sysErr } from "../kern/SysErr.ts"
import { copyin, copyout } from "../kern/SyscallContext.ts"
import { clampLimit, type RLimit, RLIM_NLIMITS } from "../proc/Limits.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

const RLIMIT_SIZE = Structs.rlimit.size

/** `which` as the kernel compares it, (u_int)which < RLIM_NLIMITS. */
const validWhich = (which: number): boolean => which >>> 0 < RLIM_NLIMITS

const encode = (l: RLimit): Uint8Array => {
  const bytes = new Uint8Array(RLIMIT_SIZE)
  const view = new DataView(bytes.buffer)
  view.setBigUint64(0, l.cur, true)
  view.setBigUint64(8, l.max, true)
  return bytes
}

/** getrlimit(which, rlp) */
const getrlimit: SyscallImpl = (ctx) =>
  Effect.suspend(() => {
    const which = ctx.args.int(0)
    if (!validWhich(which)) return sysErr(Errno.EINVAL)
    return copyout(ctx, ctx.args.ptr(1), encode(ctx.proc.limits.get(which)))
  })

/**
 * setrlimit(which, rlp): the struct is read first (EFAULT); EINVAL for an
 * unknown `which` or a soft limit above the hard one; the same values
 * change nothing; a non-root caller may not raise the hard limit (EPERM).
 */
const setrlimit: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const which = ctx.args.int(0)
    const bytes = yield* copyin(ctx, ctx.args.ptr(1), RLIMIT_SIZE)
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const asked: RLimit = { cur: view.getBigUint64(0, true), max: view.getBigUint64(8, true) }
    if (!validWhich(which)) return yield* sysErr(Errno.EINVAL)
    if (asked.cur > asked.max) return yield* sysErr(Errno.EINVAL)
    const p = ctx.proc
    const now = p.limits.get(which)
    if (asked.cur === now.cur && asked.max === now.max) return
    if (asked.max > now.max && !isRoot(p)) return yield* sysErr(Errno.EPERM)
    p.limits = p.limits.with(which, clampLimit(which, asked))
    if (which === rlimit.RLIMIT_NOFILE) p.fds.limit = p.limits.openFiles
  })

export const family: SyscallFamily = [
  [SYS.getrlimit, getrlimit],
  [SYS.setrlimit, setrlimit]
]
