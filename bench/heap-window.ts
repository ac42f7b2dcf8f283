/**
 * Bytes allocated and bytes reaching old space over a window, exactly,
 * whatever collections happen in it: V8's GC profiler gives the heap's
 * spaces before and after every collection. Between two collections every
 * byte newly in use was allocated; in a young collection, what old space
 * gained was promoted (a full collection only frees). Only node: modules,
 * so that bench/gc-probe.ts can preload it before the server's own code.
 */
import * as V8 from "node:v8"

interface SpaceFigures {
  readonly spaceName: string
  readonly spaceUsedSize: number
}

/** Bytes in use in the whole heap, and outside the young generation. */
const spaces = (list: ReadonlyArray<SpaceFigures>) => {
  let all = 0
  let old = 0
  for (const s of list) {
    all += s.spaceUsedSize
    if (s.spaceName !== "new_space" && s.spaceName !== "new_large_object_space") old += s.spaceUsedSize
  }
  return { all, old }
}

const heapNow = () => spaces(V8.getHeapSpaceStatistics().map((s) => ({ spaceName: s.space_name, spaceUsedSize: s.space_used_size })))

export interface HeapWindowFigures {
  readonly allocatedBytes: number
  readonly oldBytes: number
  /** Young collections' pauses (ms, as V8's profiler measures them) and how many full ones there were. */
  readonly scavengesMs: ReadonlyArray<number>
  readonly markCompacts: number
}

/** Opens a window now; `close` ends it. One window at a time per process. */
export const openHeapWindow = (): { readonly close: () => HeapWindowFigures } => {
  const profiler = new V8.GCProfiler()
  profiler.start()
  const first = heapNow()
  return {
    close: () => {
      const last = heapNow()
      const { statistics } = profiler.stop()
      let allocatedBytes = 0
      let oldBytes = 0
      let at = first
      const scavengesMs: Array<number> = []
      let markCompacts = 0
      for (const g of statistics) {
        const before = spaces(g.beforeGC.heapSpaceStatistics)
        const after = spaces(g.afterGC.heapSpaceStatistics)
        allocatedBytes += before.all - at.all
        oldBytes += before.old - at.old
        if (g.gcType === "Scavenge" || g.gcType === "MinorMarkSweep") {
          oldBytes += after.old - before.old
          scavengesMs.push(g.cost / 1000)
        } else if (g.gcType === "MarkSweepCompact") markCompacts++
        at = after
      }
      allocatedBytes += last.all - at.all
      oldBytes += last.old - at.old
      return { allocatedBytes, oldBytes, scavengesMs, markCompacts }
    }
  }
}
