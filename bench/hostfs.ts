/**
 * The host file system's bench (issue 18's targets), from outside, on the
 * server program as installed (`sysproxy-server`: the bundle on the pinned
 * Node; `npm run bench:hostfs` bundles first) and C clients
 * (bench/c/hostcopy.c, bench/c/loadgen.c):
 *
 * - ready: from spawning `sysproxy-server --root TREE` (TREE: 12,500 files,
 *   500 MB, in 520 directories) until it writes its URL to --ready-fd; the
 *   same server without --root beside it, for scale.
 * - memory: the server's resident memory idle, then after a walk of the
 *   whole tree through the kernel (every directory read, every entry
 *   lstat'ed), with the default vnode cache: 1 s after it, and once the
 *   server has been quiet past its --idle-gc (5 s) and given back what the
 *   walk left; then 1 s after a second walk.
 * - copies: a COPY_MIB MiB file written into the host root through the
 *   kernel, 64 KiB a write, then fsynced, and read back out, MB/s (the
 *   writes' rate; the fsync's seconds apart); the server's resident memory
 *   sampled throughout. Beside them in the same run: loadgen writefile64k
 *   (64 KiB pwrites into a tmpfs file: the issue's yardstick, the same bytes
 *   copied in; loadgen write64k goes to /dev/null, which takes no COPYIN, as
 *   NetBSD's) and hostcopy's 64 KiB writes into a tmpfs file, on a server
 *   without --root. Each the median of RUNS runs, alternated (the machine
 *   may be shared: one run says little).
 * - latency: getpid p50/p99 of another client of the --root server, idle and
 *   while a copy runs; beside them, the same on the server without --root
 *   while loadgen writefile64k runs (what any 64 KiB write load costs getpid).
 *
 * A JSON line and a markdown table on stdout, with the load average before
 * and after (the machine may be shared). `-- --quick`: a 256 MiB copy and
 * shorter loads.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { gcc, loadgen, log, root, run } from "./support.ts"

const quick = process.argv.includes("--quick")
const COPY_MIB = quick ? 256 : 1024
const LOAD_SECS = quick ? 2 : 5
const READY_RUNS = quick ? 3 : 7
const RUNS = quick ? 1 : 3
/** The tree: TOP directories of SUB directories of FILES files of FILE_BYTES (sparse). */
const TOP = 20
const SUB = 25
const FILES = 25
const FILE_BYTES = 40_000

const SERVER = join(root, "node_modules", ".bin", "sysproxy-server")

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** A server on `url` with `args`; resolves once it wrote its URL to descriptor 3, with the ms that took. */
const startServer = (url: string, args: ReadonlyArray<string>) =>
  new Promise<{ readonly child: ChildProcess; readonly ms: number }>((ok, fail) => {
    const start = performance.now()
    const child = spawn(SERVER, ["--log-level", "warn", "--ready-fd", "3", ...args, url], {
      stdio: ["ignore", "ignore", "inherit", "pipe"]
    })
    child.stdio[3]!.once("data", () => ok({ child, ms: performance.now() - start }))
    child.once("exit", (code) => fail(new Error(`sysproxy-server exited (${code}) before it was ready`)))
  })

const stop = (child: ChildProcess) =>
  new Promise<void>((ok) => {
    if (child.exitCode !== null || child.signalCode !== null) return ok()
    child.once("exit", () => ok())
    child.kill("SIGTERM")
  })

const rssMiB = (pid: number): number => {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))
  return m === null ? 0 : Number(m[1]) / 1024
}

const settle = (ms: number) => new Promise((ok) => setTimeout(ok, ms))

/** Runs `work` while sampling `pid`'s resident memory every 50 ms: its result and the lowest and highest MiB seen. */
const sampled = async <A>(pid: number, work: () => Promise<A>) => {
  let low = rssMiB(pid)
  let high = low
  const timer = setInterval(() => {
    const now = rssMiB(pid)
    low = Math.min(low, now)
    high = Math.max(high, now)
  }, 50)
  try {
    return { result: await work(), lowMiB: low, highMiB: high }
  } finally {
    clearInterval(timer)
  }
}

