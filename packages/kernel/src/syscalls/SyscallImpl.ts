/**
 * The shape of one syscall's implementation and of a family's table.
 */
import type { Effect } from "effect"
import type { SysErr } from "../kern/SysErr.ts"
import type { SyscallContext } from "../kern/SyscallContext.ts"

/** retval[0], or both registers (pipe), or nothing (0). */
export type SyscallReturn = void | number | bigint | readonly [bigint, bigint]

export type SyscallImpl = (ctx: SyscallContext) => Effect.Effect<SyscallReturn, SysErr>

/** A family of syscalls: syscall number -> implementation. */
export type SyscallFamily = ReadonlyArray<readonly [number, SyscallImpl]>
