/**
 * The process family: a process's identity (pid and parent). Credentials,
 * process groups and sessions, and resource limits have families of their
 * own (credentials.ts, sessions.ts, limits.ts).
 */
import { Effect } from "effect"
import { SYS } from "@sysproxy/protocol/netbsd"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

/** getpid: the pid in retval[0] and the parent's in retval[1], as NetBSD returns both. */
const getpid: SyscallImpl = (ctx) => Effect.succeed([BigInt(ctx.proc.pid), BigInt(ctx.proc.ppid)] as const)

const getppid: SyscallImpl = (ctx) => Effect.succeed(ctx.proc.ppid)

export const family: SyscallFamily = [
  [SYS.getpid, getpid],
  [SYS.getppid, getppid]
]
