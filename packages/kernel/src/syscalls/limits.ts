/**
 * The resource limits family (kern_resource.c): getrlimit and setrlimit
 * with NetBSD's RLIMIT_* numbers. struct rlimit is two uint64_t (rlim_cur,
 * rlim_max). Raising a hard limit is root's; what is stored is clamped as
 * dosetrlimit clamps it (RLIMIT_NOFILE to maxfiles, so RLIM_INFINITY
 * becomes 1772).
 */
import { Effect } from "effect"
import { Errno, Structs, SYS } from "@sysproxy/protocol/netbsd"
import { sysErr } from "../kern/SysErr.ts"
import { copyin, copyout } from "../kern/SyscallContext.ts"
import { type RLimit, RLIM_NLIMITS } from "../proc/Limits.ts"
import { setLimit } from "../proc/SetLimit.ts"
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
 * setrlimit(which, rlp): the struct is read first (EFAULT), then
 * dosetrlimit's rules (proc/SetLimit.ts, shared with sysctl
 * proc.curproc.rlimit).
 */
const setrlimit: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const bytes = yield* copyin(ctx, ctx.args.ptr(1), RLIMIT_SIZE)
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const asked: RLimit = { cur: view.getBigUint64(0, true), max: view.getBigUint64(8, true) }
    const errno = setLimit(ctx.proc, ctx.proc, ctx.args.int(0), asked)
    if (errno !== 0) return yield* sysErr(errno)
  })

export const family: SyscallFamily = [
  [SYS.getrlimit, getrlimit],
  [SYS.setrlimit, setrlimit]
]
