/**
 * The Hypervisor service: everything the sysproxy server asks of a kernel.
 *
 * The C server reaches its rump kernel through a table of upcalls and an
 * implicit "current lwp" switched around every call. Here every call names
 * the process or lwp it is about, and failures are typed errors carrying an
 * errno. How each upcall of the seeds (rumpuser_sp.c / rump.c) maps:
 *
 * | seeds                                   | here                                    |
 * | --------------------------------------- | --------------------------------------- |
 * | hyp_schedule / hyp_unschedule           | none: an Effect runs when it is run     |
 * | hyp_lwproc_switch(l), hyp_lwproc_curlwp | none: handles are passed explicitly     |
 * | hyp_lwproc_rfork(spc, flags, comm)      | rfork({ client, mode, parent, comm })   |
 * |   RUMP_RFFD_CLEAR / COPY / SHARE        |   mode "clear" / "copy" / "share"       |
 * | hyp_getpid()                            | the `pid` of the returned ProcessHandle |
 * | hyp_lwproc_newlwp(pid)                  | newLwp(pid)                             |
 * | hyp_lwproc_release() on a syscall lwp   | releaseLwp(lwp)                         |
 * | hyp_lwproc_release() on a main lwp      | releaseProcess(process)                 |
 * | hyp_lwpexit()                           | lwpExit(process)                        |
 * | hyp_execnotify(comm)                    | execNotify(process, comm)               |
 * | hyp_syscall(num, data, retval)          | syscall(lwp, num, args), UserMemory in  |
 * |                                         | context for its copyin/copyout/...      |
 * | rumpuser_sp_copyin/copyinstr/copyout/   | the UserMemory service (per call) and   |
 * |   copyoutstr/anonmmap/raise(spc, ...)   | the `client` given to rfork (per proc)  |
 * | cpu_reboot -> rumpuser_sp_fini          | awaitHalt: the kernel asks, the server  |
 * |                                         | answers the syscall, then stops         |
 * | ostype, osrelease, MACHINE for banner   | identity                                |
 */
import { Context, type Effect } from "effect"
import type { HypervisorError } from "./Errors.ts"
import type { UserMemory, UserMemoryService } from "./UserMemory.ts"

/** What the banner announces. */
export interface Identity {
  readonly ostype: string
  readonly osrelease: string
  readonly machine: string
}

/**
 * A kernel process. Kernels hand out their own objects; callers pass them
 * back unchanged and read nothing but `pid` (and `comm`, for log lines).
 */
export interface ProcessHandle {
  readonly pid: number
  /** The command name, when the kernel keeps one on its handle (the server annotates log lines with it). */
  readonly comm?: string | undefined
}

/** A kernel thread of a process, made for one syscall. */
export interface LwpHandle {
  readonly pid: number
  readonly lid: number
}

/**
 * How a new process gets its descriptor table: "clear" a fresh one (a new
 * guest), "copy" a copy of the parent's (prefork), "share" the very same
 * table object as the parent (the fork child taking over a prefork).
 */
export type ForkMode = "clear" | "copy" | "share"

export interface RforkOptions {
  /**
   * The client through which the kernel reaches this process's memory and
   * delivers its signals from outside its own syscalls (kill from another
   * process, SIGIO). The seeds' `priv`.
   */
  readonly client: UserMemoryService
  readonly mode: ForkMode
  /** Fork from this process; absent: from init (a new guest). */
  readonly parent?: ProcessHandle | undefined
  /** The program name; absent: inherited from the parent. */
  readonly comm?: string | undefined
}

/** What a syscall returns: a NetBSD errno (0 = success) and two registers. */
export interface SyscallResult {
  readonly error: number
  readonly retval0: bigint
  readonly retval1: bigint
}

/** The kernel asked to stop (the reboot syscall). */
export interface HaltRequest {
  /** The RB_* flags passed to reboot. */
  readonly howto: number
  /** The lwp whose reboot syscall asked; its answer goes out first. */
  readonly lwp: LwpHandle | undefined
}

export interface HypervisorService {
  readonly identity: Identity
  /** A new process (see ForkMode); ESRCH when the parent is gone. */
  readonly rfork: (options: RforkOptions) => Effect.Effect<ProcessHandle, HypervisorError>
  /** A fresh lwp for one syscall: ESRCH if the process is gone, EBUSY while it execs. */
  readonly newLwp: (pid: number) => Effect.Effect<LwpHandle, HypervisorError>
  /** The syscall that used this lwp has ended. */
  readonly releaseLwp: (lwp: LwpHandle) => Effect.Effect<void>
  /**
   * Orders every lwp of the process out of the kernel without waiting:
   * sleepers wake with EINTR, and newLwp answers EBUSY until execNotify.
   */
  readonly lwpExit: (process: ProcessHandle) => Effect.Effect<void>
  /** Exec has drained every lwp: close close-on-exec descriptors, rename, accept lwps again. */
  readonly execNotify: (process: ProcessHandle, comm: string) => Effect.Effect<void>
  /** The process's client is gone and its last syscall has ended. */
  readonly releaseProcess: (process: ProcessHandle) => Effect.Effect<void>
  /**
   * Runs syscall `number` with its argument block (8-byte slots) in `lwp`.
   * Never fails: every failure is an errno in the result.
   */
  readonly syscall: (
    lwp: LwpHandle,
    number: number,
    args: Uint8Array
  ) => Effect.Effect<SyscallResult, never, UserMemory>
  /** Completes when the kernel asks the server to halt. */
  readonly awaitHalt: Effect.Effect<HaltRequest>
}

export class Hypervisor extends Context.Service<Hypervisor, HypervisorService>()("@sysproxy/hypervisor/Hypervisor") {}
