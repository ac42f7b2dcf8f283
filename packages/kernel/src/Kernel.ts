/**
 * The default hypervisor: our NetBSD-compatible kernel as a Layer providing
 * the Hypervisor service (the kernel side of the seeds' rump.c: rfork,
 * lwpexit, execnotify, syscall dispatch, halt), plus the Kernel service for
 * inspection.
 */
import { Cause, Context, Deferred, Effect, Layer, Result, type Scope } from "effect"
import {
  DescriptorPaths,
  type HaltRequest,
  Hypervisor,
  HypervisorError,
  type HypervisorService,
  type LwpHandle,
  type ProcessHandle,
  type SyscallResult,
  UserMemory
} from "@sysproxy/hypervisor"
import { Errno } from "@sysproxy/protocol/netbsd"
import * as Os from "node:os"
import { Args } from "./abi/Args.ts"
import { notes } from "./abi/Kevent.ts"
import { closeOnExec, FileTable, releaseTable, sweepOrphanTable } from "./fd/FileTable.ts"
import { type KernelConfig, MACHINE, OSRELEASE, OSTYPE } from "./KernelConfig.ts"
import type { KernelState } from "./KernelState.ts"
import { Cred, ROOT_CRED } from "./kauth/Cred.ts"
import { defaultLimits } from "./proc/Limits.ts"
import { KernelClock } from "./kern/Clocks.ts"
import { knoteCount } from "./kqueue/KQueue.ts"
import { Lwp } from "./proc/Lwp.ts"
import { mayFork } from "./proc/ForkLimit.ts"
import { Proc } from "./proc/Proc.ts"
import { releaseAio } from "./syscalls/aio/Jobs.ts"
import { ProcessGroups } from "./proc/ProcessGroups.ts"
import { bootSysctl } from "./sysctl/Boot.ts"
import type { SyscallReturn } from "./syscalls/SyscallImpl.ts"
import { syscallTable } from "./syscalls/Table.ts"
import { makeCalloutQueue } from "./timers/Callout.ts"
import { releaseTimers } from "./timers/PTimer.ts"
import type { HostMountError } from "./vfs/host/HostTrees.ts"
import type { HostFileError } from "./vfs/HostFile.ts"
import { makeDescriptorPaths } from "./vfs/DescriptorPath.ts"
import { installHostFile } from "./vfs/HostFileNode.ts"
import { traceSyscall, untrace } from "./ktrace/Ktrace.ts"
import { releaseAllLocks } from "./vfs/Lockf.ts"
import { makeVfs } from "./vfs/Vfs.ts"

const INIT_PID = 1
const PID_MAX = 30000
/** NetBSD's SYS_NSYSENT: numbers at or above it are all counted as this one. */
const SYSCALL_NUMBERS = 512

export interface KernelStats {
  readonly processes: number
  readonly lwps: number
  readonly openFiles: number
  /** Knotes registered on the kernel's kqueues. */
  readonly knotes: number
  /** Timers armed (interval, POSIX and kqueue timers). */
  readonly timers: number
  readonly unimplemented: ReadonlyMap<number, number>
}

export interface KernelService {
  readonly state: KernelState
  readonly stats: () => KernelStats
}

/** Inspection of the running kernel (tests, metrics). */
export class Kernel extends Context.Service<Kernel, KernelService>()("@sysproxy/kernel/Kernel") {}

const refuse = (op: string, errno: number, message: string) => new HypervisorError({ op, errno, message })

const toResult = (r: SyscallReturn): SyscallResult => {
  if (r === undefined) return { error: 0, retval0: 0n, retval1: 0n }
  if (typeof r === "number") return { error: 0, retval0: BigInt(r), retval1: 0n }
  if (typeof r === "bigint") return { error: 0, retval0: r, retval1: 0n }
  return { error: 0, retval0: r[0], retval1: r[1] }
}
const succeedResult = (r: SyscallReturn) => Effect.succeed(toResult(r))
const errnoResult = (errno: number): SyscallResult => ({ error: errno, retval0: -1n, retval1: 0n })
const userMemory = Effect.service(UserMemory)

