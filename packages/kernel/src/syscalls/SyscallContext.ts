/**
 * What a syscall implementation gets: the kernel, the calling process and
 * lwp, its arguments, and the caller's memory with faults already turned
 * into errnos.
 */
import { Effect } from "effect"
import type { UserMemoryService } from "@sysproxy/hypervisor"
import type { Args } from "../abi/Args.ts"
import type { KernelState } from "../KernelState.ts"
import type { Lwp } from "../proc/Lwp.ts"
import type { Proc } from "../proc/Proc.ts"
import { SysErr } from "./SysErr.ts"

export interface SyscallContext {
  readonly kernel: KernelState
  readonly proc: Proc
  readonly lwp: Lwp
  readonly args: Args
  readonly mem: UserMemoryService
}

const asSysErr = <A, E extends { readonly errno: number }>(e: Effect.Effect<A, E>): Effect.Effect<A, SysErr> =>
  Effect.mapError(e, (f) => new SysErr({ errno: f.errno }))

export const copyin = (ctx: SyscallContext, addr: bigint, len: number) => asSysErr(ctx.mem.copyin(addr, len))
export const copyout = (ctx: SyscallContext, addr: bigint, data: Uint8Array) => asSysErr(ctx.mem.copyout(addr, data))
export const copyoutstr = (ctx: SyscallContext, addr: bigint, data: Uint8Array) => asSysErr(ctx.mem.copyoutstr(addr, data))
