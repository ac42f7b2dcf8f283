/**
 * Preloaded into the server by the bench's tail runs and by
 * bench/server-calls.ts (`node --import bench/gc-probe.ts ...`): watches
 * the process over a window and, on SIGURG, prints one line
 *
 *   GC {"kinds":{"scavenge":{"count":N,"longestMs":X,"totalMs":Y,"medianMs":M},...},"over1ms":N,
 *       "allocatedBytes":A,"oldBytes":O,"cpuUserUs":U,"cpuSystemUs":S,"loops":L,"loopDelayMaxMs":D,"loopDelayP99Ms":P,"seconds":T}
 *
 * with what happened between the previous SIGURG and this one (the first
 * SIGURG opens the window):
 * - the collections (a PerformanceObserver on "gc" entries): count,
 *   longest, total and median pause per kind, and the pauses over 1 ms;
 * - the bytes allocated and the bytes old space gained (promoted by young
 *   collections, or allocated there: bench/heap-window.ts);
 * - the process's CPU time, the event loop's turns (libuv's loop count)
 *   and the longest delay of a timer armed every millisecond
 *   (monitorEventLoopDelay: what a callback waited behind everything else);
 * - the stalls: gaps of over 2 ms between two runs of a 1 ms interval
 *   timer, how many the server ran through (its main thread's CPU time in
 *   the gap at least 80% of it: our code, or the collector), and the
 *   longest few with the main thread's CPU time, the event loop's active
 *   time and whether a collection started in them: a gap with little
 *   main-thread CPU time is the machine not running the thread (active:
 *   taken off the CPU while running; not active: woken late from its wait
 *   for events).
 * Only node: modules: it runs before the server's own code.
 */
import { constants, monitorEventLoopDelay, performance, type PerformanceEntry, PerformanceObserver } from "node:perf_hooks"
import { openHeapWindow } from "./heap-window.ts"

interface KindFigures {
  count: number
  longestMs: number
  totalMs: number
  pauses: Array<number>
}

const kindName = (kind: number | undefined): string =>
  kind === constants.NODE_PERFORMANCE_GC_MINOR
    ? "scavenge"
    : kind === constants.NODE_PERFORMANCE_GC_MAJOR
    ? "markCompact"
    : kind === constants.NODE_PERFORMANCE_GC_INCREMENTAL
    ? "incrementalMarking"
    : kind === constants.NODE_PERFORMANCE_GC_WEAKCB
    ? "weakCallbacks"
    : `kind${kind}`

let kinds: Record<string, KindFigures> = {}
let over1ms = 0
/** Collections that started before this (the forced ones of a STATS line, say) belong to no window. */
let windowStart = Infinity

new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (entry.startTime < windowStart) continue
    const detail = (entry as PerformanceEntry & { readonly detail?: { readonly kind?: number } }).detail
    const name = kindName(detail?.kind)
    const k = (kinds[name] ??= { count: 0, longestMs: 0, totalMs: 0, pauses: [] })
    k.count++
    k.totalMs += entry.duration
    k.pauses.push(entry.duration)
    gcStarts.push(entry.startTime)
    if (entry.duration > k.longestMs) k.longestMs = entry.duration
    if (entry.duration > 1) over1ms++
  }
}).observe({ entryTypes: ["gc"] })

/** One window's heap, CPU and loop figures. */
const open = () => {
  const delay = monitorEventLoopDelay({ resolution: 1 })
  delay.enable()
  return {
    heap: openHeapWindow(),
    delay,
    cpu: process.cpuUsage(),
    loops: performance.nodeTiming.uvMetricsInfo.loopCount,
    at: performance.now()
  }
}
let current: ReturnType<typeof open> | undefined

/** Gaps of a 1 ms timer longer than this are stalls. */
const STALL_MS = 2
/** The longest stalls kept with their figures. */
const TOP_STALLS = 5
interface Stall {
  readonly gapMs: number
  /** The main thread's CPU time in the gap (user + system). */
  readonly cpuMs: number
  /** The event loop's time outside its poll for events in the gap (eventLoopUtilization). */
  readonly activeMs: number
  /** A collection started in the gap. */
  readonly gc: boolean
}
interface Stalls {
  count: number
  /** Stalls the server ran through (CPU time at least 80% of the gap): its own code, or the collector. */
  busy: number
  top: Array<Stall>
}
const noStalls = (): Stalls => ({ count: 0, busy: 0, top: [] })
let stalls = noStalls()
/** Start times of the window's collections, for telling which stalls had one. */
let gcStarts: Array<number> = []
let lastTick = performance.now()
let lastThreadCpu = process.threadCpuUsage()
let lastElu = performance.eventLoopUtilization()
setInterval(() => {
  const now = performance.now()
  const threadCpu = process.threadCpuUsage()
  const elu = performance.eventLoopUtilization()
  const gapMs = now - lastTick
  if (gapMs > STALL_MS && current !== undefined) {
    const from = lastTick
    const stall: Stall = {
      gapMs,
      cpuMs: (threadCpu.user - lastThreadCpu.user + threadCpu.system - lastThreadCpu.system) / 1000,
      activeMs: elu.active - lastElu.active,
      gc: gcStarts.some((t) => t >= from && t <= now)
    }
    stalls.count++
    if (stall.cpuMs >= 0.8 * gapMs) stalls.busy++
    stalls.top.push(stall)
    stalls.top.sort((x, y) => y.gapMs - x.gapMs)
    if (stalls.top.length > TOP_STALLS) stalls.top.length = TOP_STALLS
  }
  lastTick = now
  lastThreadCpu = threadCpu
  lastElu = elu
}, 1).unref()

const close = (w: ReturnType<typeof open>) => {
  const { allocatedBytes, oldBytes } = w.heap.close()
  w.delay.disable()
  const cpu = process.cpuUsage(w.cpu)
  return {
    allocatedBytes,
    oldBytes,
    cpuUserUs: cpu.user,
    cpuSystemUs: cpu.system,
    loops: performance.nodeTiming.uvMetricsInfo.loopCount - w.loops,
    loopDelayMaxMs: w.delay.max / 1e6,
    loopDelayP99Ms: w.delay.percentile(99) / 1e6,
    seconds: (performance.now() - w.at) / 1000
  }
}

const median = (xs: ReadonlyArray<number>) => (xs.length === 0 ? 0 : [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!)

process.on("SIGURG", () => {
  const now = performance.now()
  const window = current === undefined ? undefined : close(current)
  // entries arrive asynchronously: give the window's last ones time to come in
  setTimeout(() => {
    const summary = Object.fromEntries(
      Object.entries(kinds).map(([k, v]) => [k, { count: v.count, longestMs: v.longestMs, totalMs: v.totalMs, medianMs: median(v.pauses) }])
    )
    process.stdout.write(`GC ${JSON.stringify({ kinds: summary, over1ms, ...window, ...(window === undefined ? {} : { stalls }) })}\n`)
    kinds = {}
    over1ms = 0
    stalls = noStalls()
    gcStarts = []
    windowStart = now
    current = open()
  }, 50)
})
