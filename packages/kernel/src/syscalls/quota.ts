/**
 * __quotactl (do_sys_quotactl): the struct quotactl_args is read, the path
 * looked up, then each operation reads what it takes from the caller
 * (keys, values, cursors, a quota file name) before asking the file
 * system, and tmpfs keeps no quotas: EOPNOTSUPP. An unknown operation is
 * EINVAL.
 */
import { Errno, limits, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr } from "../kern/SysErr.ts"
import { copyin, copyinPath } from "../kern/SyscallContext.ts"
import { AT_FDCWD, nodeAt } from "../vfs/At.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

/** sizeof(struct quotactl_args): qc_op and its union, 8-aligned. */
const QUOTACTL_ARGS_SIZE = 48
/** sizeof(struct quotakey), sizeof(struct quotaval), sizeof(struct quotakcursor). */
const QUOTAKEY_SIZE = 12
const QUOTAVAL_SIZE = 40
const QUOTAKCURSOR_SIZE = 64

/** QUOTACTL_* operations, in sys/quotactl.h order. */
const Op = {
  STAT: 0,
  IDTYPESTAT: 1,
  OBJTYPESTAT: 2,
  GET: 3,
  PUT: 4,
  DEL: 5,
  CURSOROPEN: 6,
  CURSORCLOSE: 7,
  CURSORSKIPIDTYPE: 8,
  CURSORGET: 9,
  CURSORATEND: 10,
  CURSORREWIND: 11,
  QUOTAON: 12,
  QUOTAOFF: 13
} as const

/** What each operation copies in before the file system is asked: [size, pointer's offset in the args]. */
const reads: Readonly<Record<number, ReadonlyArray<readonly [number, number]>>> = {
  [Op.GET]: [[QUOTAKEY_SIZE, 8]],
  [Op.PUT]: [[QUOTAKEY_SIZE, 8], [QUOTAVAL_SIZE, 16]],
  [Op.DEL]: [[QUOTAKEY_SIZE, 8]],
  [Op.CURSORCLOSE]: [[QUOTAKCURSOR_SIZE, 8]],
  [Op.CURSORSKIPIDTYPE]: [[QUOTAKCURSOR_SIZE, 8]],
  [Op.CURSORGET]: [[QUOTAKCURSOR_SIZE, 8]],
  [Op.CURSORATEND]: [[QUOTAKCURSOR_SIZE, 8]],
  [Op.CURSORREWIND]: [[QUOTAKCURSOR_SIZE, 8]],
  // the quota file's name is copied in as PATH_MAX bytes (copyin, not copyinstr)
  [Op.QUOTAON]: [[limits.PATH_MAX, 16]]
}

/** __quotactl(path, args) */
const quotactl: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const args = yield* copyin(ctx, ctx.args.ptr(1), QUOTACTL_ARGS_SIZE)
    const p = yield* copyinPath(ctx, ctx.args.ptr(0))
    yield* ctx.kernel.vfs.exclusive(nodeAt(ctx, AT_FDCWD, p, true))
    const v = new DataView(args.buffer, args.byteOffset, args.byteLength)
    const op = v.getUint32(0, true)
    if (op > Op.QUOTAOFF) return yield* sysErr(Errno.EINVAL)
    for (const [size, at] of reads[op] ?? []) yield* copyin(ctx, v.getBigUint64(at, true), size)
    return yield* sysErr(Errno.EOPNOTSUPP)
  })

export const family: SyscallFamily = [[SYS.__quotactl, quotactl]]
