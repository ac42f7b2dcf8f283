/**
 * What Hypervisor middleware costs a syscall no rule names: getpid on our
 * kernel in-process, straight and through wrappers (fault injection with no
 * rule, with a rule on another syscall, a trace nobody reads), as CPU time
 * per call and heap bytes allocated per call. Both figures hold under load
 * better than wall-clock time does: CPU time is the process's own, and the
 * heap is measured over a window with no collection (a young generation
 * larger than the window's allocations). Each variant runs in a process of
 * its own (so one's garbage and compiled code do not count for another),
 * `--rounds` times, in turn; the table has the medians.
 *
 *   node --conditions=@sysproxy/source bench/middleware.ts [--calls N] [--rounds R]
 */
import {
  type HypervisorService,
  makeFaultInjection,
  makeLocalMemory,
  traceMiddleware,
  UserMemory,
  wrapHypervisor
} from "@sysproxy/hypervisor"
import { SYS } from "@sysproxy/protocol/netbsd"
import { Effect, Scope } from "effect"
import * as ChildProcess from "node:child_process"
import * as V8 from "node:v8"
import { parseArgs } from "node:util"
import { makeKernel } from "@sysproxy/kernel"

const { values } = parseArgs({
  options: {
    calls: { type: "string", default: "200000" },
    rounds: { type: "string", default: "3" },
    variant: { type: "string" }
  }
})
const CALLS = Number(values.calls)
const HEAP_WINDOW = 20_000
const gc = (globalThis as { gc?: () => void }).gc

const memory = makeLocalMemory()
// the kernel's scope (its timers) lives as long as the bench process
const { hypervisor: kernel } = Effect.runSync(
  Effect.orDie(makeKernel({ console: () => {} })).pipe(Effect.provideService(Scope.Scope, Scope.makeUnsafe()))
)

const variants: ReadonlyArray<readonly [string, Effect.Effect<HypervisorService, unknown>]> = [
  ["kernel", Effect.succeed(kernel)],
  ["a bare pass-through function (the floor of any wrapper)", Effect.succeed({ ...kernel, syscall: (l, n, a) => kernel.syscall(l, n, a) })],
  ["faults, no rule", Effect.map(makeFaultInjection([]), (f) => wrapHypervisor(f.middleware)(kernel))],
  ["faults, a write rule", Effect.map(makeFaultInjection(["write:nth=3:errno=ENOSPC"]), (f) => wrapHypervisor(f.middleware)(kernel))],
  ["trace, nobody reading", Effect.succeed(wrapHypervisor(traceMiddleware({ enabled: () => false, write: () => {} }))(kernel))],
  [
    "faults and trace, both idle",
    Effect.map(makeFaultInjection([]), (f) =>
      wrapHypervisor(traceMiddleware({ enabled: () => false, write: () => {} }))(wrapHypervisor(f.middleware)(kernel)))
  ]
]

const args = new Uint8Array(0)

const measure = (hv: HypervisorService) =>
  Effect.gen(function*() {
    const proc = yield* hv.rfork({ client: memory.service, mode: "clear", comm: "bench" })
    const lwp = yield* hv.newLwp(proc.pid)
    // the wrapper's syscall is called anew for every call, as the server does
    const call = Effect.suspend(() => hv.syscall(lwp, SYS.getpid, args)).pipe(Effect.provideService(UserMemory, memory.service))
    const loop = (n: number) => Effect.runSync(Effect.repeat(call, { times: n - 1 }))
    loop(10_000) // warm up
    gc?.()
    const heapBefore = V8.getHeapStatistics().used_heap_size
    loop(HEAP_WINDOW)
    const heapPerCall = (V8.getHeapStatistics().used_heap_size - heapBefore) / HEAP_WINDOW
    const cpuBefore = process.cpuUsage()
    loop(CALLS)
    const cpu = process.cpuUsage(cpuBefore)
    yield* hv.releaseLwp(lwp)
    yield* hv.releaseProcess(proc)
    return { nsPerCall: ((cpu.user + cpu.system) * 1000) / CALLS, heapPerCall }
  })

/** One variant in this process: its figures as one JSON line. */
const one = (index: number) =>
  Effect.gen(function*() {
    const [, make] = variants[index]!
    const r = yield* Effect.orDie(measure(yield* make))
    process.stdout.write(`${JSON.stringify(r)}\n`)
  })

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Every variant, each in its own process, round after round. */
const all = () => {
  const rounds = Number(values.rounds)
  const results = variants.map(() => [] as Array<{ nsPerCall: number; heapPerCall: number }>)
  for (let round = 0; round < rounds; round++) {
    variants.forEach((_, i) => {
      const out = ChildProcess.execFileSync(process.execPath, [
        "--conditions=@sysproxy/source",
        "--max-semi-space-size=256",
        "--expose-gc",
        import.meta.filename,
        "--variant",
        String(i),
        "--calls",
        String(CALLS)
      ], { encoding: "utf8" })
      results[i]!.push(JSON.parse(out))
    })
  }
  process.stdout.write(`getpid on the kernel in-process, ${CALLS} calls per run (CPU time), heap over ${HEAP_WINDOW}; medians of ${rounds} runs\n\n`)
  process.stdout.write("| variant | CPU ns/call | heap bytes/call |\n| --- | --- | --- |\n")
  variants.forEach(([name], i) => {
    const rs = results[i]!
    process.stdout.write(
      `| ${name} | ${median(rs.map((r) => r.nsPerCall)).toFixed(0)} | ${median(rs.map((r) => r.heapPerCall)).toFixed(0)} |\n`
    )
  })
}

if (values.variant === undefined) all()
else Effect.runSync(one(Number(values.variant)))
