/**
 * A kernel thread: made for one syscall of one process, gone when it ends.
 */
import type { LwpHandle } from "@sysproxy/hypervisor"
import type { Linked, LinkedSet } from "../kern/LinkedSet.ts"
import type { Proc } from "./Proc.ts"

export class Lwp implements LwpHandle, Linked<Lwp> {
  /** Set by lwpExit: leave the kernel; sleeping returns at once. */
  orderedOut = false
  /** Wakes this lwp's current sleep (set while it sleeps). */
  wakeup: (() => void) | undefined = undefined
  /** Its place among its process's lwps in the kernel (Proc.lwps). */
  linkedIn: LinkedSet<Lwp> | undefined = undefined
  linkPrev: Lwp | undefined = undefined
  linkNext: Lwp | undefined = undefined

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
