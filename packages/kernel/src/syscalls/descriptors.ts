/**
 * The descriptors family of syscalls.
 */
import type { SyscallFamily } from "./SyscallImpl.ts"

export const family: SyscallFamily = []
