/**
 * A kernel thread: made for one syscall of one process, gone when it ends.
 */
import type { LwpHandle } from "@sysproxy/hypervisor"
import type { LwpList } from "./LwpList.ts"
import type { Proc } from "./Proc.ts"

export class Lwp implements LwpHandle {
  /** Set by lwpExit: leave the kernel; sleeping returns at once. */
  orderedOut = false
  /** Wakes this lwp's current sleep (set while it sleeps). */
  wakeup: (() => void) | undefined = undefined
  /** The list it is on (its process's lwps in the kernel) and its neighbours there (LwpList). */
  list: LwpList | undefined = undefined
  prev: Lwp | undefined = undefined
  next: Lwp | undefined = undefined

  readonly proc: Proc
  readonly lid: number

  constructor(
    proc: Proc,
    lid: number
  ) {
    this.proc = proc
    this.lid = lid
  }

  get pid(): number {
    return this.proc.pid
  }

  /** Orders the lwp out of the kernel, waking it if it sleeps. */
  orderOut(): void {
    this.orderedOut = true
    this.wakeup?.()
  }
}
