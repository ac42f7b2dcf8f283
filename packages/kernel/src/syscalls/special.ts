/**
 * The special files family: mkfifo, mkfifoat, and mknod (__mknod50,
 * mknodat) as do_sys_mknodat has it: the superuser only (EPERM first),
 * then the lookup (EEXIST for a name in use), then the type: S_IFCHR and
 * S_IFBLK make device nodes (EINVAL for the device number NODEV), S_IFREG a
 * regular file; S_IFIFO, S_IFDIR and anything else are EINVAL (mkfifo
 * makes fifos). A character node with the numbers of one of the kernel's
 * devices is that device; other numbers open as ENXIO.
 */
import { Errno, modeBits, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { requireRoot } from "../kauth/Cred.ts"
import { sysErr } from "../kern/SysErr.ts"
import { copyinPath, type SyscallContext } from "../kern/SyscallContext.ts"
import { AT_FDCWD, lookupAt } from "../vfs/At.ts"
import { createRegular, makeSpecial } from "../vfs/Create.ts"
import { absentDriver } from "../vfs/Devices.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

const { S_IFMT, S_IFCHR, S_IFBLK, S_IFREG, ALLPERMS } = modeBits

/** dev_t VNOVAL: no device number. */
const NODEV = 0xffff_ffff_ffff_ffffn

const locked = <A, E>(ctx: SyscallContext, effect: Effect.Effect<A, E>) => ctx.kernel.vfs.exclusive(effect)

const mkfifoAt = Effect.fnUntraced(
  function*(ctx: SyscallContext, dirfd: number, pathSlot: number, mode: number) {
    const p = yield* copyinPath(ctx, ctx.args.ptr(pathSlot))
    const perms = mode & ALLPERMS & ~ctx.proc.umask
    yield* locked(
      ctx,
      Effect.flatMap(lookupAt(ctx, dirfd, p, false), (l) => makeSpecial(ctx.proc, l, perms, { type: "fifo" }))
    )
  })

const mknodLocked = Effect.fnUntraced(
  function*(ctx: SyscallContext, dirfd: number, p: string, perms: number, type: number, dev: bigint) {
    const l = yield* lookupAt(ctx, dirfd, p, false)
    if (l.node !== undefined) return yield* sysErr(Errno.EEXIST)
    if (type === S_IFREG) return yield* createRegular(ctx.proc, l, perms)
    if (type !== S_IFCHR && type !== S_IFBLK) return yield* sysErr(Errno.EINVAL)
    if (dev === NODEV) return yield* sysErr(Errno.EINVAL)
    const rdev = Number(BigInt.asUintN(53, dev))
    const known = type === S_IFCHR ? ctx.kernel.vfs.charDevices.get(rdev) : undefined
    const driver = known ?? absentDriver(rdev)
    return yield* makeSpecial(ctx.proc, l, perms, { type: type === S_IFCHR ? "chr" : "blk", driver })
  }
)

const mknodAt = Effect.fnUntraced(
  function*(ctx: SyscallContext, dirfd: number, pathSlot: number, mode: number, dev: bigint) {
    yield* requireRoot(ctx.proc)
    const p = yield* copyinPath(ctx, ctx.args.ptr(pathSlot))
    const perms = mode & ALLPERMS & ~ctx.proc.umask
    yield* locked(ctx, mknodLocked(ctx, dirfd, p, perms, mode & S_IFMT, dev))
  }
)

/** mkfifo(path, mode) */
const mkfifo: SyscallImpl = (ctx) => mkfifoAt(ctx, AT_FDCWD, 0, ctx.args.uint(1))
/** mkfifoat(fd, path, mode) */
const mkfifoat: SyscallImpl = (ctx) => mkfifoAt(ctx, ctx.args.int(0), 1, ctx.args.uint(2))
/** __mknod50(path, mode, dev) */
const mknod: SyscallImpl = (ctx) => Effect.asVoid(mknodAt(ctx, AT_FDCWD, 0, ctx.args.uint(1), ctx.args.ulong(2)))
/** mknodat(fd, path, mode, PAD, dev) */
const mknodat: SyscallImpl = (ctx) => Effect.asVoid(mknodAt(ctx, ctx.args.int(0), 1, ctx.args.uint(2), ctx.args.ulong(4)))

export const family: SyscallFamily = [
  [SYS.mkfifo, mkfifo],
  [SYS.mkfifoat, mkfifoat],
  [SYS.__mknod50, mknod],
  [SYS.mknodat, mknodat]
]
