/**
 * Fault injection: middleware that makes chosen syscalls fail, wait, move
 * fewer bytes, raise a signal, or lose their client's connection, by rules
 * (FaultRule.ts; text form in RuleText.ts) that can be changed while the
 * kernel runs (the FaultInjection service).
 *
 * ```ts
 * const kernel = kernelLayer().pipe(withFaults(["write:comm=myprog:nth=3:errno=ENOSPC"]))
 * ```
 *
 * Actions, in the order they happen: `delay` (a disconnect or exec of the
 * caller ends it early, and the call then fails with EINTR, as a sleep in
 * the kernel does), `signal` (raised at the caller, then the call goes on),
 * then one of `errno` (the call fails without reaching the kernel),
 * `short` (the kernel sees a byte count of at most K), `drop` (the client's
 * connection is closed while the call is held; it ends when the server
 * cleans up), or nothing more (the call runs as it would have).
 *
 * A call of a syscall no rule names costs one map lookup. A path rule
 * reads the call's path argument with one copyinstr, which then answers
 * the kernel's own copyinstr of it, so the client sends it once.
 */
import { Context, Duration, Effect, Layer, Option } from "effect"
import { Errno, limits } from "@sysproxy/protocol/netbsd"
import type { Hypervisor, SyscallResult } from "../Hypervisor.ts"
import { UserMemory, type UserMemoryService } from "../UserMemory.ts"
import { CallMemory } from "../middleware/CallMemory.ts"
import { DescriptorPaths, type DescriptorPathsService } from "../middleware/DescriptorPaths.ts"
import {
  type InterceptedCall,
  type Middleware,
  middlewareLayer,
  type Proceed,
  withMiddleware
} from "../middleware/Middleware.ts"
import { readSlot, syscallLabel, withSlot } from "../middleware/SyscallShape.ts"
import { FaultRuleError, type FaultRuleInput } from "./FaultRule.ts"
import { type CompiledRule, compileRule, fires, RuleSet } from "./RuleSet.ts"

export interface FaultInjectionService {
  /** The rules in force as text, one a line (what `set` takes back). */
  readonly list: () => ReadonlyArray<string>
  /**
   * Replaces every rule at once. A bad rule fails the whole call and leaves
   * the rules as they were; a rule set again (same text) keeps its count.
   */
  readonly set: (rules: ReadonlyArray<FaultRuleInput>) => Effect.Effect<void, FaultRuleError>
  /** `set` for callers that cannot run an effect (a sysctl node's write): the refusal, or undefined once set. */
  readonly trySet: (rules: ReadonlyArray<FaultRuleInput>) => FaultRuleError | undefined
  /** Adds rules after those in force. */
  readonly add: (rules: ReadonlyArray<FaultRuleInput>) => Effect.Effect<void, FaultRuleError>
  readonly clear: Effect.Effect<void>
  /** Calls a fault was injected into so far. */
  readonly injected: () => number
}

const randomSeed = () => globalThis.crypto.getRandomValues(new Uint32Array(1))[0]!

const failWith = (errno: number): SyscallResult => ({ error: errno, retval0: -1n, retval1: 0n })

const decoder = new TextDecoder()

/** The string copyinstr brought in, without its NUL. */
const asString = (bytes: Uint8Array): string => {
  const nul = bytes.indexOf(0)
  return decoder.decode(nul === -1 ? bytes : bytes.subarray(0, nul))
}

/** The names a call is about: its path arguments (read once, through `memory`) and its descriptor's file. */
const pathsOf = (call: InterceptedCall, memory: CallMemory, descriptors: DescriptorPathsService | undefined) =>
  Effect.gen(function*() {
    const shape = call.shape
    const out: Array<string> = []
    if (shape === undefined) return out
    for (const slot of shape.pathSlots) {
      const addr = readSlot(call.args, slot, shape.info.args[slot]!)
      // a bad pointer matches nothing; the kernel answers EFAULT itself
      const bytes = yield* Effect.option(memory.copyinstr(addr, limits.PATH_MAX))
      if (Option.isSome(bytes)) out.push(asString(bytes.value))
    }
    if (shape.fdSlot !== undefined && descriptors !== undefined) {
      const fd = Number(readSlot(call.args, shape.fdSlot, shape.info.args[shape.fdSlot]!))
      const path = descriptors.pathOf(call.pid, fd)
      if (path !== undefined) out.push(path)
    }
    return out
  })

