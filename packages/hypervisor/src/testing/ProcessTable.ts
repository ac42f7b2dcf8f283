/**
 * The test kernel's state: processes, lwps and sleepers. Plain synchronous
 * code; TestHypervisor wraps each operation in one Effect.sync so that every
 * operation is atomic with respect to other fibers.
 */
import type { ForkMode, LwpHandle, ProcessHandle } from "../Hypervisor.ts"
import type { UserMemoryService } from "../UserMemory.ts"
import type { DescriptorTable, ProcessInfo } from "./TestKernel.ts"

export const INIT_PID = 1

export interface Proc {
  readonly handle: ProcessHandle
  ppid: number
  comm: string
  readonly mode: ForkMode
  readonly client: UserMemoryService
  readonly descriptors: DescriptorTable
  lwpExitPending: boolean
  execCount: number
  readonly lwps: Set<Lwp>
}

export interface Lwp {
  readonly handle: LwpHandle
  readonly proc: Proc
  /** Set by lwpExit: the lwp must leave the kernel, so sleeping returns at once. */
  orderedOut: boolean
}

export interface Sleeper {
  readonly lwp: Lwp
  readonly wake: () => void
}

export type ForkResult =
  | { readonly _tag: "Forked"; readonly proc: Proc }
  | { readonly _tag: "NoParent"; readonly pid: number }

export type NewLwpResult =
  | { readonly _tag: "Created"; readonly lwp: Lwp }
  | { readonly _tag: "NoProcess" }
  | { readonly _tag: "Exiting" }

export const makeProcessTable = () => {
  const procs = new Map<number, Proc>()
  const lwps = new Map<number, Lwp>()
  const sleepers = new Set<Sleeper>()
  const sleepWatchers = new Set<() => void>()
  const misuse: Array<string> = []
  // Init's table: what a "copy" or "share" without a parent starts from.
  const initDescriptors: DescriptorTable = { id: 0, copiedFrom: undefined }
  let nextDescriptorTable = 1
  let nextLid = 1
  let released = 0

  const notifySleepers = () => {
    for (const watcher of [...sleepWatchers]) watcher()
  }

  /** The live process behind a handle the kernel gave out, or undefined (recorded as misuse). */
  const procOf = (handle: ProcessHandle, op: string): Proc | undefined => {
    const proc = procs.get(handle.pid)
    if (proc === undefined || proc.handle !== handle) {
      misuse.push(`${op}: pid ${handle.pid} is not a live process handed out by rfork`)
      return undefined
    }
    return proc
  }

  const lwpOf = (handle: LwpHandle, op: string): Lwp | undefined => {
    const lwp = lwps.get(handle.lid)
    if (lwp === undefined || lwp.handle !== handle) {
      misuse.push(`${op}: lwp ${handle.pid}.${handle.lid} is not a live lwp handed out by newLwp`)
      return undefined
    }
    return lwp
  }

  const lowestFreePid = (): number => {
    let pid = INIT_PID + 1
    while (procs.has(pid)) pid++
    return pid
  }

  const info = (proc: Proc): ProcessInfo => ({
    pid: proc.handle.pid,
    ppid: proc.ppid,
    comm: proc.comm,
    mode: proc.mode,
    client: proc.client,
    descriptors: proc.descriptors,
    lwpExitPending: proc.lwpExitPending,
    execCount: proc.execCount,
    lwps: [...proc.lwps].map((l) => l.handle.lid).sort((a, b) => a - b)
  })

  const rfork = (client: UserMemoryService, mode: ForkMode, parent: ProcessHandle | undefined, comm: string | undefined): ForkResult => {
    let parentProc: Proc | undefined
    if (parent !== undefined) {
      parentProc = procs.get(parent.pid)
      if (parentProc === undefined || parentProc.handle !== parent) return { _tag: "NoParent", pid: parent.pid }
    }
    // A "clear" fork is a new guest: it hangs under init whoever asked.
    const from = mode === "clear" ? undefined : parentProc
    const fromDescriptors = from?.descriptors ?? initDescriptors
    const descriptors: DescriptorTable =
      mode === "share"
        ? fromDescriptors
        : { id: nextDescriptorTable++, copiedFrom: mode === "copy" ? fromDescriptors.id : undefined }
    const pid = lowestFreePid()
    const proc: Proc = {
      handle: Object.freeze({ pid }),
      ppid: from?.handle.pid ?? INIT_PID,
      comm: comm ?? from?.comm ?? "init",
      mode,
      client,
      descriptors,
      lwpExitPending: false,
      execCount: 0,
      lwps: new Set()
    }
    procs.set(pid, proc)
    return { _tag: "Forked", proc }
  }

  const newLwp = (pid: number): NewLwpResult => {
    const proc = procs.get(pid)
    if (proc === undefined) return { _tag: "NoProcess" }
    if (proc.lwpExitPending) return { _tag: "Exiting" }
    const lwp: Lwp = { handle: Object.freeze({ pid, lid: nextLid++ }), proc, orderedOut: false }
    proc.lwps.add(lwp)
    lwps.set(lwp.handle.lid, lwp)
    return { _tag: "Created", lwp }
  }

  const releaseLwp = (handle: LwpHandle) => {
    const lwp = lwpOf(handle, "releaseLwp")
    if (lwp === undefined) return
    lwps.delete(handle.lid)
    lwp.proc.lwps.delete(lwp)
  }

  const lwpExit = (handle: ProcessHandle) => {
    const proc = procOf(handle, "lwpExit")
    if (proc === undefined) return
    proc.lwpExitPending = true
    for (const lwp of proc.lwps) lwp.orderedOut = true
    for (const sleeper of [...sleepers]) {
      if (sleeper.lwp.proc === proc) {
        removeSleeper(sleeper)
        sleeper.wake()
      }
    }
  }

  const execNotify = (handle: ProcessHandle, comm: string) => {
    const proc = procOf(handle, "execNotify")
    if (proc === undefined) return
    proc.lwpExitPending = false
    proc.comm = comm
    proc.execCount++
  }

  const releaseProcess = (handle: ProcessHandle) => {
    const proc = procOf(handle, "releaseProcess")
    if (proc === undefined) return
    // The server releases a process only after its last syscall: anything left is its bug.
    if (proc.lwps.size > 0) misuse.push(`releaseProcess: pid ${handle.pid} still has ${proc.lwps.size} lwp(s)`)
    procs.delete(handle.pid)
    released++
    for (const other of procs.values()) {
      if (other.ppid === handle.pid) other.ppid = INIT_PID
    }
  }

  const addSleeper = (sleeper: Sleeper) => {
    sleepers.add(sleeper)
    notifySleepers()
  }

  /** Idempotent: both a wake and an interruption remove the sleeper. */
  const removeSleeper = (sleeper: Sleeper) => {
    if (sleepers.delete(sleeper)) notifySleepers()
  }

  const watchSleepers = (watcher: () => void): (() => void) => {
    sleepWatchers.add(watcher)
    return () => {
      sleepWatchers.delete(watcher)
    }
  }

  return {
    procs: procs as ReadonlyMap<number, Proc>,
    lwps: lwps as ReadonlyMap<number, Lwp>,
    misuse: misuse as ReadonlyArray<string>,
    get released() {
      return released
    },
    get sleeping() {
      return sleepers.size
    },
    procOf,
    lwpOf,
    info,
    rfork,
    newLwp,
    releaseLwp,
    lwpExit,
    execNotify,
    releaseProcess,
    addSleeper,
    removeSleeper,
    watchSleepers
  }
}

export type ProcessTable = ReturnType<typeof makeProcessTable>
