/**
 * Middleware over the Hypervisor service: a way to wrap any kernel so that
 * chosen syscalls pass through code of one's own before and after they run
 * (fault injection, tracing), with each call's decoded shape from the
 * protocol's NetBSD syscall table, the caller's pid and comm, and the
 * result. Every other method passes straight through.
 *
 * ```ts
 * const middleware: Middleware = {
 *   wants: (number) => number === SYS.write,        // asked on every call: a lookup
 *   around: (call, proceed) =>                       // only for the calls it wants
 *     Effect.tap(proceed(call.args), (r) => Effect.logInfo(`${call.comm} write: ${r.retval0}`))
 * }
 * const layer = kernelLayer().pipe(withMiddleware(middlewareLayer(Effect.succeed(middleware))))
 * ```
 *
 * Layers compose: `kernel.pipe(withFaults(rules), withTrace(sink))` puts the
 * trace outside the faults, so the trace shows what the client saw.
 *
 * A call the middleware does not want costs one `wants` call and nothing
 * else: no allocation, no copy.
 */
import { Effect, Layer, type Scope } from "effect"
import {
  Hypervisor,
  type HypervisorService,
  type LwpHandle,
  type ProcessHandle,
  type SyscallResult
} from "../Hypervisor.ts"
import type { UserMemory } from "../UserMemory.ts"
import { type SyscallShape, shapeOf } from "./SyscallShape.ts"

/** One syscall as middleware sees it. */
export interface InterceptedCall {
  readonly lwp: LwpHandle
  readonly pid: number
  /** The caller's program name (from its handshake, or the last exec); undefined if the kernel never said. */
  readonly comm: string | undefined
  readonly number: number
  /** Its arguments as the NetBSD table has them; undefined for a number off the table. */
  readonly shape: SyscallShape | undefined
  /** The argument block as the client sent it (read-only: pass a copy to `proceed` to change it). */
  readonly args: Uint8Array
}

/** Runs the call further in (the next middleware, then the kernel) with these argument bytes. */
export type Proceed = (args: Uint8Array) => Effect.Effect<SyscallResult, never, UserMemory>

export interface Middleware {
  /**
   * Whether the call of `number` by `pid` goes through `around`; when false
   * it goes straight in. Asked on every syscall: keep it a lookup.
   */
  readonly wants: (number: number, pid: number) => boolean
  /** Runs around a call it wants: before, `proceed` (or not), after. Never fails: a failure is an errno in the result. */
  readonly around: (call: InterceptedCall, proceed: Proceed) => Effect.Effect<SyscallResult, never, UserMemory>
  /** Told what happens to processes, for middleware that keeps something per process. */
  readonly onProcess?: ((pid: number, event: ProcessEvent) => void) | undefined
}

/**
 * - "forked": a new process has this pid (a pid may be used again after "released");
 * - "orderedOut": its lwps are being ordered out of the kernel (a disconnect,
 *   an exec): whatever the middleware holds a call of it in (a delay) should
 *   let go, as a kernel sleep does, until "execed";
 * - "execed": its exec is done and it runs syscalls again;
 * - "released": it is gone.
 */
export type ProcessEvent = "forked" | "orderedOut" | "execed" | "released"

/** The Hypervisor `inner` with `middleware` around its syscalls; the comm of each process is kept for `InterceptedCall`. */
export const wrapHypervisor = (middleware: Middleware) => (inner: HypervisorService): HypervisorService => {
  const comms = new Map<number, string>()
  const { wants, around, onProcess } = middleware
  return {
    identity: inner.identity,
    rfork: (options) =>
      Effect.map(inner.rfork(options), (handle: ProcessHandle) => {
        const comm = handle.comm ?? options.comm ?? (options.parent === undefined ? undefined : comms.get(options.parent.pid))
        if (comm === undefined) comms.delete(handle.pid)
        else comms.set(handle.pid, comm)
        onProcess?.(handle.pid, "forked")
        return handle
      }),
    newLwp: inner.newLwp,
    releaseLwp: inner.releaseLwp,
    lwpExit: onProcess === undefined ? inner.lwpExit : (process) =>
      Effect.andThen(inner.lwpExit(process), Effect.sync(() => onProcess(process.pid, "orderedOut"))),
    execNotify: (process, comm) =>
      Effect.andThen(
        inner.execNotify(process, comm),
        Effect.sync(() => {
          comms.set(process.pid, comm)
          onProcess?.(process.pid, "execed")
        })
      ),
    releaseProcess: (process) =>
      Effect.andThen(
        inner.releaseProcess(process),
        Effect.sync(() => {
          comms.delete(process.pid)
          onProcess?.(process.pid, "released")
        })
      ),
    syscall: (lwp, number, args) => {
      if (!wants(number, lwp.pid)) return inner.syscall(lwp, number, args)
      const call: InterceptedCall = { lwp, pid: lwp.pid, comm: comms.get(lwp.pid), number, shape: shapeOf(number), args }
      return around(call, (a) => inner.syscall(lwp, number, a))
    },
    awaitHalt: inner.awaitHalt
  }
}

/**
 * A layer that takes the Hypervisor it is given and provides it again with
 * the middleware `make` builds around it (`make` may open resources in the
 * layer's scope).
 */
export const middlewareLayer = <E, R>(
  make: Effect.Effect<Middleware, E, R>
): Layer.Layer<Hypervisor, E, Hypervisor | Exclude<R, Scope.Scope>> =>
  Layer.effect(
    Hypervisor,
    Effect.gen(function*() {
      const inner = yield* Hypervisor
      return wrapHypervisor(yield* make)(inner)
    })
  )

/**
 * Puts `outer` (a layer that wraps the Hypervisor, such as
 * `middlewareLayer(...)`, `FaultInjection.layer(...)`) around the
 * Hypervisor of a kernel layer, keeping the kernel layer's other services.
 */
export const withMiddleware =
  <A, E2, R2>(outer: Layer.Layer<A, E2, R2>) => <ROut, E, RIn>(kernel: Layer.Layer<ROut, E, RIn>) =>
    Layer.provideMerge(outer, kernel)