/** The first rule that fires on the call; every rule that matches it counts it. */
const select = (
  rules: ReadonlyArray<CompiledRule>,
  call: InterceptedCall,
  paths: ReadonlyArray<string> | undefined
): CompiledRule | undefined => {
  let chosen: CompiledRule | undefined
  for (const r of rules) {
    if (r.rule.pid !== undefined && r.rule.pid !== call.pid) continue
    if (r.comm !== undefined && (call.comm === undefined || !r.comm.test(call.comm))) continue
    if (r.path !== undefined && (paths === undefined || !paths.some((p) => r.path!.test(p)))) continue
    if (fires(r) && chosen === undefined) chosen = r
  }
  return chosen
}

/** The calls of each process held by a delay or a drop, and the processes being ordered out. */
class Holds {
  private readonly waking = new Map<number, Set<() => void>>()
  private readonly out = new Set<number>()

  event(pid: number, event: "forked" | "orderedOut" | "execed" | "released"): void {
    if (event === "forked" || event === "execed") {
      this.out.delete(pid)
      return
    }
    if (event === "orderedOut") this.out.add(pid)
    else this.out.delete(pid)
    const wake = this.waking.get(pid)
    this.waking.delete(pid)
    if (wake !== undefined) for (const f of wake) f()
  }

  /** Holds the call for `duration` (or until ordered out); true when it was ordered out. */
  hold(pid: number, duration: Duration.Duration): Effect.Effect<boolean> {
    const released = Effect.callback<boolean>((resume) => {
      if (this.out.has(pid)) return resume(Effect.succeed(true))
      let set = this.waking.get(pid)
      if (set === undefined) this.waking.set(pid, set = new Set())
      const wake = () => resume(Effect.succeed(true))
      set.add(wake)
      return Effect.sync(() => {
        set.delete(wake)
        if (set.size === 0 && this.waking.get(pid) === set) this.waking.delete(pid)
      })
    })
    return Duration.isFinite(duration) ? Effect.race(released, Effect.as(Effect.sleep(duration), false)) : released
  }
}

const describe = (r: CompiledRule, call: InterceptedCall): string =>
  `fault injected into ${syscallLabel(call.number)} by pid ${call.pid}${call.comm === undefined ? "" : ` (${call.comm})`}: ${r.text}`

