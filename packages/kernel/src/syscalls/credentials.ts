/**
 * The credentials family (kern_prot.c): the real, effective and saved uid
 * and gid, the supplementary groups, and issetugid. A change gives the
 * process new credentials (a fork child keeps sharing the old ones) and
 * marks it set-id tainted (PK_SUGID), even when nothing changed.
 */
import { Effect } from "effect"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import type { Cred } from "../kauth/Cred.ts"
import { isRoot, NGROUPS, NO_ID } from "../kauth/Cred.ts"
import * as SetId from "../kauth/SetId.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { copyin, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

const GID_SIZE = 4

/** getuid (getuid_with_euid): the real uid, and the effective one in retval[1]. */
const getuid: SyscallImpl = (ctx) => Effect.succeed([BigInt(ctx.proc.cred.uid), BigInt(ctx.proc.cred.euid)] as const)
const geteuid: SyscallImpl = (ctx) => Effect.succeed(ctx.proc.cred.euid)
/** getgid (getgid_with_egid): the real gid, and the effective one in retval[1]. */
const getgid: SyscallImpl = (ctx) => Effect.succeed([BigInt(ctx.proc.cred.gid), BigInt(ctx.proc.cred.egid)] as const)
const getegid: SyscallImpl = (ctx) => Effect.succeed(ctx.proc.cred.egid)

/** The caller's credentials become `next` (proc_crmod_leave with the set-id mark). */
const install = (ctx: SyscallContext, next: Effect.Effect<Cred, SysErr>): Effect.Effect<void, SysErr> =>
  Effect.map(next, (cred) => {
    ctx.proc.cred = cred
    ctx.proc.sugid = true
  })

const { ID_E_EQ_E, ID_E_EQ_R, ID_E_EQ_S, ID_R_EQ_E, ID_R_EQ_R, ID_S_EQ_E, ID_S_EQ_R, ID_S_EQ_S } = SetId
/** setreuid/setregid may copy any of the three ids into any. */
const ANY_OF_THREE = ID_R_EQ_R | ID_R_EQ_E | ID_E_EQ_R | ID_E_EQ_E | ID_E_EQ_S | ID_S_EQ_R | ID_S_EQ_E | ID_S_EQ_S

/** setuid(uid): all three ids; a non-root caller only to its real uid. */
const setuid: SyscallImpl = (ctx) => {
  const uid = ctx.args.uint(0)
  return install(ctx, SetId.setResUid(ctx.proc.cred, uid, uid, uid, ID_R_EQ_R | ID_E_EQ_R | ID_S_EQ_R))
}

/** seteuid(euid): a non-root caller only to its real or saved uid. */
const seteuid: SyscallImpl = (ctx) =>
  install(ctx, SetId.setResUid(ctx.proc.cred, NO_ID, ctx.args.uint(0), NO_ID, ID_E_EQ_R | ID_E_EQ_S))

const setgid: SyscallImpl = (ctx) => {
  const gid = ctx.args.uint(0)
  return install(ctx, SetId.setResGid(ctx.proc.cred, gid, gid, gid, ID_R_EQ_R | ID_E_EQ_R | ID_S_EQ_R))
}

const setegid: SyscallImpl = (ctx) =>
  install(ctx, SetId.setResGid(ctx.proc.cred, NO_ID, ctx.args.uint(0), NO_ID, ID_E_EQ_R | ID_E_EQ_S))

/** setreuid(ruid, euid): -1 keeps one; the saved uid follows the new euid when the real uid changes. */
const setreuid: SyscallImpl = (ctx) => {
  const cred = ctx.proc.cred
  const r = ctx.args.uint(0) === NO_ID ? cred.uid : ctx.args.uint(0)
  const e = ctx.args.uint(1) === NO_ID ? cred.euid : ctx.args.uint(1)
  return install(ctx, SetId.setResUid(cred, r, e, r === cred.uid ? NO_ID : e, ANY_OF_THREE))
}

const setregid: SyscallImpl = (ctx) => {
  const cred = ctx.proc.cred
  const r = ctx.args.uint(0) === NO_ID ? cred.gid : ctx.args.uint(0)
  const e = ctx.args.uint(1) === NO_ID ? cred.egid : ctx.args.uint(1)
  return install(ctx, SetId.setResGid(cred, r, e, r === cred.gid ? NO_ID : e, ANY_OF_THREE))
}

/**
 * getgroups(gidsetsize, gidset): the number of groups; with a size of 0
 * only that, EINVAL when the size is smaller than the count (a negative
 * one too), else the groups copied out.
 */
const getgroups: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const size = ctx.args.int(0)
    const groups = ctx.proc.cred.groups
    if (size === 0) return groups.length
    if (size < groups.length) return yield* sysErr(Errno.EINVAL)
    if (groups.length > 0) yield* copyout(ctx, ctx.args.ptr(1), gidBytes(groups))
    return groups.length
  })

/**
 * setgroups(gidsetsize, gidset): the groups are read first (EINVAL beyond
 * NGROUPS, a negative size included; EFAULT), then only root may set them.
 */
const setgroups: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const size = ctx.args.int(0)
    if (size < 0 || size > NGROUPS) return yield* sysErr(Errno.EINVAL)
    const bytes = size === 0 ? new Uint8Array(0) : yield* copyin(ctx, ctx.args.ptr(1), size * GID_SIZE)
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const groups = Array.from({ length: size }, (_, i) => view.getUint32(i * GID_SIZE, true))
    if (!isRoot(ctx.proc)) return yield* sysErr(Errno.EPERM)
    yield* install(ctx, Effect.succeed(ctx.proc.cred.with({ groups })))
  })

const gidBytes = (groups: ReadonlyArray<number>): Uint8Array => {
  const bytes = new Uint8Array(groups.length * GID_SIZE)
  const view = new DataView(bytes.buffer)
  groups.forEach((g, i) => view.setUint32(i * GID_SIZE, g, true))
  return bytes
}

/** issetugid: 1 once the process's ids were changed (or it chroot'ed), else 0. */
const issetugid: SyscallImpl = (ctx) => Effect.succeed(ctx.proc.sugid ? 1 : 0)

export const family: SyscallFamily = [
  [SYS.getuid, getuid],
  [SYS.geteuid, geteuid],
  [SYS.getgid, getgid],
  [SYS.getegid, getegid],
  [SYS.setuid, setuid],
  [SYS.seteuid, seteuid],
  [SYS.setgid, setgid],
  [SYS.setegid, setegid],
  [SYS.setreuid, setreuid],
  [SYS.setregid, setregid],
  [SYS.getgroups, getgroups],
  [SYS.setgroups, setgroups],
  [SYS.issetugid, issetugid]
]
