/**
 * One syscall of a connection, from the worker pool to its answer: the
 * seeds' serv_handlesyscall. An object per call rather than a closure per
 * step, and it keeps its own place in its connection's list of calls in
 * flight, so the halt can find its caller's lwp without a map that every
 * call would add itself to and remove itself from.
 */
import { Effect, Exit, type Fiber } from "effect"
import type { HypervisorError, LwpHandle, SyscallResult, UserMemory } from "@sysproxy/hypervisor"
import type { Frame, SyscallRequest } from "@sysproxy/protocol"
import { syscallSpan } from "./ServerObserver.ts"
import type { ServerState } from "./ServerState.ts"
import type { Job } from "./WorkerPool.ts"

/** What a syscall needs of its connection. */
export interface SyscallOwner {
  readonly server: ServerState
  readonly dying: boolean
  /** Forks the call's fiber (the connection's context and UserMemory provided). */
  readonly runCall: ((effect: Effect.Effect<void, never, UserMemory>) => Fiber.Fiber<void>) | undefined
  readonly send: (frame: Frame) => boolean
  readonly jobEnded: (syscall: boolean) => void
  /** The calls in flight, each at its `slot`. */
  readonly calls: Array<SyscallJob>
}

const settle = (list: Array<() => void> | undefined) => {
  if (list !== undefined) for (const f of list) f()
}

export class SyscallJob implements Job {
  private readonly owner: SyscallOwner
  private readonly frame: SyscallRequest
  private readonly pid: number
  /** The lwp the call runs in, once it has one. */
  handle: LwpHandle | undefined = undefined
  /** The call's fiber while it runs (cleanup interrupts it past the grace). */
  fiber: Fiber.Fiber<void> | undefined = undefined
  /** Its index in owner.calls while it runs; -1 otherwise. */
  private slot = -1
  /** Who waits for this call's answer to be queued (the halt after a reboot). */
  private waiting: Array<() => void> | undefined = undefined
  private done: (() => void) | undefined = undefined
  private startedAt = 0

  constructor(owner: SyscallOwner, frame: SyscallRequest, pid: number) {
    this.owner = owner
    this.frame = frame
    this.pid = pid
  }

  start(done: () => void): void {
    const owner = this.owner
    if (owner.dying) {
      owner.jobEnded(true)
      return done()
    }
    this.done = done
    this.slot = owner.calls.push(this) - 1
    const work = Effect.matchEffect(owner.server.hyp.newLwp(this.pid), { onFailure: this.refused, onSuccess: this.run })
    const fiber = owner.runCall!(work)
    this.fiber = fiber
    // at once when the call completed without waiting
    fiber.addObserver(this.ended)
  }

  /** Calls `f` once this call's answer is queued (at once if it has ended). */
  whenAnswered(f: () => void): void {
    if (this.slot === -1) return f()
    ;(this.waiting ??= []).push(f)
  }

  /** No lwp (ESRCH for a process gone, EBUSY while it execs): the caller gets that errno. */
  private readonly refused = (e: HypervisorError): Effect.Effect<void> =>
    Effect.sync(() => {
      this.owner.send({ _tag: "SyscallResponse", reqno: this.frame.reqno, error: e.errno, retval0: -1n, retval1: 0n })
    })

  private readonly run = (handle: LwpHandle): Effect.Effect<void, never, UserMemory> => {
    const { hyp, options } = this.owner.server
    this.handle = handle
    if (options.observer !== undefined) this.startedAt = performance.now()
    const call = hyp.syscall(handle, this.frame.sysnum, this.frame.args)
    return Effect.onExit(options.traceSyscalls ? syscallSpan(call, this.frame.sysnum, this.pid) : call, this.answer)
  }

  private readonly answer = (exit: Exit.Exit<SyscallResult>): Effect.Effect<void> =>
    Effect.map(this.owner.server.hyp.releaseLwp(this.handle!), () => {
      if (Exit.isSuccess(exit)) this.reply(exit.value)
    })

  private reply(r: SyscallResult): void {
    const { counters, options } = this.owner.server
    counters.syscalls++
    options.observer?.syscallAnswered(this.frame.sysnum, r.error, this.startedAt)
    this.owner.send({ _tag: "SyscallResponse", reqno: this.frame.reqno, error: r.error, retval0: r.retval0, retval1: r.retval1 })
  }

  /** The fiber has ended (answered, refused an lwp, or interrupted). */
  private readonly ended = (): void => {
    const owner = this.owner
    const calls = owner.calls
    const last = calls.pop()!
    if (last !== this) {
      calls[this.slot] = last
      last.slot = this.slot
    }
    this.slot = -1
    this.fiber = undefined
    const waiting = this.waiting
    this.waiting = undefined
    settle(waiting)
    owner.jobEnded(true)
    this.done!()
  }
}
