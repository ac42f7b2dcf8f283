/**
 * The `cli` section of the bench: what a person running the installed
 * commands waits for, measured from outside on the bundled programs
 * (`npm run bench:cli` bundles first).
 *
 * - start-up: `sysproxy --version` and `sysproxy ls /` against a running
 *   server, through node_modules/.bin (sh execs the pinned Node), on the
 *   pinned Node directly, and through an old system Node (the launcher's
 *   re-run) when there is one; the median of RUNS runs after warm-ups.
 * - server ready: from spawning `sysproxy-server` until it writes its URL
 *   to --ready-fd, and `rump_server` (daemon) until it exits ready.
 * - copies: `sysproxy put` and `get` of a COPY_MIB MiB file against one
 *   server, MB/s and the tool's peak resident memory (VmHWM), next to the
 *   C load generator's writefile64k (64 KiB pwrites into a file in the
 *   server's tmpfs: the bytes copied in, as a put's are) against the same
 *   server in the same run. write64k is shown too, for scale only: /dev/null
 *   takes writes without copying them in, so it is no yardstick for a copy.
 *
 * Figures go to bench-results/cli.json and a markdown table on stdout,
 * with the load average before and after (the machine may be shared).
 * `-- --quick`: fewer runs and a 256 MiB file.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs"
import { loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { gcc, loadgen, log, root } from "./support.ts"

const quick = process.argv.includes("--quick")
const RUNS = quick ? 5 : 15
const WARMUP = 2
const COPY_MIB = quick ? 256 : 1024

const bin = (name: string) => join(root, "node_modules", ".bin", name)
const PINNED = bin("node")
const CTL_BIN = join(root, "apps", "ctl", "bin", "sysproxy.js")

/** A Node older than 22.19 on PATH or in the usual places, if there is one. */
const OLD_NODE = ["node", "/usr/bin/node", "/usr/local/bin/node"].find((node) => {
  const v = spawnSync(node, ["--version"], { encoding: "utf8" })
  const m = /^v(\d+)\.(\d+)/.exec(v.stdout ?? "")
  return m !== null && (Number(m[1]) < 22 || (Number(m[1]) === 22 && Number(m[2]) < 19))
})

const median = (xs: ReadonlyArray<number>) => {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]!
}

/** Wall milliseconds of a command run to its end (exit 0 required). */
const timeOnce = (cmd: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) => {
  const start = performance.now()
  const r = spawnSync(cmd, args, { env, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8" })
  const ms = performance.now() - start
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")}: exit ${r.status}: ${r.stderr}`)
  return ms
}

const timeMedian = (cmd: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) => {
  for (let i = 0; i < WARMUP; i++) timeOnce(cmd, args, env)
  const runs = Array.from({ length: RUNS }, () => timeOnce(cmd, args, env))
  return { median: median(runs), min: Math.min(...runs), max: Math.max(...runs) }
}

/** Starts a server command with SYSPROXY_READY_FD/--ready-fd 3; resolves with the process and the ms until ready. */
const startReady = (cmd: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv = process.env) =>
  new Promise<{ readonly child: ChildProcess; readonly ms: number }>((ok, fail) => {
    const start = performance.now()
    const child = spawn(cmd, args, { env: { ...env, SYSPROXY_READY_FD: "3" }, stdio: ["ignore", "ignore", "inherit", "pipe"] })
    child.stdio[3]!.once("data", () => ok({ child, ms: performance.now() - start }))
    child.once("exit", (code) => fail(new Error(`${cmd} exited (${code}) before it was ready`)))
  })

const stop = (child: ChildProcess) =>
  new Promise<void>((ok) => {
    if (child.exitCode !== null || child.signalCode !== null) return ok()
    child.once("exit", () => ok())
    child.kill("SIGTERM")
  })

/** Runs a command to its end, sampling its peak resident memory; wall ms and peak MiB. */
const runSampled = (cmd: string, args: ReadonlyArray<string>, env: NodeJS.ProcessEnv) =>
  new Promise<{ readonly ms: number; readonly peakMiB: number }>((ok, fail) => {
    const start = performance.now()
    const child = spawn(cmd, args, { env, stdio: ["ignore", "ignore", "inherit"] })
    let peakKiB = 0
    const sample = () => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"))
        if (m !== null) peakKiB = Math.max(peakKiB, Number(m[1]))
      } catch {
        // gone between two samples: the last one stands
      }
    }
    const timer = setInterval(sample, 10)
    child.once("exit", (code) => {
      clearInterval(timer)
      const ms = performance.now() - start
      if (code !== 0) fail(new Error(`${cmd} ${args.join(" ")}: exit ${code}`))
      else ok({ ms, peakMiB: peakKiB / 1024 })
    })
  })

