/**
 * Preloaded into the server by the bench's tail runs
 * (`node --import bench/gc-probe.ts ...`): watches the collector with a
 * PerformanceObserver on "gc" entries and, on SIGURG, prints one line
 *
 *   GC {"kinds":{"scavenge":{"count":N,"longestMs":X,"totalMs":Y},"markCompact":{...},...},"over1ms":N}
 *
 * with the collections that started between the previous SIGURG and this
 * one (the first SIGURG opens the window). Only node: modules: it runs
 * before the server's own code.
 */
import { constants, performance, type PerformanceEntry, PerformanceObserver } from "node:perf_hooks"

interface KindFigures {
  count: number
  longestMs: number
  totalMs: number
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
    const k = (kinds[name] ??= { count: 0, longestMs: 0, totalMs: 0 })
    k.count++
    k.totalMs += entry.duration
    if (entry.duration > k.longestMs) k.longestMs = entry.duration
    if (entry.duration > 1) over1ms++
  }
}).observe({ entryTypes: ["gc"] })

process.on("SIGURG", () => {
  const now = performance.now()
  // entries arrive asynchronously: give the window's last ones time to come in
  setTimeout(() => {
    process.stdout.write(`GC ${JSON.stringify({ kinds, over1ms })}\n`)
    kinds = {}
    over1ms = 0
    windowStart = now
  }, 50)
})
