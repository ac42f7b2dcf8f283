/**
 * In-process kernel for syscall tests: a booted kernel, guests made with
 * rfork and backed by LocalMemory, and calls that go through the
 * Hypervisor service exactly as the server's would (newLwp, syscall with
 * the guest's memory, releaseLwp).
 */
import { assert } from "@effect/vitest"
import { Effect, type Fiber, type Scope } from "effect"
import {
  type HypervisorService,
  type LocalMemory,
  type LwpHandle,
  makeLocalMemory,
  type ProcessHandle,
  provideLocalMemory,
  type SyscallResult
} from "@sysproxy/hypervisor"
import { Cred } from "../../src/kauth/Cred.ts"
import { packArgs } from "../../src/abi/Args.ts"
import { type KernelService, makeKernel } from "../../src/Kernel.ts"
import type { KernelConfig } from "../../src/KernelConfig.ts"
import type { Lwp } from "../../src/proc/Lwp.ts"
import type { Proc } from "../../src/proc/Proc.ts"

export interface Guest {
  readonly handle: ProcessHandle
  readonly pid: number
  readonly mem: LocalMemory
  /** The kernel's own process object (for tests that look inside). */
  readonly proc: Proc
  /** One syscall in a fresh lwp, released afterwards. */
  readonly call: (number: number, ...args: ReadonlyArray<bigint | number>) => Effect.Effect<SyscallResult>
  /** A syscall in an lwp the caller made (and releases). */
  readonly callIn: (lwp: LwpHandle, number: number, ...args: ReadonlyArray<bigint | number>) => Effect.Effect<SyscallResult>
  readonly newLwp: () => Effect.Effect<LwpHandle>
}

export interface TestKernel {
  readonly hypervisor: HypervisorService
  readonly kernel: KernelService
  /** Console writes so far: pid and text. */
  readonly console: Array<{ readonly pid: number; readonly text: string }>
  readonly guest: (options?: { readonly comm?: string; readonly parent?: Guest; readonly mode?: "copy" | "share" }) => Effect.Effect<Guest>
}

/** A booted kernel living as long as the caller's scope (its timers stop with it). */
export const boot = (config: KernelConfig = {}): Effect.Effect<TestKernel, never, Scope.Scope> =>
  Effect.gen(function*() {
    const console: Array<{ readonly pid: number; readonly text: string }> = []
    const { hypervisor, kernel } = yield* Effect.orDie(makeKernel({
      ...config,
      console: (pid, bytes) => console.push({ pid, text: new TextDecoder().decode(bytes) })
    }))
    const guest: TestKernel["guest"] = (options) =>
      Effect.gen(function*() {
        const mem = makeLocalMemory()
        const handle = yield* hypervisor.rfork({
          client: mem.service,
          mode: options?.parent === undefined ? "clear" : options.mode ?? "copy",
          parent: options?.parent?.handle,
          comm: options?.comm ?? "t"
        }).pipe(Effect.orDie)
        const proc = kernel.state.procs.get(handle.pid)
        if (proc === undefined) return yield* Effect.die("rfork made no process")
        const newLwp = () => hypervisor.newLwp(handle.pid).pipe(Effect.orDie)
        const callIn: Guest["callIn"] = (lwp, number, ...args) =>
          hypervisor.syscall(lwp, number, packArgs(...args)).pipe(provideLocalMemory(mem))
        const call: Guest["call"] = (number, ...args) =>
          Effect.acquireUseRelease(newLwp(), (lwp) => callIn(lwp, number, ...args), (lwp) => hypervisor.releaseLwp(lwp))
        return { handle, pid: handle.pid, mem, proc, call, callIn, newLwp }
      })
    return { hypervisor, kernel, console, guest }
  })

const view = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** Reads guest memory (the assertion fails when it is not mapped). */
export const peek = (g: Guest, addr: bigint, len: number): Uint8Array => {
  const bytes = g.mem.read(addr, len)
  assert.isDefined(bytes, `guest memory at ${addr} is mapped`)
  return bytes
}

export const peekI32 = (g: Guest, addr: bigint): number => view(peek(g, addr, 4)).getInt32(0, true)
export const peekU64 = (g: Guest, addr: bigint): bigint => view(peek(g, addr, 8)).getBigUint64(0, true)
export const peekI64 = (g: Guest, addr: bigint): bigint => view(peek(g, addr, 8)).getBigInt64(0, true)

export const text = (s: string): Uint8Array => new TextEncoder().encode(s)
export const decode = (bytes: Uint8Array): string => new TextDecoder().decode(bytes)

/** Little-endian integers as guest memory holds them. */
export const i32s = (...xs: ReadonlyArray<number>): Uint8Array => {
  const bytes = new Uint8Array(xs.length * 4)
  xs.forEach((x, i) => view(bytes).setInt32(i * 4, x, true))
  return bytes
}
export const u64s = (...xs: ReadonlyArray<bigint | number>): Uint8Array => {
  const bytes = new Uint8Array(xs.length * 8)
  xs.forEach((x, i) => view(bytes).setBigUint64(i * 8, BigInt.asUintN(64, BigInt(x)), true))
  return bytes
}
/** A struct timespec. */
export const timespec = (sec: bigint | number, nsec: bigint | number): Uint8Array => {
  const bytes = new Uint8Array(16)
  view(bytes).setBigInt64(0, BigInt(sec), true)
  view(bytes).setBigInt64(8, BigInt(nsec), true)
  return bytes
}

/** A syscall that must succeed: its retval[0]. */
export const callOk = (g: Guest, n: number, ...args: ReadonlyArray<bigint | number>): Effect.Effect<bigint> =>
  Effect.gen(function*() {
    const r = yield* g.call(n, ...args)
    assert.strictEqual(r.error, 0, `syscall ${n} failed with ${r.error}`)
    return r.retval0
  })

/** A syscall's errno (0 for success). */
export const errnoOf = (g: Guest, n: number, ...args: ReadonlyArray<bigint | number>): Effect.Effect<number> =>
  Effect.map(g.call(n, ...args), (r) => r.error)

/** Waits (in real time) until the lwp sleeps in the kernel. */
export const untilAsleep = (lwp: LwpHandle): Effect.Effect<void> =>
  Effect.gen(function*() {
    const l = lwp as Lwp
    for (let i = 0; i < 200 && l.wakeup === undefined; i++) yield* Effect.sleep("5 millis")
    assert.isDefined(l.wakeup, "the lwp went to sleep")
  })

/** Makes the guest's process run as `uid` (and a group of the same number): the one place that knows where a process keeps its ids. */
export const setUid = (g: Guest, uid: number): void => {
  g.proc.cred = Cred.of(uid, uid)
}

/** Starts `number(args)` in a new lwp of `g`; the lwp and the running call. */
export const inLwp = (
  g: Guest,
  number: number,
  ...args: ReadonlyArray<bigint | number>
): Effect.Effect<{ readonly lwp: Lwp; readonly fiber: Fiber.Fiber<SyscallResult> }> =>
  Effect.gen(function*() {
    const lwp = yield* g.newLwp()
    const fiber = yield* g.callIn(lwp, number, ...args).pipe(Effect.forkChild)
    return { lwp: lwp as Lwp, fiber }
  })
