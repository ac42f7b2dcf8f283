/**
 * 10,000 EVFILT_TIMER knotes armed at once (issue 15): what they cost in
 * memory, and that a kernel holding them costs no CPU while none is due.
 *
 *   node --expose-gc --conditions=@sysproxy/source bench/kevent-timers.ts [--timers N] [--seconds S]
 *   npm run bench:timers
 *
 * Boots our kernel in this process (a limit of N + 1 kqueue timers instead
 * of NetBSD's 4096), makes one guest with a kqueue and adds N timers of a
 * one-hour period, 1000 changes per kevent call. Then, with every timer
 * armed:
 * - memory: heap and RSS growth per timer (after forced collections);
 * - idle: CPU time, event-loop utilisation and the kernel's timer
 *   dispatcher's wakeups (0: nothing ran) over S seconds, against the
 *   same S seconds of the same kernel once the timers are gone (after the
 *   run, so both are warmed up), and the host timers pending (one for all
 *   of them);
 * - firing: the N timers deleted and added again with a 1 s period, so N
 *   expirations a second: CPU time per expiry over S seconds;
 * - teardown: closing the kqueue leaves no knote and no armed timer.
 *
 * Prints one JSON line. CPU figures are of this process alone (other load on
 * the machine slows it, but does not add to them).
 */
import { Effect } from "effect"
import { type LwpHandle, makeLocalMemory, provideLocalMemory } from "@sysproxy/hypervisor"
import { makeKernel, packArgs } from "@sysproxy/kernel"
import { SYS } from "@sysproxy/protocol/netbsd"
import { performance } from "node:perf_hooks"
import { parseArgs } from "node:util"
import { log } from "./support.ts"

const { values } = parseArgs({
  options: { timers: { type: "string", default: "10000" }, seconds: { type: "string", default: "3" } }
})
const TIMERS = Number(values.timers)
const SECONDS = Number(values.seconds)
const CHUNK = 1000

/** struct kevent (NetBSD/amd64): ident, filter, flags, fflags, data, udata; 40 bytes. */
const KEVENT_SIZE = 40
const EVFILT_TIMER = 6
const EV_ADD = 0x1
const EV_DELETE = 0x2

const changes = (from: number, count: number, flags: number, periodMs: number): Uint8Array => {
  const bytes = new Uint8Array(count * KEVENT_SIZE)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < count; i++) {
    const at = i * KEVENT_SIZE
    view.setBigUint64(at, BigInt(from + i), true)
    view.setUint32(at + 8, EVFILT_TIMER, true)
    view.setUint32(at + 12, flags, true)
    view.setBigInt64(at + 24, BigInt(periodMs), true)
  }
  return bytes
}

const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error("run with --expose-gc (npm run bench:timers does)")
  for (let i = 0; i < 3; i++) collect()
}

const hostTimers = (): number => process.getActiveResourcesInfo().filter((r) => r === "Timeout").length

/** CPU ms, event-loop utilisation and the timer dispatcher's wakeups over `seconds` of doing nothing. */
const idle = (seconds: number, dispatcher: { readonly wakeups: number }) =>
  Effect.promise(async () => {
    const elu0 = performance.eventLoopUtilization()
    const cpu0 = process.cpuUsage()
    const woke0 = dispatcher.wakeups
    await new Promise((ok) => setTimeout(ok, seconds * 1000))
    const cpu = process.cpuUsage(cpu0)
    return {
      cpuMs: Math.round((cpu.user + cpu.system) / 100) / 10,
      elu: Math.round(performance.eventLoopUtilization(elu0).utilization * 10_000) / 10_000,
      dispatcherWakeups: dispatcher.wakeups - woke0
    }
  })

const program = Effect.gen(function*() {
  const { hypervisor, kernel } = yield* Effect.orDie(makeKernel({ console: () => {}, maxKqueueTimers: TIMERS + 1 }))
  const mem = makeLocalMemory({ anonmmapLimit: 1n << 30n })
  const proc = yield* Effect.orDie(hypervisor.rfork({ client: mem.service, mode: "clear", comm: "bench" }))
  const call = (n: number, ...args: ReadonlyArray<bigint | number>) =>
    Effect.acquireUseRelease(
      Effect.orDie(hypervisor.newLwp(proc.pid)),
      (lwp: LwpHandle) => hypervisor.syscall(lwp, n, packArgs(...args)).pipe(provideLocalMemory(mem)),
      (lwp) => hypervisor.releaseLwp(lwp)
    ).pipe(
      Effect.flatMap((r) => (r.error === 0 ? Effect.succeed(r.retval0) : Effect.die(new Error(`syscall ${n}: errno ${r.error}`))))
    )
  const kq = yield* call(SYS.kqueue)
  const apply = (flags: number, periodMs: number) =>
    Effect.gen(function*() {
      for (let i = 0; i < TIMERS; i += CHUNK) {
        const n = Math.min(CHUNK, TIMERS - i)
        const list = mem.alloc(changes(i, n, flags, periodMs))
        yield* call(SYS.__kevent50, kq, list, n, 0, 0, 0)
        mem.free(list)
      }
    })

  gc()
  const heap0 = process.memoryUsage().heapUsed
  const rss0 = process.memoryUsage().rss
  const t0 = performance.now()
  yield* apply(EV_ADD, 3_600_000)
  const addMs = performance.now() - t0
  gc()
  const heap1 = process.memoryUsage().heapUsed
  const rss1 = process.memoryUsage().rss
  const armed = kernel.stats()
  log(`${armed.timers} timers armed in ${addMs.toFixed(0)} ms`)
  const held = yield* idle(SECONDS, kernel.state.callouts)
  const pendingHostTimers = hostTimers()

  yield* apply(EV_DELETE, 0)
  yield* apply(EV_ADD, 1000)
  const firing = yield* idle(SECONDS, kernel.state.callouts)
  const expirations = TIMERS * SECONDS

  yield* call(SYS.close, kq)
  const after = kernel.stats()
  const quiet = yield* idle(SECONDS, kernel.state.callouts)
  return {
    timers: TIMERS,
    armed: { knotes: armed.knotes, timers: armed.timers },
    addMs: Math.round(addMs),
    heapBytesPerTimer: Math.round((heap1 - heap0) / TIMERS),
    rssDeltaMB: Math.round((rss1 - rss0) / 1e5) / 10,
    idle: {
      seconds: SECONDS,
      withoutTimers: quiet,
      withTimers: held,
      hostTimersPending: pendingHostTimers
    },
    firing: {
      periodMs: 1000,
      seconds: SECONDS,
      expirations,
      cpuMs: firing.cpuMs,
      cpuUsPerExpiry: Math.round((firing.cpuMs * 1000 / expirations) * 100) / 100,
      elu: firing.elu,
      dispatcherWakeups: firing.dispatcherWakeups
    },
    afterClose: { knotes: after.knotes, timers: after.timers }
  }
})

const result = await Effect.runPromise(Effect.scoped(program))
process.stdout.write(`${JSON.stringify(result)}\n`)
