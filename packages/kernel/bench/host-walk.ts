/**
 * The host walker and the vnode cache on a big tree (issue 18): a full
 * walk of a host tree the size of a node_modules copy (500 MB apparent in
 * 12,500 files: sparse, so it costs no disk), every directory read in
 * pieces and every entry looked up and stat'ed through the walker, as the
 * host file system's getdents and lookups will, with the vnodes kept in a
 * bounded cache. Then every file opened by its whole path from the root
 * (one walk per file, no cache). Prints JSON lines and a table.
 *
 *   node --conditions=@sysproxy/source --expose-gc packages/kernel/bench/host-walk.ts
 *     [--dirs 20] [--subdirs 25] [--files 25] [--capacity 1024,16384] [--concurrency 16]
 *
 * Figures: wall time (noisy on a shared machine: the load average is
 * printed), process CPU time per entry (the pool threads' included: it
 * depends far less on the load), host calls per entry, heap and RSS
 * growth after a GC, descriptors left open, vnodes kept.
 */
import { Effect, Layer } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import { HostCalls, type HostCallsService, nodeHostCalls } from "../src/vfs/host/HostCalls.ts"
import type { HostFd } from "../src/vfs/host/HostFd.ts"
import { HostTree } from "../src/vfs/host/HostTree.ts"
import { VnodeCache, vnodeKey } from "../src/vfs/host/VnodeCache.ts"

const { values } = parseArgs({
  options: {
    dirs: { type: "string", default: "20" },
    subdirs: { type: "string", default: "25" },
    files: { type: "string", default: "25" },
    capacity: { type: "string", default: "1024,16384" },
    concurrency: { type: "string", default: "16" }
  }
})
const dirs = Number(values.dirs)
const subdirs = Number(values.subdirs)
const files = Number(values.files)
const capacities = values.capacity.split(",").map(Number)
const concurrency = Number(values.concurrency)
const FILE_BYTES = 40_000

const gc = (): void => (globalThis as { gc?: () => void }).gc?.()
const log = (s: string) => process.stderr.write(`${s}\n`)
const openFds = () => Fs.readdirSync("/proc/self/fd").length

/** The tree: dirs x subdirs directories of `files` sparse files each. */
const makeTree = (): { readonly root: string; readonly entries: number; readonly paths: Array<Array<string>> } => {
  const root = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sysproxy-hostwalk-"))
  const paths: Array<Array<string>> = []
  let entries = 0
  for (let d = 0; d < dirs; d++) {
    Fs.mkdirSync(Path.join(root, `pkg${d}`))
    entries++
    for (let s = 0; s < subdirs; s++) {
      const dir = Path.join(root, `pkg${d}`, `lib${s}`)
      Fs.mkdirSync(dir)
      entries++
      for (let f = 0; f < files; f++) {
        const fd = Fs.openSync(Path.join(dir, `module${f}.js`), "w")
        Fs.ftruncateSync(fd, FILE_BYTES)
        Fs.closeSync(fd)
        entries++
        paths.push([`pkg${d}`, `lib${s}`, `module${f}.js`])
      }
    }
  }
  return { root, entries, paths }
}

/** node:fs with every call counted. */
const counting = () => {
  const counts = { calls: 0 }
  const calls = Object.fromEntries(
    Object.entries(nodeHostCalls).map(([k, f]) => [k, (...args: Array<never>) => {
      counts.calls++
      return (f as (...a: Array<never>) => unknown)(...args)
    }])
  ) as unknown as HostCallsService
  return { counts, layer: Layer.succeed(HostCalls, calls) }
}

interface Vnode {
  fd: HostFd
  readonly dir: boolean
}

interface Measure {
  readonly name: string
  readonly entries: number
  readonly wallMs: number
  readonly cpuUsPerEntry: number
  readonly callsPerEntry: number
  readonly heapGrowthMiB: number
  readonly rssGrowthMiB: number
  readonly fdsLeft: number
  readonly kept: number
  readonly heapBytesPerKept: number
}

