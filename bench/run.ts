/**
 * The server benchmark (issues 8 and 13): our server against a C floor, in one run.
 *
 *   node --conditions=@sysproxy/source bench/run.ts [--quick] [--no-scale] [--no-stuck]
 *     [--no-tail] [--seconds S] [--tail-seconds T]
 *
 * Compiles the C load generator (bench/c/loadgen.c on interop/c/rumpsp.c),
 * the floor (bench/c/floor.c), the idle-connection holder (bench/c/idle.c)
 * and the signal-wait client (interop/c/sigwait.c) with gcc into a
 * temporary directory, starts our server (interop/launch-server.ts) and the
 * floor on unix sockets, runs every mode at 1x1, 4x1 and 32x8 clients x
 * threads against both (floor first, then ours, cell by cell; each cell
 * reports p50 / p99 / p99.9, the longest call and the calls over 1, 5 and
 * 10 ms), then getpid, write4k and sysctl 1x1 again with the load
 * generator and the server pinned to one CPU (taskset, where it exists: on
 * a small VM a 1x1 round trip depends mostly on where the scheduler puts
 * the two processes), then the tail runs (getpid and sysctl 1x1 for T seconds, each on
 * a fresh server preloaded with bench/gc-probe.ts: the same figures plus
 * the server's GC pauses and its heap after a full collection before and
 * after; getpid once more with node --max-semi-space-size=4, to show what
 * that flag does to the pauses), the signal-wait scenario for T seconds (the longest call made
 * from a SIGALRM handler, and how often a real librumpclient would have
 * hung), the scale runs (1,000 and 10,000 idle clients held: server RSS per
 * client, getpid p99 of one active client), then bench/stuck-reader.ts (an
 * active client beside clients that stop reading while the kernel copies
 * out to them). Writes bench-results/latest.json and prints markdown tables
 * and the targets.
 *
 * --quick: ~2 s per run, 32x8 only for getpid and sysctl, 10 s tail runs.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { cpus, loadavg, tmpdir, totalmem } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import {
  canPin,
  gcc,
  type GcFigures,
  type LoadResult,
  loadgen as runLoadgen,
  log,
  pin,
  type ReadyProcess,
  root,
  run,
  serverGc,
  serverStats,
  startReady,
  startServer as launchServer,
  stop
} from "./support.ts"

const { values } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    "no-scale": { type: "boolean", default: false },
    "no-stuck": { type: "boolean", default: false },
    "no-tail": { type: "boolean", default: false },
    seconds: { type: "string" },
    "tail-seconds": { type: "string" }
  }
})
const quick = values.quick === true
const seconds = values.seconds !== undefined ? Number(values.seconds) : quick ? 2 : 5
const tailSeconds = values["tail-seconds"] !== undefined ? Number(values["tail-seconds"]) : quick ? 10 : 60
/**
 * How long a tail run's server is warmed up with its own load first: V8's
 * compilers settle after ~15 s of one client (measured with --trace-opt:
 * 38 optimizations and 20 deoptimizations between 5 and 10 s, 5 and 2
 * between 10 and 15 s, none after), and their bursts, on a background
 * thread of a 2-CPU machine, are stalls of several ms for the client.
 */
const tailWarmup = quick ? 5 : 15

interface Cell {
  readonly mode: string
  readonly clients: number
  readonly threads: number
  readonly floor: LoadResult
  readonly server: LoadResult
  readonly ratio: { readonly throughput: number; readonly p50: number; readonly p99: number }
}

interface ScaleResult {
  readonly idle: number
  readonly held: number
  readonly failed: number
  readonly rssBeforeKiB: number
  readonly rssAfterKiB: number
  /** RSS growth per held client, both figures after forced collections. */
  readonly kibPerClient: number
  /** Growth of the JS heap in use plus external memory, per held client. */
  readonly liveKibPerClient: number
  readonly baseline: LoadResult
  readonly active: LoadResult
  readonly p99Ratio: number
}

/** The figures bench/stuck-reader.ts prints (the part the report shows). */
interface StuckFigures {
  readonly p50_us: number
  readonly p99_us: number
  readonly p99_ratio: number
}
interface StuckReaderResult {
  readonly baseline: StuckFigures
  readonly paced: StuckFigures & { readonly stuckReaderDropped: boolean }
  readonly dropped: {
    readonly flood: StuckFigures & { readonly stuckReadersDropped: number; readonly meanMsToDrop: number }
    readonly spaced: StuckFigures & { readonly stuckReadersDropped: number; readonly meanMsToDrop: number }
  }
}

