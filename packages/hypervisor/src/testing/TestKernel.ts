/**
 * The inspection and scripting side of the test kernel (TestHypervisor).
 * Tests read the process table and logs through it and add syscalls.
 */
import { Context, type Effect } from "effect"
import type { MemoryFault } from "../Errors.ts"
import type { ForkMode, LwpHandle, SyscallResult } from "../Hypervisor.ts"
import type { UserMemory, UserMemoryService } from "../UserMemory.ts"

/** Syscall numbers the test kernel answers beyond the NetBSD ones it knows. */
export const TestSyscalls = {
  /** raise(sig): UserMemory.raise(sig) on the caller; returns 0. */
  raise: 1000,
  /** anonmmap(size): the new mapping's address in retval0. */
  anonmmap: 1001,
  /** copyinstr(ptr, maxlen): the length without NUL (ENAMETOOLONG without one); kept as lastString. */
  copyinstr: 1002,
  /** echo(ptr, len, outptr): copies len bytes from ptr to outptr; returns len. */
  echo: 1003,
  /** Sleeps until the lwp is ordered out (lwpExit), then EINTR. */
  block: 1004
} as const

/** A descriptor table: "share" reuses the parent's id, "copy" records which one it copied. */
export interface DescriptorTable {
  readonly id: number
  readonly copiedFrom: number | undefined
}

/** A snapshot of one process. */
export interface ProcessInfo {
  readonly pid: number
  readonly ppid: number
  readonly comm: string
  readonly mode: ForkMode
  readonly client: UserMemoryService
  readonly descriptors: DescriptorTable
  /** lwpExit was called and execNotify has not been yet. */
  readonly lwpExitPending: boolean
  readonly execCount: number
  /** Lids of the live lwps, ascending. */
  readonly lwps: ReadonlyArray<number>
}

/** The argument block of a syscall: 8-byte little-endian slots; slots past its end read as 0. */
export interface SyscallArgs {
  readonly view: DataView
  /** Number of whole slots. */
  readonly slots: number
  readonly u64: (slot: number) => bigint
  readonly i64: (slot: number) => bigint
  /** The low 4 bytes, signed (int, pid_t). */
  readonly i32: (slot: number) => number
  /** The low 4 bytes, unsigned. */
  readonly u32: (slot: number) => number
}

export interface SyscallContext {
  readonly number: number
  readonly lwp: LwpHandle
  /** The calling process as it was when the syscall started. */
  readonly process: ProcessInfo
  readonly args: SyscallArgs
  /**
   * Sleeps interruptibly: completes once the lwp is ordered out by lwpExit
   * (at once if it already is). The handler then usually answers EINTR.
   */
  readonly sleep: Effect.Effect<void>
}

/** A syscall implementation. A MemoryFault becomes its errno in the result. */
export type SyscallHandler = (ctx: SyscallContext) => Effect.Effect<SyscallResult, MemoryFault, UserMemory>

export interface TestKernelService {
  /** Live processes except init, by ascending pid. */
  readonly processes: Effect.Effect<ReadonlyArray<ProcessInfo>>
  readonly process: (pid: number) => Effect.Effect<ProcessInfo | undefined>
  /** Live processes except init. */
  readonly processCount: Effect.Effect<number>
  /** Live lwps across all processes. */
  readonly lwpCount: Effect.Effect<number>
  /** Lwps sleeping right now. */
  readonly sleeping: Effect.Effect<number>
  /** Completes as soon as exactly `n` lwps sleep (at once if they already do). */
  readonly awaitSleeping: (n: number) => Effect.Effect<void>
  /** Everything written (SYS write) by the process with this pid since it was forked. */
  readonly output: (pid: number) => Effect.Effect<Uint8Array>
  /** The last string fetched by TestSyscalls.copyinstr, without its NUL. */
  readonly lastString: Effect.Effect<string | undefined>
  /** How often each unknown syscall number was called (answered ENOSYS). */
  readonly unimplemented: Effect.Effect<ReadonlyMap<number, number>>
  /** How many processes releaseProcess has removed. */
  readonly releasedCount: Effect.Effect<number>
  /**
   * Calls the server should never make: unknown or stale handles, double
   * releases. Empty in a correct run.
   */
  readonly misuse: Effect.Effect<ReadonlyArray<string>>
  /** Installs (or replaces, built-ins included) the handler of syscall `number`. */
  readonly setHandler: (number: number, handler: SyscallHandler) => Effect.Effect<void>
  /** Asks the server to halt as if from inside the kernel, with no lwp to answer first. */
  readonly halt: (howto: number) => Effect.Effect<void>
}

export class TestKernel extends Context.Service<TestKernel, TestKernelService>()(
  "@sysproxy/hypervisor/testing/TestKernel"
) {}

/** A successful syscall result. */
export const success = (retval0: bigint = 0n, retval1: bigint = 0n): SyscallResult => ({ error: 0, retval0, retval1 })

/** A failed syscall result. */
export const failure = (errno: number): SyscallResult => ({ error: errno, retval0: 0n, retval1: 0n })
