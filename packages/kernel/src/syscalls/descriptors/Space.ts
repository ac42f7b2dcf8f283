/**
 * posix_fadvise, posix_fallocate and fdiscard. The first two answer as
 * the POSIX functions do, through retval with error 0 (their errno is the
 * value); fdiscard fails as usual. tmpfs allocates nothing ahead and frees
 * nothing on request: VOP_FALLOCATE and VOP_FDISCARD are EOPNOTSUPP.
 */
import { Errno, posixFadvise as advice } from "@sysproxy/protocol/netbsd"
import { Effect, Result } from "effect"
import { FWRITE } from "../../fd/File.ts"
import { sysErr, type SysErr } from "../../kern/SysErr.ts"
import type { SyscallContext } from "../../kern/SyscallContext.ts"
import { fileNode } from "../../vfs/At.ts"
import type { SyscallImpl } from "../SyscallImpl.ts"

const OFF_MAX = (1n << 63n) - 1n

/** The errno of a failed effect as its value, 0 for success (a NOERR call's answer). */
const asValue = (effect: Effect.Effect<void, SysErr>): Effect.Effect<number> =>
  Effect.map(Effect.result(effect), (r) => (Result.isSuccess(r) ? 0 : r.failure.errno))

/**
 * do_posix_fadvise: the range (EINVAL), the descriptor (EBADF; ESPIPE for
 * a pipe or socket), the advice (EINVAL for an unknown one). Advice is
 * taken and ignored: the kernel reads nothing ahead.
 */
const fadvise: (ctx: SyscallContext) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(ctx) {
    const offset = ctx.args.long(2)
    const len = ctx.args.long(3)
    // INT64_MAX - offset overflows for a negative offset: EINVAL unless len is 0
    if (len < 0n || (len > 0n && (offset < 0n || OFF_MAX - offset < len))) return yield* sysErr(Errno.EINVAL)
    const file = ctx.proc.fds.get(ctx.args.int(0))?.file
    if (file === undefined) return yield* sysErr(Errno.EBADF)
    if (file.vnode === undefined) {
      return yield* sysErr(file.ops.kind === "pipe" || file.ops.kind === "socket" ? Errno.ESPIPE : Errno.EOPNOTSUPP)
    }
    const a = ctx.args.int(4)
    if (a < advice.POSIX_FADV_NORMAL || a > advice.POSIX_FADV_NOREUSE) return yield* sysErr(Errno.EINVAL)
  })

/** __posix_fadvise50(fd, PAD, offset, len, advice) */
export const posixFadvise: SyscallImpl = (ctx) => asValue(fadvise(ctx))

/** The checks posix_fallocate and fdiscard share: range, descriptor (fd_getvnode), FWRITE, not a directory. */
const space: (ctx: SyscallContext) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(ctx) {
    const pos = ctx.args.long(2)
    const len = ctx.args.long(3)
    if (pos < 0n || len < 0n || len > OFF_MAX - pos) return yield* sysErr(Errno.EINVAL)
    const { file, node } = yield* fileNode(ctx, ctx.args.int(0))
    if ((file.flag & FWRITE) === 0) return yield* sysErr(Errno.EBADF)
    if (node.type === "dir") return yield* sysErr(Errno.EISDIR)
    return yield* sysErr(Errno.EOPNOTSUPP)
  })

/** posix_fallocate(fd, PAD, pos, len): the errno as the value. */
export const posixFallocate: SyscallImpl = (ctx) => asValue(space(ctx))

/** fdiscard(fd, PAD, pos, len) */
export const fdiscard: SyscallImpl = (ctx) => space(ctx)