interface CopyResult {
  readonly mode: string
  readonly bytes?: number
  readonly seconds: number
  readonly mb_per_s?: number
  readonly fsync_seconds?: number
  readonly entries?: number
  readonly dirs?: number
}

const hostcopy = async (bin: string, url: string, mode: string, path: string, mib: number) =>
  JSON.parse((await run(bin, [mode, path, String(mib)], { RUMP_SERVER: url }, 600_000)).trim()) as CopyResult

/** The tree: 12,500 sparse files of 40,000 bytes (500 MB apparent) in 520 directories. */
const makeTree = (dir: string) => {
  for (let t = 0; t < TOP; t++) {
    for (let s = 0; s < SUB; s++) {
      const sub = join(dir, `top${t}`, `sub${s}`)
      mkdirSync(sub, { recursive: true })
      for (let f = 0; f < FILES; f++) {
        const fd = openSync(join(sub, `file${f}.bin`), "w")
        ftruncateSync(fd, FILE_BYTES)
        closeSync(fd)
      }
    }
  }
  return { files: TOP * SUB * FILES, dirs: TOP * SUB + TOP, bytes: TOP * SUB * FILES * FILE_BYTES }
}

const main = async () => {
  const loadBefore = loadavg()
  const work = mkdtempSync(join(tmpdir(), "sp-bench-hostfs-"))
  const results: Record<string, unknown> = { date: new Date().toISOString(), cpus: cpus().length, loadBefore, copyMiB: COPY_MIB }
  const children: Array<ChildProcess> = []
  try {
    const hostcopyBin = join(work, "hostcopy")
    const loadgenBin = join(work, "loadgen")
    gcc(hostcopyBin, "bench/c/hostcopy.c", "interop/c/rumpsp.c")
    gcc(loadgenBin, "bench/c/loadgen.c", "interop/c/rumpsp.c")
    const tree = join(work, "tree")
    const shape = makeTree(tree)
    results.tree = shape
    log(`tree: ${JSON.stringify(shape)}`)

    // ---- ready ----
    const readyRoot: Array<number> = []
    const readyTmpfs: Array<number> = []
    for (let i = 0; i < READY_RUNS + 1; i++) {
      const a = await startServer(`unix://${join(work, `ready-root-${i}.sock`)}`, ["--root", tree])
      await stop(a.child)
      const b = await startServer(`unix://${join(work, `ready-tmpfs-${i}.sock`)}`, [])
      await stop(b.child)
      // the first of each warms the disk cache and the compile cache
      if (i > 0) {
        readyRoot.push(a.ms)
        readyTmpfs.push(b.ms)
      }
    }
    results.readyMs = { root: median(readyRoot), tmpfs: median(readyTmpfs), rootMax: Math.max(...readyRoot) }
    log(`ready: ${JSON.stringify(results.readyMs)}`)

    // ---- the --root server: memory across a whole walk ----
    const rootUrl = `unix://${join(work, "root.sock")}`
    const server = await startServer(rootUrl, ["--root", tree])
    children.push(server.child)
    const pid = server.child.pid!
    await settle(1000)
    const idleMiB = rssMiB(pid)
    const walk = await hostcopy(hostcopyBin, rootUrl, "walk", "/", 0)
    await settle(1000)
    const walkedMiB = rssMiB(pid)
    // quiet past --idle-gc's 5 s: the heap the walk grew is given back
    await settle(6000)
    const quietMiB = rssMiB(pid)
    // and once more: what is left is what the walk holds, not what the heap grew to the first time
    await hostcopy(hostcopyBin, rootUrl, "walk", "/", 0)
    await settle(1000)
    const againMiB = rssMiB(pid)
    results.walk = {
      entries: walk.entries,
      dirs: walk.dirs,
      seconds: walk.seconds,
      idleMiB,
      afterMiB: walkedMiB,
      growthMiB: walkedMiB - idleMiB,
      afterQuietMiB: quietMiB,
      quietGrowthMiB: quietMiB - idleMiB,
      afterSecondMiB: againMiB
    }
    log(`walk: ${JSON.stringify(results.walk)}`)

    // ---- copies in and out of the host root, and tmpfs figures of the same run (a server without --root), alternated ----
    const tmpfsUrl = `unix://${join(work, "tmpfs.sock")}`
    const tmpfsServer = await startServer(tmpfsUrl, [])
    children.push(tmpfsServer.child)
    const ins: Array<Awaited<ReturnType<typeof sampled<CopyResult>>>> = []
    const outs: Array<Awaited<ReturnType<typeof sampled<CopyResult>>>> = []
    const writefile64ks: Array<number> = []
    const tmpfsFiles: Array<number> = []
    for (let i = 0; i < RUNS; i++) {
      writefile64ks.push((await loadgen(loadgenBin, tmpfsUrl, "writefile64k", 1, 1, LOAD_SECS)).mb_per_s)
      tmpfsFiles.push((await hostcopy(hostcopyBin, tmpfsUrl, "cycle", "/tmp/cycle", 64)).mb_per_s ?? 0)
      ins.push(await sampled(pid, () => hostcopy(hostcopyBin, rootUrl, "in", "/big", COPY_MIB)))
      outs.push(await sampled(pid, () => hostcopy(hostcopyBin, rootUrl, "out", "/big", COPY_MIB)))
    }
    const rate = (r: { readonly result: CopyResult }) => r.result.mb_per_s ?? 0
    const writefile64k = median(writefile64ks)
    const tmpfsFile = median(tmpfsFiles)
    const copyIn = median(ins.map(rate))
    const copyOut = median(outs.map(rate))
    results.copy = {
      inMbPerS: copyIn,
      outMbPerS: copyOut,
      runs: { in: ins.map(rate), out: outs.map(rate), writefile64k: writefile64ks, tmpfsFile: tmpfsFiles },
      fsyncSeconds: ins.map((r) => r.result.fsync_seconds),
      loadgenWritefile64kMbPerS: writefile64k,
      tmpfsFileMbPerS: tmpfsFile,
      inVsWritefile64k: copyIn / writefile64k,
      inVsTmpfsFile: copyIn / tmpfsFile,
      outVsWritefile64k: copyOut / writefile64k,
      rssInMiB: { low: Math.min(...ins.map((r) => r.lowMiB)), high: Math.max(...ins.map((r) => r.highMiB)) },
      rssOutMiB: { low: Math.min(...outs.map((r) => r.lowMiB)), high: Math.max(...outs.map((r) => r.highMiB)) }
    }
    log(`copies: ${JSON.stringify(results.copy)}`)

    // ---- getpid of another client of the tmpfs server, idle and during writefile64k ----
    const tmpfsIdle = await loadgen(loadgenBin, tmpfsUrl, "getpid", 1, 1, LOAD_SECS)
    const writing = loadgen(loadgenBin, tmpfsUrl, "writefile64k", 1, 1, LOAD_SECS + 1)
    await settle(300)
    const tmpfsBusy = await loadgen(loadgenBin, tmpfsUrl, "getpid", 1, 1, LOAD_SECS)
    await writing
    await stop(tmpfsServer.child)

    // ---- getpid of another client, idle and during a copy ----
    const idle = await loadgen(loadgenBin, rootUrl, "getpid", 1, 1, LOAD_SECS)
    const copying = hostcopy(hostcopyBin, rootUrl, "in", "/big2", COPY_MIB)
    await settle(300)
    const busy = await loadgen(loadgenBin, rootUrl, "getpid", 1, 1, LOAD_SECS)
    await copying
    results.getpid = {
      idle: { p50Us: idle.p50_us, p99Us: idle.p99_us, opsPerS: idle.ops_per_s },
      duringCopy: { p50Us: busy.p50_us, p99Us: busy.p99_us, opsPerS: busy.ops_per_s },
      p99Ratio: busy.p99_us / idle.p99_us,
      tmpfsIdle: { p50Us: tmpfsIdle.p50_us, p99Us: tmpfsIdle.p99_us },
      tmpfsDuringWritefile64k: { p50Us: tmpfsBusy.p50_us, p99Us: tmpfsBusy.p99_us },
      tmpfsP99Ratio: tmpfsBusy.p99_us / tmpfsIdle.p99_us
    }
    log(`getpid: ${JSON.stringify(results.getpid)}`)
  } finally {
    for (const c of children) await stop(c)
    rmSync(work, { recursive: true, force: true })
  }
  results.loadAfter = loadavg()
  process.stdout.write(`${JSON.stringify(results)}\n`)

  const f = (n: number | undefined, digits = 0) => (n ?? 0).toFixed(digits)
  const r = results as {
    readyMs: { root: number; tmpfs: number; rootMax: number }
    walk: {
      entries: number
      seconds: number
      idleMiB: number
      afterMiB: number
      growthMiB: number
      afterQuietMiB: number
      quietGrowthMiB: number
      afterSecondMiB: number
    }
    copy: {
      inMbPerS: number
      outMbPerS: number
      loadgenWritefile64kMbPerS: number
      tmpfsFileMbPerS: number
      inVsWritefile64k: number
      inVsTmpfsFile: number
      rssInMiB: { low: number; high: number }
      rssOutMiB: { low: number; high: number }
    }
    getpid: {
      idle: { p50Us: number; p99Us: number }
      duringCopy: { p50Us: number; p99Us: number }
      p99Ratio: number
      tmpfsIdle: { p50Us: number; p99Us: number }
      tmpfsDuringWritefile64k: { p50Us: number; p99Us: number }
      tmpfsP99Ratio: number
    }
  }
  const lines = [
    "| measurement | figure | target |",
    "| --- | --- | --- |",
    `| --root on 12,500 files / 500 MB: ready (median; max) | ${f(r.readyMs.root)} ms; ${f(r.readyMs.rootMax)} ms (tmpfs root ${f(r.readyMs.tmpfs)} ms) | < 1 s |`,
    `| RSS idle → 1 s after a walk of ${r.walk.entries} entries (${f(r.walk.seconds, 1)} s) → quiet 7 s → 1 s after a second | ${f(r.walk.idleMiB)} → ${f(r.walk.afterMiB)} MiB (+${f(r.walk.growthMiB)}) → ${f(r.walk.afterQuietMiB)} MiB (+${f(r.walk.quietGrowthMiB)}) → ${f(r.walk.afterSecondMiB)} MiB | within 64 MiB |`,
    `| ${COPY_MIB} MiB copy in (64 KiB writes; median of ${RUNS}) | ${f(r.copy.inMbPerS)} MB/s = ${f(r.copy.inVsWritefile64k * 100)}% of loadgen writefile64k, ${f(r.copy.inVsTmpfsFile * 100)}% of the tmpfs file | >= 60% |`,
    `| ${COPY_MIB} MiB copy out (64 KiB reads; median of ${RUNS}) | ${f(r.copy.outMbPerS)} MB/s | |`,
    `| loadgen writefile64k (the yardstick); hostcopy's 64 KiB writes to a tmpfs file | ${f(r.copy.loadgenWritefile64kMbPerS)}; ${f(r.copy.tmpfsFileMbPerS)} MB/s | |`,
    `| server RSS during the copy in; out (low → high) | ${f(r.copy.rssInMiB.low)} → ${f(r.copy.rssInMiB.high)}; ${f(r.copy.rssOutMiB.low)} → ${f(r.copy.rssOutMiB.high)} MiB | flat |`,
    `| getpid p50/p99 idle → during a copy | ${f(r.getpid.idle.p50Us)}/${f(r.getpid.idle.p99Us)} → ${f(r.getpid.duringCopy.p50Us)}/${f(r.getpid.duringCopy.p99Us)} µs (${f(r.getpid.p99Ratio, 2)}x) | p99 within 2x |`,
    `| the same, tmpfs server idle → during loadgen writefile64k | ${f(r.getpid.tmpfsIdle.p50Us)}/${f(r.getpid.tmpfsIdle.p99Us)} → ${f(r.getpid.tmpfsDuringWritefile64k.p50Us)}/${f(r.getpid.tmpfsDuringWritefile64k.p99Us)} µs (${f(r.getpid.tmpfsP99Ratio, 2)}x) | |`,
    `| load average before → after | ${loadBefore.map((x) => x.toFixed(1)).join(" ")} → ${(results.loadAfter as Array<number>).map((x) => x.toFixed(1)).join(" ")} (${cpus().length} CPUs) | |`
  ]
  process.stdout.write(`${lines.join("\n")}\n`)
}

main().catch((e) => {
  log(String(e instanceof Error ? (e.stack ?? e.message) : e))
  process.exit(1)
})