const main = async () => {
  const loadBefore = loadavg()
  const work = mkdtempSync(join(tmpdir(), "sp-bench-cli-"))
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: spawnSync(PINNED, ["--version"], { encoding: "utf8" }).stdout.trim(),
    oldNode: OLD_NODE === undefined ? null : spawnSync(OLD_NODE, ["--version"], { encoding: "utf8" }).stdout.trim(),
    loadBefore
  }
  try {
    // ---- server ready ----
    const ready: Array<number> = []
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const { child, ms } = await startReady(bin("sysproxy-server"), ["--log-level", "warn", `unix://${join(work, `r${i}.sock`)}`])
      if (i >= WARMUP) ready.push(ms)
      await stop(child)
    }
    const rumpReady: Array<number> = []
    for (let i = 0; i < WARMUP + Math.min(RUNS, 7); i++) {
      const sock = `unix://${join(work, `d${i}.sock`)}`
      const start = performance.now()
      const r = spawnSync(bin("rump_server"), ["-v", sock], { encoding: "utf8" })
      const ms = performance.now() - start
      if (r.status !== 0) throw new Error(`rump_server: ${r.stderr}`)
      if (i >= WARMUP) rumpReady.push(ms)
      const pid = Number(/pid (\d+)/.exec(r.stderr)?.[1])
      if (pid > 0) process.kill(pid, "SIGTERM")
    }
    results.serverReadyMs = { median: median(ready), min: Math.min(...ready), max: Math.max(...ready) }
    results.rumpServerReadyMs = { median: median(rumpReady), min: Math.min(...rumpReady), max: Math.max(...rumpReady) }
    log(`server ready: ${JSON.stringify(results.serverReadyMs)}; rump_server: ${JSON.stringify(results.rumpServerReadyMs)}`)

    // ---- one server for the rest: enough kernel memory for the copy ----
    const url = `unix://${join(work, "bench.sock")}`
    const server = await startReady(bin("rump_server"), ["-s", "-r", `${COPY_MIB * 2 + 512}m`, url])
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, RUMP_SERVER: url }
      // PATH's node the old one, when there is one: the bin must not care
      const oldPath = OLD_NODE === undefined ? env : { ...env, PATH: `${join(OLD_NODE, "..")}:${env.PATH}` }
      const startup: Record<string, unknown> = {
        "node_modules/.bin/sysproxy --version": timeMedian(bin("sysproxy"), ["--version"], oldPath),
        "node_modules/.bin/sysproxy ls /": timeMedian(bin("sysproxy"), ["ls", "/"], oldPath),
        "pinned node bin/sysproxy.js ls /": timeMedian(PINNED, [CTL_BIN, "ls", "/"], env),
        "pinned node (no launcher, no compile cache) ls /": timeMedian(
          PINNED,
          [join(root, "apps", "ctl", "dist", "bundle", "sysproxy.js"), "ls", "/"],
          env
        ),
        "node (bare start, for scale)": timeMedian(PINNED, ["-e", "0"], env)
      }
      if (OLD_NODE !== undefined) startup[`${results.oldNode as string} bin/sysproxy.js ls / (re-run on the pinned Node)`] = timeMedian(OLD_NODE, [CTL_BIN, "ls", "/"], env)
      results.startupMs = startup
      log(`start-up: ${JSON.stringify(startup)}`)

      // ---- copies ----
      const big = join(work, "big")
      const block = Buffer.alloc(1024 * 1024)
      for (let i = 0; i < block.length; i++) block[i] = (i * 131 + (i >> 10)) & 0xff
      const fd = openSync(big, "w")
      for (let i = 0; i < COPY_MIB; i++) {
        block[0] = i & 0xff
        writeSync(fd, block)
      }
      closeSync(fd)
      const bytes = COPY_MIB * 1024 * 1024
      const put = await runSampled(bin("sysproxy"), ["put", "-q", big, "/big"], env)
      const back = join(work, "back")
      const get = await runSampled(bin("sysproxy"), ["get", "-q", "/big", back], env)
      if (statSync(back).size !== bytes) throw new Error(`get gave ${statSync(back).size} bytes, not ${bytes}`)
      rmSync(back)
      const loadgenBin = join(work, "loadgen")
      gcc(loadgenBin, "bench/c/loadgen.c", "interop/c/rumpsp.c")
      const yardstick = await loadgen(loadgenBin, url, "writefile64k", 1, 1, quick ? 2 : 5)
      const devNull = await loadgen(loadgenBin, url, "write64k", 1, 1, quick ? 2 : 5)
      const mbps = (ms: number) => bytes / 1e6 / (ms / 1000)
      results.copy = {
        mib: COPY_MIB,
        put: { seconds: put.ms / 1000, mbPerS: mbps(put.ms), peakMiB: put.peakMiB },
        get: { seconds: get.ms / 1000, mbPerS: mbps(get.ms), peakMiB: get.peakMiB },
        loadgenWritefile64kMbPerS: yardstick.mb_per_s,
        loadgenWrite64kMbPerS: devNull.mb_per_s,
        putVsLoadgen: mbps(put.ms) / yardstick.mb_per_s,
        getVsLoadgen: mbps(get.ms) / yardstick.mb_per_s
      }
      log(`copies: ${JSON.stringify(results.copy)}`)
    } finally {
      await stop(server.child)
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
  results.loadAfter = loadavg()
  mkdirSync(join(root, "bench-results"), { recursive: true })
  writeFileSync(join(root, "bench-results", "cli.json"), `${JSON.stringify(results, null, 2)}\n`)

  const f = (n: number) => n.toFixed(0)
  const lines = ["| measurement | median | min | max |", "| --- | --- | --- | --- |"]
  for (const [name, t] of Object.entries(results.startupMs as Record<string, { median: number; min: number; max: number }>)) {
    lines.push(`| ${name} | ${f(t.median)} ms | ${f(t.min)} ms | ${f(t.max)} ms |`)
  }
  for (const key of ["serverReadyMs", "rumpServerReadyMs"] as const) {
    const t = results[key] as { median: number; min: number; max: number }
    lines.push(`| ${key === "serverReadyMs" ? "sysproxy-server ready" : "rump_server (daemon) ready"} | ${f(t.median)} ms | ${f(t.min)} ms | ${f(t.max)} ms |`)
  }
  const copy = results.copy as {
    mib: number
    put: { mbPerS: number; peakMiB: number }
    get: { mbPerS: number; peakMiB: number }
    loadgenWritefile64kMbPerS: number
    loadgenWrite64kMbPerS: number
  }
  lines.push("", "| copy | MB/s | vs loadgen writefile64k | peak memory of the tool |", "| --- | --- | --- | --- |")
  for (const which of ["put", "get"] as const) {
    lines.push(
      `| ${which} of ${copy.mib} MiB | ${f(copy[which].mbPerS)} | ${f((copy[which].mbPerS / copy.loadgenWritefile64kMbPerS) * 100)}% | ${f(copy[which].peakMiB)} MiB |`
    )
  }
  lines.push(`| loadgen writefile64k (1 client, 1 thread; the yardstick) | ${f(copy.loadgenWritefile64kMbPerS)} | | |`)
  lines.push(`| loadgen write64k to /dev/null (no copy in; for scale) | ${f(copy.loadgenWrite64kMbPerS)} | | |`)
  lines.push("", `load average before ${loadBefore.map((l) => l.toFixed(2)).join(" ")}, after ${(results.loadAfter as Array<number>).map((l) => l.toFixed(2)).join(" ")}`)
  process.stdout.write(`${lines.join("\n")}\n`)
}

if (!existsSync(join(root, "apps", "ctl", "dist", "bundle", "sysproxy.js"))) {
  log("not built: run npm run bench:cli (it bundles first)")
  process.exit(1)
}
await main()