/** The kernel, living as long as the caller's scope (its timers run there). */
export const makeKernel = (config: KernelConfig = {}): Effect.Effect<
  { readonly hypervisor: HypervisorService; readonly kernel: KernelService },
  HostFileError | HostMountError,
  Scope.Scope
> =>
  Effect.gen(function*() {
    const halt = yield* Deferred.make<HaltRequest>()
    const console = config.console ?? ((pid: number, bytes: Uint8Array) => {
      Effect.runFork(Effect.logInfo(new TextDecoder().decode(bytes).replace(/\n$/, "")).pipe(
        Effect.annotateLogs({ pid, console: true })
      ))
    })
    const physmem = config.physmem ?? 256 * 1024 * 1024
    const clock = new KernelClock()
    const callouts = yield* makeCalloutQueue(config.maxKqueueTimers)
    const vfs = yield* makeVfs({
      physmem,
      console,
      mounts: config.mounts,
      vnodeCacheSize: config.vnodeCacheSize,
      hostCalls: config.hostCalls,
      clock: () => clock.realtime()
    })
    yield* Effect.forEach(config.hostFiles ?? [], (mapping, i) => installHostFile(vfs, mapping, i), { discard: true })
    const pgrps = new ProcessGroups()
    const limit0 = defaultLimits(physmem)
    const guestCred = config.guest === undefined ? ROOT_CRED : Cred.of(config.guest.uid, config.guest.gid)
    const init = new Proc({
      pid: INIT_PID,
      ppid: 0,
      comm: "init",
      fds: new FileTable(limit0.openFiles),
      cwd: vfs.root,
      client: undefined,
      cred: ROOT_CRED,
      limits: limit0,
      rdir: undefined,
      pgrp: pgrps.group0
    })
    const state: KernelState = {
      procs: new Map([[INIT_PID, init]]),
      init,
      pgrps,
      limit0,
      nextPid: INIT_PID + 1,
      nextLid: 1,
      vfs,
      hostname: config.hostname ?? `rump-${process.pid}.${Os.hostname()}`,
      ncpu: config.ncpu ?? 1,
      physmem,
      sysctl: bootSysctl({ physmem, extra: config.sysctl }),
      get boottime() {
        return clock.boottime
      },
      clock,
      callouts,
      unimplemented: new Map(),
      halt,
      console
    }

    const allocPid = (): number | undefined => {
      for (let i = 0; i < PID_MAX; i++) {
        const pid = state.nextPid
        state.nextPid = pid >= PID_MAX ? INIT_PID + 1 : pid + 1
        // a pid still naming a process group is not free (proc_alloc_pid skips such slots)
        if (!state.procs.has(pid) && !pgrps.holds(pid)) return pid
      }
      return undefined
    }

    const live = (handle: ProcessHandle): Proc | undefined => {
      const p = state.procs.get(handle.pid)
      return p !== undefined && p === handle && !p.released ? p : undefined
    }

    const rfork: HypervisorService["rfork"] = (o) =>
      Effect.suspend(() => {
        const parent = o.parent === undefined ? init : live(o.parent)
        if (parent === undefined) return Effect.fail(refuse("rfork", Errno.ESRCH, "the parent process is gone"))
        // a fork beyond RLIMIT_NPROC (fork1's check; root is exempt)
        if (o.mode === "copy" && !mayFork(state, parent)) {
          return Effect.fail(refuse("rfork", Errno.EAGAIN, "RLIMIT_NPROC reached"))
        }
        const pid = allocPid()
        if (pid === undefined) return Effect.fail(refuse("rfork", Errno.EAGAIN, "no free pid"))
        // a new guest: proc0's limits and the configured credentials; a fork shares its parent's
        const guest = o.mode === "clear"
        const limits = guest ? limit0 : parent.limits
        let fds: FileTable
        if (guest) {
          fds = new FileTable(limits.openFiles)
          // a new guest starts with the console, write-only, on 0, 1 and 2
          const consoleFile = vfs.openConsole()
          consoleFile.refs = 3
          for (const fd of [0, 1, 2]) fds.install(fd, consoleFile, false)
        } else if (o.mode === "copy") {
          fds = parent.fds.copy()
        } else {
          fds = parent.fds
          fds.users++
        }
        const proc = new Proc({
          pid,
          ppid: parent.pid,
          comm: o.comm ?? parent.comm,
          fds,
          cwd: parent.cwd,
          client: o.client,
          cred: guest ? guestCred : parent.cred,
          limits,
          rdir: parent.rdir,
          pgrp: parent.pgrp
        })
        proc.umask = parent.umask
        // PK_SUGID is not inherited: lwproc_newproc zeroes p_flag for every new process
        proc.sugid = false
        state.procs.set(pid, proc)
        // a prefork is the fork of the parent's process (the client binds it to its child later)
        if (o.mode === "copy") parent.knotes.notify(notes.NOTE_FORK | pid)
        // not traced, KTRFAC_INHERIT or not: rump's lwproc_newproc zeroes p_traceflag and p_trace_enabled
        return Effect.succeed(proc)
      })

    const newLwp: HypervisorService["newLwp"] = (pid) =>
      Effect.suspend(() => {
        const p = state.procs.get(pid)
        if (p === undefined || p.released || pid === INIT_PID) {
          return Effect.fail(refuse("newLwp", Errno.ESRCH, `no process ${pid}`))
        }
        if (p.exiting) return Effect.fail(refuse("newLwp", Errno.EBUSY, `process ${pid} is exec'ing`))
        const lwp = new Lwp(p, state.nextLid++)
        p.lwps.add(lwp)
        return Effect.succeed(lwp)
      })

    const asLwp = (handle: LwpHandle): Lwp | undefined =>
      handle instanceof Lwp && handle.proc.lwps.has(handle) ? handle : undefined

    const releaseLwp: HypervisorService["releaseLwp"] = (handle) =>
      Effect.sync(() => {
        const lwp = asLwp(handle)
        lwp?.proc.lwps.delete(lwp)
      })

    const lwpExit: HypervisorService["lwpExit"] = (handle) =>
      Effect.sync(() => {
        const p = live(handle)
        if (p === undefined) return
        p.exiting = true
        for (const lwp of p.lwps) lwp.orderOut()
      })

    const execNotify: HypervisorService["execNotify"] = (handle, comm) =>
      Effect.suspend(() => {
        const p = live(handle)
        if (p === undefined) return Effect.void
        return closeOnExec(p.fds, p).pipe(
          Effect.andThen(Effect.sync(() => {
            p.exiting = false
            p.execed = true
            p.comm = comm
            p.knotes.notify(notes.NOTE_EXEC)
          }))
        )
      })

    const releaseProcess: HypervisorService["releaseProcess"] = (handle) =>
      Effect.suspend(() => {
        const p = live(handle)
        if (p === undefined) return Effect.void
        p.released = true
        p.exiting = true
        for (const lwp of p.lwps) lwp.orderOut()
        state.procs.delete(p.pid)
        pgrps.leave(p)
        for (const child of state.procs.values()) if (child.ppid === p.pid) child.ppid = INIT_PID
        releaseTimers(state, p)
        p.knotes.notify(notes.NOTE_EXIT)
        // its record locks go with it, wherever its descriptors are; so does its aio worker
        releaseAllLocks(p)
        return Effect.andThen(Effect.andThen(releaseAio(state, p), untrace(p)), releaseTable(p.fds, p))
      })

    /** What the dispatcher does after every call: sweep a table released meanwhile. */
    const afterCall = (proc: Proc) => (): Effect.Effect<void> | undefined =>
      // a call that outlived its process must not leave files in the dead table
      proc.released ? sweepOrphanTable(proc.fds) : undefined

    const syscall: HypervisorService["syscall"] = (handle, number, argBytes) =>
      Effect.flatMap(userMemory, (mem) => {
        const lwp = asLwp(handle)
        if (lwp === undefined || lwp.proc.released) return Effect.succeed(errnoResult(Errno.ESRCH))
        const impl = syscallTable.get(number)
        if (impl === undefined) {
          // counted by number, but only numbers a syscall table can have: a
          // client sending random numbers must not grow this map forever
          const key = number < SYSCALL_NUMBERS ? number : SYSCALL_NUMBERS
          state.unimplemented.set(key, (state.unimplemented.get(key) ?? 0) + 1)
          const nosys = Effect.succeed(errnoResult(Errno.ENOSYS))
          // a traced process's call is traced even when it is ENOSYS, below SYS_NSYSENT (rump_hyp_syscall)
          if (lwp.proc.trace === undefined || number < 0 || number >= SYSCALL_NUMBERS) return nosys
          return traceSyscall({ kernel: state, proc: lwp.proc, lwp, args: new Args(argBytes), mem }, number, nosys)
        }
        const ctx = { kernel: state, proc: lwp.proc, lwp, args: new Args(argBytes), mem }
        // suspend: a throw while building the effect is caught as a defect below too
        const run = Effect.onExitPrimitive(Effect.suspend(() => impl(ctx)), afterCall(lwp.proc))
        const result = Effect.matchCauseEffect(run, {
          onSuccess: succeedResult,
          onFailure: (cause) => {
            // interrupted (a disconnect past its grace): the fiber goes on being interrupted
            if (Cause.hasInterrupts(cause)) return Effect.interrupt
            const error = Cause.findError(cause)
            if (Result.isSuccess(error)) return Effect.succeed(errnoResult(error.success.errno))
            // a bug in a syscall must not take the server down: the caller sees EIO
            return Effect.logError("syscall defect", Cause.squash(cause)).pipe(
              Effect.annotateLogs({ syscall: number }),
              Effect.as(errnoResult(Errno.EIO))
            )
          }
        })
        // ktrace (sy_invoke's p_trace_enabled): an untraced process pays this one check
        return lwp.proc.trace === undefined ? result : traceSyscall(ctx, number, result)
      })

    const hypervisor: HypervisorService = {
      identity: { ostype: OSTYPE, osrelease: OSRELEASE, machine: MACHINE },
      rfork,
      newLwp,
      releaseLwp,
      lwpExit,
      execNotify,
      releaseProcess,
      syscall,
      awaitHalt: Deferred.await(halt)
    }

    const stats = (): KernelStats => {
      let lwps = 0
      const files = new Set<unknown>()
      for (const p of state.procs.values()) {
        lwps += p.lwps.size
        for (const fd of p.fds.openFds()) files.add(p.fds.get(fd)?.file)
      }
      return {
        processes: state.procs.size - 1,
        lwps,
        openFiles: files.size,
        knotes: knoteCount(state),
        timers: callouts.size,
        unimplemented: new Map(state.unimplemented)
      }
    }

    return { hypervisor, kernel: Kernel.of({ state, stats }) }
  })

/**
 * The kernel as the Hypervisor (and Kernel) for a server or an in-process
 * user, with DescriptorPaths for middleware that matches files by name.
 */
export const layer = (config: KernelConfig = {}): Layer.Layer<Hypervisor | Kernel | DescriptorPaths, HostFileError | HostMountError> =>
  Layer.effectContext(
    makeKernel(config).pipe(
      Effect.map(({ hypervisor, kernel }) =>
        Context.make(Hypervisor, hypervisor).pipe(
          Context.add(Kernel, kernel),
          Context.add(DescriptorPaths, makeDescriptorPaths(kernel.state))
        )
      )
    )
  )