/** A long single-client run on a fresh server: what a client feels, and what the collector did meanwhile. */
interface TailResult {
  readonly mode: string
  /** Node flags the server ran with beyond the bench's own (none: as shipped). */
  readonly flags: string
  readonly load: LoadResult
  readonly gc: GcFigures
  /** Heap in use after three forced collections, before and after the run (MiB). */
  readonly heapBeforeMiB: number
  readonly heapAfterMiB: number
}

/** interop/c/sigwait.c's report. */
interface SignalWaitResult {
  readonly seconds: number
  readonly calls: number
  readonly nested: number
  readonly ticks: number
  readonly nestedLongestUs: number
  readonly nestedOver1ms: number
  readonly nestedOver2ms: number
  readonly nestedOver10ms: number
  readonly hangs: number
  readonly mainLongestUs: number
  /** The server meanwhile (bench/gc-probe.ts). */
  readonly gc: GcFigures
}

interface Target {
  readonly target: string
  readonly measured: string
  readonly met: boolean | null
}

// ---- build ------------------------------------------------------------------

const dir = mkdtempSync(join(tmpdir(), "sysproxy-bench-"))
const bin = (name: string) => join(dir, name)
gcc(bin("loadgen"), "bench/c/loadgen.c", "interop/c/rumpsp.c")
gcc(bin("floor"), "bench/c/floor.c")
gcc(bin("idle"), "bench/c/idle.c")
gcc(bin("sigwait"), "interop/c/sigwait.c")

// ---- processes ----------------------------------------------------------------

const children: Array<ChildProcess> = []

const loadgen = (url: string, mode: string, clients: number, threads: number, secs: number, cpu?: number) =>
  runLoadgen(bin("loadgen"), url, mode, clients, threads, secs, cpu)

const cleanup = () => {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) c.kill("SIGTERM")
  }
  rmSync(dir, { recursive: true, force: true })
}
process.once("SIGINT", () => {
  cleanup()
  process.exit(130)
})

// ---- the matrix -------------------------------------------------------------------

const modes = ["getpid", "write4k", "writefile4k", "write64k", "read4k", "sysctl", "connect"] as const

/** What the two sides do for a mode beyond answering (the floor does no kernel work at all). */
const workNotes: Partial<Record<(typeof modes)[number], string>> = {
  write4k: "ours: /dev/null, no COPYIN (as NetBSD); floor: one COPYIN",
  writefile4k: "ours: a tmpfs file; floor: one COPYIN, no file",
  sysctl: "floor: no work (no copies)"
}
const shapes: Array<readonly [number, number]> = [[1, 1], [4, 1], [32, 8]]
const heavyAtQuick = new Set(["getpid", "sysctl"])

const fmt = (n: number, digits = 1) => Number.isFinite(n) ? n.toFixed(digits) : "-"
const ratio = (a: number, b: number) => (b > 0 ? a / b : NaN)