const measure = <A, E>(name: string, entries: number, counts: { calls: number }, run: Effect.Effect<A, E>, kept: (a: A) => number) =>
  Effect.gen(function*() {
    gc()
    const heap0 = process.memoryUsage().heapUsed
    const rss0 = process.memoryUsage().rss
    const fds0 = openFds()
    const calls0 = counts.calls
    const cpu0 = process.cpuUsage()
    const t0 = performance.now()
    const a = yield* run
    const wallMs = performance.now() - t0
    const cpu = process.cpuUsage(cpu0)
    gc()
    const m0: Measure = {
      name,
      entries,
      wallMs: Math.round(wallMs),
      cpuUsPerEntry: Math.round((cpu.user + cpu.system) / entries),
      callsPerEntry: Number(((counts.calls - calls0) / entries).toFixed(2)),
      heapGrowthMiB: Number(((process.memoryUsage().heapUsed - heap0) / 2 ** 20).toFixed(1)),
      rssGrowthMiB: Number(((process.memoryUsage().rss - rss0) / 2 ** 20).toFixed(1)),
      fdsLeft: openFds() - fds0,
      kept: kept(a),
      heapBytesPerKept: 0
    }
    const m = { ...m0, heapBytesPerKept: m0.kept === 0 ? 0 : Math.round((m0.heapGrowthMiB * 2 ** 20) / m0.kept) }
    process.stdout.write(JSON.stringify(m) + "\n")
    return m
  })

/** Every directory listed in pieces, every entry looked up (a vnode with its path descriptor, in the cache) and stat'ed. */
const fullWalk = (tree: HostTree, capacity: number) =>
  Effect.gen(function*() {
    const cache = new VnodeCache<Vnode>({ capacity, drop: (v) => v.fd.close })
    const visit = (dir: HostFd): Effect.Effect<void, unknown> =>
      Effect.scoped(Effect.gen(function*() {
        const reader = yield* tree.readdir(dir)
        for (;;) {
          const piece = yield* reader.next(64)
          if (piece.length === 0) return
          yield* Effect.forEach(piece, (e) =>
            Effect.gen(function*() {
              const fd = yield* tree.lookupOwned(dir, e.name)
              const st = yield* tree.fstat(fd)
              const v = yield* cache.add(vnodeKey(st.dev, st.ino), { fd, dir: st.isDirectory() })
              cache.hold(v)
              if (v.dir) yield* visit(v.fd)
              yield* cache.release(v)
            }), { concurrency, discard: true })
        }
      }))
    yield* visit(tree.root)
    return cache
  })

/** Every file opened by its whole path from the root: a walk per file. */
const pathWalks = (tree: HostTree, paths: ReadonlyArray<ReadonlyArray<string>>) =>
  Effect.forEach(paths, (p) =>
    Effect.scoped(Effect.gen(function*() {
      const dir = yield* tree.walk(p.slice(0, -1))
      const node = yield* tree.lookup(dir, p[p.length - 1] ?? "")
      yield* tree.fstat(node)
    })), { concurrency, discard: true })

const main = Effect.gen(function*() {
  const load0 = Os.loadavg()
  log(`making the tree: ${dirs * subdirs * files} files of ${FILE_BYTES} bytes (sparse)`)
  const { root, entries, paths } = makeTree()
  const { counts, layer } = counting()
  const results: Array<Measure> = []
  try {
    yield* Effect.scoped(Effect.gen(function*() {
      const tree = yield* HostTree.open(root)
      // a first walk warms up the JIT and the heap, so that the figures below are the walks' own
      yield* Effect.scoped(fullWalk(tree, 64))
      for (const capacity of capacities) {
        results.push(yield* measure(`full walk, cache ${capacity}`, entries, counts, fullWalk(tree, capacity), (c) => c.size))
      }
      results.push(yield* measure("open by whole path", paths.length, counts, pathWalks(tree, paths), () => 0))
    })).pipe(Effect.provide(layer))
  } finally {
    Fs.rmSync(root, { recursive: true, force: true })
  }
  const load1 = Os.loadavg()
  log("")
  log(`| run | entries | wall ms | CPU us/entry | host calls/entry | heap +MiB | RSS +MiB | fds left | vnodes kept | heap B/vnode |`)
  log(`| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |`)
  for (const r of results) {
    log(
      `| ${r.name} | ${r.entries} | ${r.wallMs} | ${r.cpuUsPerEntry} | ${r.callsPerEntry} | ${r.heapGrowthMiB} | ${r.rssGrowthMiB} | ${r.fdsLeft} | ${r.kept} | ${r.heapBytesPerKept} |`
    )
  }
  log(`load average ${load0.map((l) => l.toFixed(2)).join(" ")} -> ${load1.map((l) => l.toFixed(2)).join(" ")} on ${Os.cpus().length} CPUs; UV_THREADPOOL_SIZE=${process.env["UV_THREADPOOL_SIZE"] ?? "4 (default)"}`)
})

Effect.runPromise(main).catch((e: unknown) => {
  log(String(e))
  process.exit(1)
})
