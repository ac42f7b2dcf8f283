/**
 * The kernel's state: the process table and process groups, the VFS, sysctl values and the
 * bookkeeping the server reports (unimplemented syscalls asked for).
 */
import type { Deferred } from "effect"
import type { HaltRequest } from "@sysproxy/hypervisor"
import type { KernelClock } from "./kern/Clocks.ts"
import type { Limits } from "./proc/Limits.ts"
import type { Proc } from "./proc/Proc.ts"
import type { ProcessGroups } from "./proc/ProcessGroups.ts"
import type { SysctlNode } from "./sysctl/Node.ts"
import type { CalloutQueue } from "./timers/Callout.ts"
import type { Vfs } from "./vfs/Vfs.ts"

export interface KernelState {
  readonly procs: Map<number, Proc>
  readonly init: Proc
  /** Process groups and sessions by id. */
  readonly pgrps: ProcessGroups
  /** proc0's resource limits, which every new guest starts with. */
  readonly limit0: Limits
  nextPid: number
  nextLid: number
  readonly vfs: Vfs
  hostname: string
  readonly ncpu: number
  readonly physmem: number
  /** The sysctl tree's root (sysctl/). */
  readonly sysctl: SysctlNode
  /** Boot time, for kern.boottime (it moves when the time is set, as NetBSD's does). */
  readonly boottime: { readonly sec: bigint; readonly nsec: number }
  /** CLOCK_REALTIME as settimeofday, clock_settime and adjtime left it. */
  readonly clock: KernelClock
  /** The timers of the kernel (interval, POSIX and kqueue timers). */
  readonly callouts: CalloutQueue
  /** Syscall numbers asked for that the kernel does not implement, with counts. */
  readonly unimplemented: Map<number, number>
  readonly halt: Deferred.Deferred<HaltRequest>
  /** Console output (fds 0-2 of every guest). */
  readonly console: (pid: number, bytes: Uint8Array) => void
}