const main = async () => {
  const floorUrl = `unix://${join(dir, "floor.sock")}`
  const serverUrl = `unix://${join(dir, "sp.sock")}`
  const tracked = async (started: Promise<ReadyProcess>) => {
    const { child } = await started
    children.push(child)
    return child
  }
  const floor = await tracked(startReady(bin("floor"), [floorUrl]))
  const startServer = (url: string) => tracked(launchServer(url, ["--max-clients", "100000"]))
  const server = await startServer(serverUrl)
  const serverPid = server.pid ?? 0
  log(`bench: floor pid ${floor.pid}, server pid ${serverPid}, ${seconds} s per run${quick ? " (quick)" : ""}`)

  // warm the server up (JIT) before measuring
  await loadgen(serverUrl, "getpid", 2, 2, 1)
  await loadgen(serverUrl, "write4k", 2, 1, 0.5)

  const cells: Array<Cell> = []
  for (const mode of modes) {
    for (const [clients, threads] of shapes) {
      if (quick && clients === 32 && !heavyAtQuick.has(mode)) continue
      const f = await loadgen(floorUrl, mode, clients, threads, seconds)
      const s = await loadgen(serverUrl, mode, clients, threads, seconds)
      const cell: Cell = {
        mode,
        clients,
        threads,
        floor: f,
        server: s,
        ratio: {
          throughput: ratio(s.ops_per_s, f.ops_per_s),
          p50: ratio(s.p50_us, f.p50_us),
          p99: ratio(s.p99_us, f.p99_us)
        }
      }
      cells.push(cell)
      log(
        `bench: ${mode} ${clients}x${threads}: server ${fmt(s.ops_per_s, 0)} ops/s p50 ${s.p50_us} us, floor ${
          fmt(f.ops_per_s, 0)
        } ops/s p50 ${f.p50_us} us`
      )
    }
  }

  // ---- 1x1 on one CPU ---------------------------------------------------------------
  // A 1x1 round trip on a 2-vCPU VM depends mostly on where the scheduler
  // puts the two processes: on one CPU a wakeup is a context switch, across
  // CPUs it is an interrupt to a halted vCPU (tens of us). Unpinned runs
  // land either way, so these cells are also run with the load generator
  // and the server (ours or the floor) pinned to CPU 0: what is left is the
  // CPU each side spends per call.
  const pinned: Array<Cell> = []
  if (canPin() && cpus().length > 1) {
    const all = `0-${cpus().length - 1}`
    for (const mode of ["getpid", "write4k", "sysctl"] as const) {
      pin(floor.pid ?? 0, "0")
      const f = await loadgen(floorUrl, mode, 1, 1, seconds, 0)
      pin(floor.pid ?? 0, all)
      pin(serverPid, "0")
      const s = await loadgen(serverUrl, mode, 1, 1, seconds, 0)
      pin(serverPid, all)
      pinned.push({
        mode,
        clients: 1,
        threads: 1,
        floor: f,
        server: s,
        ratio: { throughput: ratio(s.ops_per_s, f.ops_per_s), p50: ratio(s.p50_us, f.p50_us), p99: ratio(s.p99_us, f.p99_us) }
      })
      log(`bench: pinned ${mode} 1x1: server ${fmt(s.ops_per_s, 0)} ops/s p50 ${s.p50_us} us, floor ${fmt(f.ops_per_s, 0)} ops/s p50 ${f.p50_us} us`)
    }
  }

  await stop(server)

  // ---- tail runs: one client for a long time, and the collector meanwhile ----------
  // Each on a fresh server with --expose-gc (heap after forced collections)
  // and bench/gc-probe.ts (the GC pauses of exactly the measured window).
  const tails: Array<TailResult> = []
  let signalWait: SignalWaitResult | undefined
  if (values["no-tail"] !== true) {
    const gcFlags = ["--expose-gc", "--import", join(root, "bench/gc-probe.ts")]
    const heapMiB = async (p: ReadyProcess) =>
      (await serverStats<{ readonly memory: NodeJS.MemoryUsage }>(p)).memory.heapUsed / 2 ** 20
    // as shipped, then getpid once more with a young generation capped at 4 MiB
    // a half-space: scavenges shorter and eight times as often, and what
    // survives two of them promoted sooner (see BENCHMARKS.md)
    const runs = [["getpid", []], ["sysctl", []], ["getpid", ["--max-semi-space-size=4"]]] as const
    for (const [mode, flags] of runs) {
      const url = `unix://${join(dir, `tail-${mode}-${flags.length}.sock`)}`
      const fresh = await launchServer(url, ["--max-clients", "100000"], [...gcFlags, ...flags])
      children.push(fresh.child)
      await loadgen(url, mode, 1, 1, tailWarmup)
      const heapBeforeMiB = await heapMiB(fresh)
      await serverGc(fresh)
      const load = await loadgen(url, mode, 1, 1, tailSeconds)
      const gc = await serverGc(fresh)
      const heapAfterMiB = await heapMiB(fresh)
      await stop(fresh.child)
      tails.push({ mode, flags: flags.join(" "), load, gc, heapBeforeMiB, heapAfterMiB })
      log(`bench: tail ${mode} 1x1 ${tailSeconds} s ${flags.join(" ")}: p50 ${load.p50_us} us, p99.9 ${load.p999_us} us, max ${load.max_us} us, over 5 ms ${load.over_5ms}; GC ${JSON.stringify(gc)}`)
    }

    // the real client's way of waiting, a sysctl from a SIGALRM handler every 10 ms
    const url = `unix://${join(dir, "sigwait.sock")}`
    const fresh = await launchServer(url, ["--max-clients", "100000"], gcFlags)
    children.push(fresh.child)
    await loadgen(url, "sysctl", 1, 1, tailWarmup)
    await serverGc(fresh)
    const out = await run(bin("sigwait"), [String(tailSeconds)], { RUMP_SERVER: url }, (tailSeconds + 120) * 1000)
    const sigGc = await serverGc(fresh)
    await stop(fresh.child)
    const m = /sigwait ok: (\d+) calls, (\d+) nested in (\d+) SIGALRM handler runs; nested longest ([\d.]+) us, over 1 ms (\d+), over 2 ms (\d+), over 10 ms (\d+); hangs (\d+); main longest ([\d.]+) us/.exec(out)
    if (m === null) throw new Error(`sigwait: no report in ${JSON.stringify(out)}`)
    const n = m.slice(1).map(Number)
    signalWait = {
      seconds: tailSeconds,
      calls: n[0]!,
      nested: n[1]!,
      ticks: n[2]!,
      nestedLongestUs: n[3]!,
      nestedOver1ms: n[4]!,
      nestedOver2ms: n[5]!,
      nestedOver10ms: n[6]!,
      hangs: n[7]!,
      mainLongestUs: n[8]!,
      gc: sigGc
    }
    log(`bench: signal wait ${tailSeconds} s: ${out.trim()}`)
  }

  // ---- scale: idle clients held, one active client -------------------------------
  // Each size on a fresh server, so the growth is not hidden by heap pages
  // the matrix (or the previous size) left committed; the server runs with
  // --expose-gc and collects before each STATS, so garbage of the warm-up
  // is not counted either way.
  const scale: Array<ScaleResult> = []
  if (values["no-scale"] !== true) {
    for (const idle of [1000, 10000]) {
      const scaleUrl = `unix://${join(dir, `scale-${idle}.sock`)}`
      const fresh = await launchServer(scaleUrl, ["--max-clients", "100000"], ["--expose-gc"])
      children.push(fresh.child)
      const memory = async () => (await serverStats<{ readonly memory: NodeJS.MemoryUsage }>(fresh)).memory
      // warm up (JIT, first allocations) as long as a measured run
      await loadgen(scaleUrl, "getpid", 2, 2, 1)
      await loadgen(scaleUrl, "getpid", 1, 1, seconds)
      const baseline = await loadgen(scaleUrl, "getpid", 1, 1, seconds)
      const before = await memory()
      const holder = spawn(bin("idle"), [String(idle)], {
        cwd: root,
        env: { ...process.env, RUMP_SERVER: scaleUrl },
        stdio: ["pipe", "pipe", "inherit"]
      })
      children.push(holder)
      const held = await new Promise<string>((ok, fail) => {
        let out = ""
        holder.stdout.on("data", (c: Buffer) => {
          out += c.toString()
          if (out.includes("\n")) ok(out.trim())
        })
        holder.once("exit", (code) => fail(new Error(`idle exited ${code}`)))
      })
      const [, okText, failedText] = held.split(" ")
      const ok = Number(okText ?? NaN)
      const failed = Number(failedText ?? NaN)
      await new Promise((r) => setTimeout(r, 1000))
      const after = await memory()
      const active = await loadgen(scaleUrl, "getpid", 1, 1, seconds)
      holder.stdin.end()
      await new Promise((r) => holder.once("exit", r))
      await stop(fresh.child)
      const live = (m: NodeJS.MemoryUsage) => m.heapUsed + m.external
      const result: ScaleResult = {
        idle,
        held: ok,
        failed,
        rssBeforeKiB: before.rss / 1024,
        rssAfterKiB: after.rss / 1024,
        kibPerClient: (after.rss - before.rss) / 1024 / Math.max(1, ok),
        liveKibPerClient: (live(after) - live(before)) / 1024 / Math.max(1, ok),
        baseline,
        active,
        p99Ratio: ratio(active.p99_us, baseline.p99_us)
      }
      scale.push(result)
      log(
        `bench: ${idle} idle: ${ok} held, ${failed} failed, ${fmt(result.kibPerClient, 2)} KiB RSS (${
          fmt(result.liveKibPerClient, 2)
        } KiB live) each, getpid p99 ${active.p99_us} us vs ${baseline.p99_us} us`
      )
    }
  }

  // ---- a stuck reader beside an active client (bench/stuck-reader.ts) -------------
  let stuck: StuckReaderResult | undefined
  if (values["no-stuck"] !== true) {
    const out = await run(process.execPath, ["--conditions=@sysproxy/source", join(root, "bench/stuck-reader.ts"), "--seconds", String(seconds)], {}, (6 * seconds + 180) * 1000)
    stuck = JSON.parse(out.trim().split("\n").pop() ?? "") as StuckReaderResult
  }

  // ---- targets ---------------------------------------------------------------------
  // Issue 13's targets first (ratios to the floor of the same run), then issue 8's.
  const cell = (mode: string, c: number, t: number) => cells.find((x) => x.mode === mode && x.clients === c && x.threads === t)
  const targets: Array<Target> = []
  const add = (target: string, c: Cell | undefined, measure: (c: Cell) => [string, boolean]) => {
    if (c === undefined) targets.push({ target, measured: "not run", met: null })
    else {
      const [measured, met] = measure(c)
      targets.push({ target, measured, met })
    }
  }
  const g11 = cell("getpid", 1, 1)
  add("getpid 1x1: throughput >= 0.65 of the floor; p50 <= 1.5x the floor's", g11, (c) => [
    `${fmt(c.ratio.throughput, 2)}; ${fmt(c.ratio.p50, 2)}x`,
    c.ratio.throughput >= 0.65 && c.ratio.p50 <= 1.5
  ])
  add("getpid 4x1: throughput >= 0.40 of the floor", cell("getpid", 4, 1), (c) => [
    fmt(c.ratio.throughput, 2),
    c.ratio.throughput >= 0.4
  ])
  add("getpid 32x8: throughput >= 0.60 of the floor", cell("getpid", 32, 8), (c) => [
    fmt(c.ratio.throughput, 2),
    c.ratio.throughput >= 0.6
  ])
  add("write4k to /dev/null 1x1: as getpid (>= 0.65 of the floor's getpid throughput, p50 <= 1.5x its p50)", cell("write4k", 1, 1), (c) => {
    const t = ratio(c.server.ops_per_s, g11?.floor.ops_per_s ?? NaN)
    const p = ratio(c.server.p50_us, g11?.floor.p50_us ?? NaN)
    return [`${fmt(t, 2)}; ${fmt(p, 2)}x`, t >= 0.65 && p <= 1.5]
  })
  add("write4k to a tmpfs file 1x1: p50 <= 2.5x the floor's write4k p50", cell("writefile4k", 1, 1), (c) => {
    const p = ratio(c.server.p50_us, cell("write4k", 1, 1)?.floor.p50_us ?? NaN)
    return [`${fmt(p, 2)}x`, p <= 2.5]
  })
  add("read4k from /dev/zero 1x1: throughput >= 0.60 of the floor", cell("read4k", 1, 1), (c) => [
    fmt(c.ratio.throughput, 2),
    c.ratio.throughput >= 0.6
  ])
  add("sysctl kern.hostname 1x1: p50 <= 3x the floor's getpid p50", cell("sysctl", 1, 1), (c) => {
    const p = ratio(c.server.p50_us, g11?.floor.p50_us ?? NaN)
    return [`${fmt(p, 2)}x`, p <= 3]
  })
  for (const mode of ["getpid", "sysctl"]) {
    const t = tails.find((x) => x.mode === mode && x.flags === "")
    const target = `${tailSeconds} s ${mode} 1x1: max <= 3 ms; no call over 5 ms; p99.9 <= 4x p50`
    if (t === undefined) targets.push({ target, measured: "not run", met: null })
    else {
      const l = t.load
      const r = ratio(l.p999_us, l.p50_us)
      targets.push({
        target,
        measured: `max ${fmt(l.max_us / 1000, 2)} ms; ${l.over_5ms} over 5 ms; p99.9 ${fmt(r, 1)}x p50`,
        met: l.max_us <= 3000 && l.over_5ms === 0 && r <= 4
      })
    }
  }
  {
    const target = `GC over the ${tailSeconds} s runs: no pause over 1 ms; heap after a full GC back to its start (within 10%)`
    const shipped = tails.filter((t) => t.flags === "")
    if (shipped.length === 0) targets.push({ target, measured: "not run", met: null })
    else {
      const longest = Math.max(...shipped.flatMap((t) => Object.values(t.gc.kinds).map((k) => k.longestMs)))
      const over = shipped.reduce((n, t) => n + t.gc.over1ms, 0)
      const heaps = shipped.map((t) => `${fmt(t.heapBeforeMiB)} -> ${fmt(t.heapAfterMiB)} MiB`).join(", ")
      targets.push({
        target,
        measured: `longest ${fmt(longest, 2)} ms, ${over} over 1 ms; heap ${heaps}`,
        met: over === 0 && shipped.every((t) => t.heapAfterMiB <= t.heapBeforeMiB * 1.1)
      })
    }
  }
  {
    const target = `the signal scenario (sigwait): longest nested call under 2 ms over ${tailSeconds} s`
    targets.push(
      signalWait === undefined
        ? { target, measured: "not run", met: null }
        : {
          target,
          measured: `${fmt(signalWait.nestedLongestUs / 1000, 2)} ms (${signalWait.nested} nested calls, ${signalWait.hangs} would have hung)`,
          met: signalWait.nestedLongestUs < 2000 && signalWait.hangs === 0
        }
    )
  }
  // issue 8's
  add("getpid 32x8 p99 under 10x our 1x1 p99", cell("getpid", 32, 8), (c) => {
    const r = ratio(c.server.p99_us, g11?.server.p99_us ?? NaN)
    const rf = ratio(c.floor.p99_us, g11?.floor.p99_us ?? NaN)
    return [`${fmt(r, 1)}x (the floor: ${fmt(rf, 1)}x)`, r < 10]
  })
  add("write64k at least 200 MB/s (1x1)", cell("write64k", 1, 1), (c) => [
    `${fmt(c.server.mb_per_s, 0)} MB/s`,
    c.server.mb_per_s >= 200
  ])
  add("connect 4x1 at least 2,000/s, zero refusals", cell("connect", 4, 1), (c) => [
    `${fmt(c.server.ops_per_s, 0)}/s, ${c.server.refusals} refusals, ${c.server.errors} errors`,
    c.server.ops_per_s >= 2000 && c.server.refusals === 0
  ])
  const s10k = scale.find((s) => s.idle === 10000)
  targets.push(
    s10k === undefined
      ? { target: "10,000 idle clients: under 16 KiB each", measured: "not run", met: null }
      : {
        target: "10,000 idle clients: under 16 KiB each",
        measured: `${fmt(s10k.kibPerClient, 1)} KiB RSS, ${fmt(s10k.liveKibPerClient, 1)} KiB live heap (${s10k.held} held)`,
        met: s10k.held === 10000 && s10k.kibPerClient < 16
      },
    s10k === undefined
      ? { target: "10,000 idle: active getpid p99 within 2x", measured: "not run", met: null }
      : {
        target: "10,000 idle: active getpid p99 within 2x",
        measured: `${fmt(s10k.p99Ratio, 2)}x (${s10k.active.p99_us} vs ${s10k.baseline.p99_us} us)`,
        met: s10k.p99Ratio <= 2
      }
  )

  const stuckTarget = "stuck reader: active getpid p99 within 2x (paced / dropped every 500 ms)"
  targets.push(
    stuck === undefined
      ? { target: stuckTarget, measured: "not run", met: null }
      : {
        target: stuckTarget,
        measured: `${fmt(stuck.paced.p99_ratio, 2)}x / ${fmt(stuck.dropped.spaced.p99_ratio, 2)}x (a flood of them: ${
          fmt(stuck.dropped.flood.p99_ratio, 2)
        }x)`,
        met: stuck.paced.p99_ratio <= 2 && stuck.dropped.spaced.p99_ratio <= 2
      }
  )

  // ---- output ------------------------------------------------------------------------
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    cpus: `${cpus().length} x ${cpus()[0]?.model ?? "?"}`,
    memGiB: Math.round(totalmem() / 2 ** 30),
    quick,
    secondsPerRun: seconds,
    tailSeconds,
    /** The machine's load average (1, 5, 15 min) at the end: figures taken under load are noisy. */
    loadAverage: loadavg().map((x) => Number(x.toFixed(2)))
  }
  mkdirSync(join(root, "bench-results"), { recursive: true })
  writeFileSync(
    join(root, "bench-results/latest.json"),
    `${JSON.stringify({ meta, cells, pinned, tails, signalWait, scale, stuck, targets }, null, 2)}\n`
  )

  const lines: Array<string> = []
  /** A blank line, then a table's header row and its separator. */
  const heading = (header: string) => {
    const columns = header.split("|").length - 2
    lines.push("", header, `|${" --- |".repeat(columns)}`)
  }
  lines.push(
    `Node ${meta.node}, ${meta.cpus}, ${meta.date}${quick ? ", --quick" : ""}, ${seconds} s per run, ${tailSeconds} s tail runs, load average ${
      meta.loadAverage.join(" ")
    }`
  )
  heading("| mode | c x t | ops/s (ours / floor) | ratio | p50 us (ours / floor) | ratio | p99 us (ours / floor) | p99.9 us (ours / floor) | max us (ours / floor) | calls over 1 / 5 / 10 ms (ours; floor) | errors | notes |")
  const over = (l: LoadResult) => `${l.over_1ms} / ${l.over_5ms} / ${l.over_10ms}`
  const gcKinds = (g: GcFigures) =>
    Object.entries(g.kinds).map(([k, v]) => `${k} ${v.count} (${fmt(v.medianMs, 2)}, ${fmt(v.longestMs, 2)})`).join("; ") || "none"
  // the longest stall with the main thread's CPU time in it: little CPU is the machine not running the server
  const stallsOf = (g: GcFigures) => {
    const top = g.stalls?.top[0]
    return `${g.stalls?.count ?? "-"} (${g.stalls?.busy ?? "-"}) | ${top === undefined ? "-" : `${fmt(top.gapMs)} (${fmt(top.cpuMs)})${top.gc ? ", a GC in it" : ""}`}`
  }
  for (const c of cells) {
    const notes = [
      workNotes[c.mode as (typeof modes)[number]],
      c.mode.startsWith("write") || c.mode === "read4k"
        ? `${fmt(c.server.mb_per_s, 0)} / ${fmt(c.floor.mb_per_s, 0)} MB/s`
        : c.mode === "connect"
        ? `refusals ${c.server.refusals} / ${c.floor.refusals}`
        : undefined
    ].filter((n) => n !== undefined).join("; ")
    lines.push(
      `| ${c.mode} | ${c.clients}x${c.threads} | ${fmt(c.server.ops_per_s, 0)} / ${fmt(c.floor.ops_per_s, 0)} | ${
        fmt(c.ratio.throughput, 2)
      } | ${fmt(c.server.p50_us)} / ${fmt(c.floor.p50_us)} | ${fmt(c.ratio.p50, 2)} | ${fmt(c.server.p99_us)} / ${
        fmt(c.floor.p99_us)
      } | ${fmt(c.server.p999_us)} / ${fmt(c.floor.p999_us)} | ${fmt(c.server.max_us, 0)} / ${fmt(c.floor.max_us, 0)} | ${
        over(c.server)
      }; ${over(c.floor)} | ${c.server.errors} / ${c.floor.errors} | ${notes} |`
    )
  }
  if (pinned.length > 0) {
    heading("| 1x1 on CPU 0 (both sides pinned) | ops/s (ours / floor) | ratio | p50 us (ours / floor) | ratio | p99.9 us (ours / floor) | max us (ours / floor) |")
    for (const c of pinned) {
      lines.push(
        `| ${c.mode} | ${fmt(c.server.ops_per_s, 0)} / ${fmt(c.floor.ops_per_s, 0)} | ${fmt(c.ratio.throughput, 2)} | ${fmt(c.server.p50_us)} / ${
          fmt(c.floor.p50_us)
        } | ${fmt(c.ratio.p50, 2)} | ${fmt(c.server.p999_us)} / ${fmt(c.floor.p999_us)} | ${fmt(c.server.max_us, 0)} / ${fmt(c.floor.max_us, 0)} |`
      )
    }
  }
  if (tails.length > 0) {
    heading(
      "| tail run (1x1, fresh server) | calls | p50 us | p99 us | p99.9 us | max us | over 1 / 5 / 10 ms | GC pauses: count (median, longest ms) per kind | pauses over 1 ms | old space B per call | heap after full GC, before -> after (MiB) | event-loop stalls over 2 ms (server busy) | longest stall: ms (main thread CPU ms) |"
    )
    for (const t of tails) {
      const l = t.load
      lines.push(
        `| ${t.mode} ${tailSeconds} s${t.flags === "" ? "" : `, node ${t.flags}`} | ${l.ops} | ${fmt(l.p50_us)} | ${fmt(l.p99_us)} | ${fmt(l.p999_us)} | ${fmt(l.max_us, 0)} | ${
          over(l)
        } | ${gcKinds(t.gc)} | ${t.gc.over1ms} | ${fmt((t.gc.oldBytes ?? NaN) / l.ops)} | ${fmt(t.heapBeforeMiB)} -> ${fmt(t.heapAfterMiB)} | ${stallsOf(t.gc)} |`
      )
    }
  }
  if (signalWait !== undefined) {
    const w = signalWait
    heading(
      "| signal wait (sigwait, SIGALRM every 10 ms) | main-loop calls | handler runs | longest nested call us | nested over 1 / 2 / 10 ms | would have hung | longest main-loop call us | the server's GC pauses: count (median, longest ms) | event-loop stalls over 2 ms (server busy) | longest stall: ms (main thread CPU ms) |"
    )
    lines.push(
      `| ${w.seconds} s | ${w.calls} | ${w.ticks} | ${fmt(w.nestedLongestUs)} | ${w.nestedOver1ms} / ${w.nestedOver2ms} / ${w.nestedOver10ms} | ${w.hangs} | ${
        fmt(w.mainLongestUs)
      } | ${gcKinds(w.gc)} | ${stallsOf(w.gc)} |`
    )
  }
  if (scale.length > 0) {
    heading("| idle clients | held | server RSS before / after (MiB) | RSS KiB per client | live heap KiB per client | getpid p99 us (no idle / idle) | ratio |")
    for (const s of scale) {
      lines.push(
        `| ${s.idle} | ${s.held} (${s.failed} failed) | ${fmt(s.rssBeforeKiB / 1024)} / ${fmt(s.rssAfterKiB / 1024)} | ${
          fmt(s.kibPerClient, 2)
        } | ${fmt(s.liveKibPerClient, 2)} | ${fmt(s.baseline.p99_us)} / ${fmt(s.active.p99_us)} | ${fmt(s.p99Ratio, 2)} |`
      )
    }
  }
  if (stuck !== undefined) {
    heading("| active getpid 1x1 beside | p50 us | p99 us | p99 / alone | stuck readers dropped (mean ms to drop) |")
    lines.push(`| nothing (alone) | ${fmt(stuck.baseline.p50_us)} | ${fmt(stuck.baseline.p99_us)} | 1.00 | - |`)
    lines.push(`| one paced stuck reader | ${fmt(stuck.paced.p50_us)} | ${fmt(stuck.paced.p99_us)} | ${fmt(stuck.paced.p99_ratio, 2)} | ${stuck.paced.stuckReaderDropped ? "dropped (wrong)" : "none, as it should"} |`)
    for (const [name, d] of [["stuck readers, one every 500 ms", stuck.dropped.spaced], ["a flood of stuck readers", stuck.dropped.flood]] as const) {
      lines.push(`| ${name} | ${fmt(d.p50_us)} | ${fmt(d.p99_us)} | ${fmt(d.p99_ratio, 2)} | ${d.stuckReadersDropped} (${d.meanMsToDrop}) |`)
    }
  }
  heading("| target | measured | met |")
  for (const t of targets) lines.push(`| ${t.target} | ${t.measured} | ${t.met === null ? "-" : t.met ? "yes" : "no"} |`)
  process.stdout.write(`${lines.join("\n")}\n`)
}

main().then(
  () => {
    cleanup()
    process.exit(0)
  },
  (e: unknown) => {
    log(`bench: ${e instanceof Error ? e.stack ?? e.message : String(e)}`)
    cleanup()
    process.exit(1)
  }
)
