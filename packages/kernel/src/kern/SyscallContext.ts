/**
 * What a syscall implementation gets: the kernel, the calling process and
 * lwp, its arguments, and the caller's memory with faults already turned
 * into errnos.
 */
import { Errno, limits } from "@sysproxy/protocol/netbsd"
import { Effect, Fiber, type Result } from "effect"
import type { UserMemoryService } from "@sysproxy/hypervisor"
import type { Args } from "../abi/Args.ts"
import type { KernelState } from "../KernelState.ts"
import type { Lwp } from "../proc/Lwp.ts"
import type { Proc } from "../proc/Proc.ts"
import { nameFromBytes } from "../vfs/Names.ts"
import { SysErr } from "./SysErr.ts"

export interface SyscallContext {
  readonly kernel: KernelState
  readonly proc: Proc
  readonly lwp: Lwp
  readonly args: Args
  readonly mem: UserMemoryService
}

const toSysErr = (f: { readonly errno: number }) => new SysErr({ errno: f.errno })

// one shared mapping function, not a closure per copy
const asSysErr = <A, E extends { readonly errno: number }>(e: Effect.Effect<A, E>): Effect.Effect<A, SysErr> =>
  Effect.mapError(e, toSysErr)

export const copyin = (ctx: SyscallContext, addr: bigint, len: number) => asSysErr(ctx.mem.copyin(addr, len))
export const copyout = (ctx: SyscallContext, addr: bigint, data: Uint8Array) => asSysErr(ctx.mem.copyout(addr, data))
export const copyoutstr = (ctx: SyscallContext, addr: bigint, data: Uint8Array) => asSysErr(ctx.mem.copyoutstr(addr, data))

/**
 * Two copyins at once, each with its own outcome, in the order given: to a
 * remote client both requests go out together and their answers come in
 * one round trip instead of two. For a syscall whose copyins do not depend
 * on each other; it looks at the outcomes in NetBSD's order, so the errno
 * is the one NetBSD's sequential copyins give (the client may only see a
 * request NetBSD would not have sent after an earlier fault).
 */
export const copyinTogether = (
  ctx: SyscallContext,
  first: readonly [addr: bigint, len: number],
  second: readonly [addr: bigint, len: number]
): Effect.Effect<readonly [Result.Result<Uint8Array, SysErr>, Result.Result<Uint8Array, SysErr>]> =>
  // the first in a fiber of its own, started at once (its request is sent before the second's)
  Effect.flatMap(Effect.forkChild(Effect.result(copyin(ctx, first[0], first[1])), { startImmediately: true }), (one) =>
    Effect.flatMap(Effect.result(copyin(ctx, second[0], second[1])), (two) => Effect.map(Fiber.join(one), (r) => [r, two] as const)))

/**
 * A string argument: at most `max` bytes with its NUL (ENAMETOOLONG
 * without one), one char per byte so any byte string survives.
 */
export const copyinString = (ctx: SyscallContext, addr: bigint, max: number): Effect.Effect<string, SysErr> =>
  Effect.flatMap(asSysErr(ctx.mem.copyinstr(addr, max)), (bytes) => {
    const nul = bytes.indexOf(0)
    if (nul < 0) return Effect.fail(new SysErr({ errno: Errno.ENAMETOOLONG }))
    return Effect.succeed(nameFromBytes(bytes.subarray(0, nul)))
  })

/** A path argument: at most PATH_MAX bytes with its NUL. */
export const copyinPath = (ctx: SyscallContext, addr: bigint): Effect.Effect<string, SysErr> =>
  copyinString(ctx, addr, limits.PATH_MAX)
