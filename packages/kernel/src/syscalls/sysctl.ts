/**
 * __sysctl(name, namelen, oldp, oldlenp, newp, newlen), NetBSD's
 * sys___sysctl: *oldlenp is read first and always written back, error or
 * not; a NULL oldp asks only for the size; a buffer smaller than the value
 * is ENOMEM with the length the value needs. The tree and what its names
 * mean are the sysctl subsystem's (../sysctl/).
 */
import { allocBytes, viewOf } from "@sysproxy/protocol"
import { Effect, Result } from "effect"
import { Errno, SYS, sysctlSpecial } from "@sysproxy/protocol/netbsd"
import { sysErr } from "../kern/SysErr.ts"
import { copyin, copyinTogether, copyout } from "../kern/SyscallContext.ts"
import { dispatch } from "../sysctl/Dispatch.ts"
import type { SysctlRequest } from "../sysctl/Request.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

const SIZE_T = 8

const u64 = (value: bigint): Uint8Array => {
  const bytes = allocBytes(SIZE_T)
  viewOf(bytes).setBigUint64(bytes.byteOffset, BigInt.asUintN(64, value), true)
  return bytes
}

// made once (Effect.fnUntraced): an Effect.gen closure per call costs V8 a new prototype and map each time
const sysctl: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const namep = ctx.args.ptr(0)
    const namelen = ctx.args.uint(1)
    const oldp = ctx.args.ptr(2)
    const oldlenp = ctx.args.ptr(3)
    const nameOk = namelen >= 1 && namelen <= sysctlSpecial.CTL_MAXNAME
    let oldlen = 0n
    let nameBytes: Uint8Array | undefined
    if (oldlenp !== 0n && nameOk) {
      // *oldlenp and the name at once (one round trip to the client, not two), looked at in NetBSD's order
      const [lenIn, nameIn] = yield* copyinTogether(ctx, [oldlenp, SIZE_T], [namep, namelen * 4])
      if (Result.isFailure(lenIn)) return yield* Effect.fail(lenIn.failure)
      oldlen = viewOf(lenIn.success).getBigUint64(lenIn.success.byteOffset, true)
      if (Result.isFailure(nameIn)) return yield* Effect.fail(nameIn.failure)
      nameBytes = nameIn.success
    } else if (oldlenp !== 0n) {
      const bytes = yield* copyin(ctx, oldlenp, SIZE_T)
      oldlen = viewOf(bytes).getBigUint64(bytes.byteOffset, true)
    }
    const savelen = oldlen
    if (!nameOk) return yield* sysErr(Errno.EINVAL)
    nameBytes ??= yield* copyin(ctx, namep, namelen * 4)
    const view = viewOf(nameBytes)
    const name = new Int32Array(namelen)
    for (let i = 0; i < namelen; i++) name[i] = view.getInt32(nameBytes.byteOffset + i * 4, true)

    const req: SysctlRequest = { ctx, oldp, oldlen, newp: ctx.args.ptr(4), newlen: ctx.args.ulong(5) }
    const outcome = yield* Effect.result(dispatch(ctx.kernel.sysctl, name, req))
    let errno = Result.isFailure(outcome) ? outcome.failure.errno : 0
    // the caller's oldlen is set even in the face of an error
    if (oldlenp !== 0n) {
      const written = yield* Effect.result(copyout(ctx, oldlenp, u64(req.oldlen)))
      if (errno === 0 && Result.isFailure(written)) errno = written.failure.errno
    }
    // the only problem being too small a buffer is ENOMEM
    if (errno === 0 && oldp !== 0n && savelen < req.oldlen) errno = Errno.ENOMEM
    if (errno !== 0) return yield* sysErr(errno)
  })

export const family: SyscallFamily = [[SYS.__sysctl, sysctl]]