/** Builds the service and its middleware over rules checked up front. */
export const makeFaultInjection = (
  rules: ReadonlyArray<FaultRuleInput>,
  options?: { readonly descriptors?: DescriptorPathsService | undefined }
) =>
  Effect.gen(function*() {
    const descriptors = options?.descriptors
    const holds = new Holds()
    let current = RuleSet.empty
    let injected = 0

    /** Every rule compiled, keeping the progress of those already in force; the first refusal otherwise. */
    const compileAll = (input: ReadonlyArray<FaultRuleInput>): Array<CompiledRule> | FaultRuleError => {
      const out: Array<CompiledRule> = []
      for (const rule of input) {
        const r = compileRule(rule, {
          randomSeed,
          progressOf: (text) => current.rules.find((k) => k.text === text)?.progress
        })
        if (r instanceof FaultRuleError) return r
        out.push(r)
      }
      return out
    }

    const trySet = (input: ReadonlyArray<FaultRuleInput>): FaultRuleError | undefined => {
      const compiled = compileAll(input)
      if (compiled instanceof FaultRuleError) return compiled
      current = new RuleSet(compiled)
      return undefined
    }

    const set = (input: ReadonlyArray<FaultRuleInput>) =>
      Effect.suspend(() => {
        const refused = trySet(input)
        return refused === undefined ? Effect.void : Effect.fail(refused)
      })

    const act = (r: CompiledRule, call: InterceptedCall, proceed: Proceed, memory: UserMemoryService) =>
      Effect.gen(function*() {
        injected++
        yield* Effect.logInfo(describe(r, call))
        if (r.delay !== undefined && (yield* holds.hold(call.pid, r.delay))) return failWith(Errno.EINTR)
        if (r.signo !== undefined) yield* memory.raise(r.signo)
        if (r.errno !== undefined) return failWith(r.errno)
        if (r.short !== undefined && call.shape?.countSlot !== undefined) {
          const slot = call.shape.countSlot
          const count = readSlot(call.args, slot, call.shape.info.args[slot]!)
          const cut = BigInt(r.short)
          return yield* proceed(count > cut ? withSlot(call.args, slot, cut) : call.args)
        }
        if (r.drop) {
          if (memory.disconnect === undefined) {
            yield* Effect.logWarning(`${r.text}: this client's memory has no connection to drop; the call goes on`)
            return yield* proceed(call.args)
          }
          yield* memory.disconnect(`fault injection: ${r.text}`)
          // the answer has nowhere to go: hold the call until the server cleans up after the disconnect
          yield* holds.hold(call.pid, Duration.infinity)
          return failWith(Errno.EINTR)
        }
        return yield* proceed(call.args)
      })

    const middleware: Middleware = {
      wants: (number) => current.candidates(number) !== undefined,
      around: (call, proceed) =>
        Effect.flatMap(Effect.service(UserMemory), (memory) => {
          const candidates = current.candidates(call.number)
          if (candidates === undefined) return proceed(call.args)
          const needsPath = candidates.some((r) =>
            r.path !== undefined && (r.rule.pid === undefined || r.rule.pid === call.pid) &&
            (r.comm === undefined || (call.comm !== undefined && r.comm.test(call.comm)))
          )
          if (!needsPath) {
            const chosen = select(candidates, call, undefined)
            return chosen === undefined ? proceed(call.args) : act(chosen, call, proceed, memory)
          }
          const callMemory = new CallMemory(memory)
          return Effect.flatMap(pathsOf(call, callMemory, descriptors), (paths) => {
            const chosen = select(candidates, call, paths)
            return chosen === undefined ? proceed(call.args) : act(chosen, call, proceed, callMemory)
          }).pipe(Effect.provideService(UserMemory, callMemory))
        }),
      onProcess: (pid, event) => holds.event(pid, event)
    }

    yield* set(rules)
    const service: FaultInjectionService = {
      list: () => current.rules.map((r) => r.text),
      set,
      trySet,
      add: (more) =>
        Effect.suspend(() => {
          const compiled = compileAll(more)
          if (compiled instanceof FaultRuleError) return Effect.fail(compiled)
          current = new RuleSet([...current.rules, ...compiled])
          return Effect.void
        }),
      clear: Effect.sync(() => {
        current = RuleSet.empty
      }),
      injected: () => injected
    }
    return { service, middleware }
  })

export class FaultInjection extends Context.Service<FaultInjection, FaultInjectionService>()(
  "@sysproxy/hypervisor/FaultInjection"
) {
  /**
   * Takes the Hypervisor it is given and provides it again with these
   * rules around its syscalls (a bad rule fails the layer), and the
   * FaultInjection service to change them. Descriptor paths come from a
   * DescriptorPaths service when the context has one.
   */
  static readonly layer = (
    rules: ReadonlyArray<FaultRuleInput>
  ): Layer.Layer<FaultInjection | Hypervisor, FaultRuleError, Hypervisor> =>
    Layer.unwrap(
      Effect.gen(function*() {
        const descriptors = Option.getOrUndefined(yield* Effect.serviceOption(DescriptorPaths))
        const { service, middleware } = yield* makeFaultInjection(rules, { descriptors })
        return Layer.merge(middlewareLayer(Effect.succeed(middleware)), Layer.succeed(FaultInjection, service))
      })
    )
}

/** `kernel.pipe(withFaults(rules))`: the kernel layer with fault injection around its Hypervisor. */
export const withFaults = (rules: ReadonlyArray<FaultRuleInput>) => withMiddleware(FaultInjection.layer(rules))

