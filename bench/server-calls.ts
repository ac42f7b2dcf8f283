/**
 * What one round trip costs the server process, by the measures that hold
 * under load: its CPU time per call, the heap bytes it allocates per call
 * and the bytes per call that reach old space, its event-loop turns per
 * call, and the young collections of the run (count, median and longest
 * pause). One client (bench/c/loadgen.c, 1x1) per mode, each on a fresh
 * server preloaded with bench/gc-probe.ts: warmed up first, then measured
 * over one window. The client and the server are pinned to CPU 0 (taskset,
 * where it exists): on a small VM what a round trip costs otherwise
 * depends on whether the two share a CPU (a wakeup across CPUs leaves the
 * server idle, and an idle loop costs more per call).
 *
 *   node --conditions=@sysproxy/source bench/server-calls.ts [--seconds S] [--warmup S] [--modes getpid,sysctl]
 *     [--node-flags=...] [--no-pin]
 *
 * --node-flags: node options for the server (e.g. "--max-semi-space-size=4").
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { canPin, gcc, loadgen, pin, root, serverGc, startServer, stop } from "./support.ts"

const { values } = parseArgs({
  options: {
    seconds: { type: "string", default: "3" },
    warmup: { type: "string", default: "2" },
    modes: { type: "string", default: "getpid,write4k,writefile4k,read4k,sysctl" },
    "node-flags": { type: "string", default: "" },
    "no-pin": { type: "boolean", default: false },
    json: { type: "boolean", default: false }
  }
})
const seconds = Number(values.seconds)
const nodeFlags = values["node-flags"].split(" ").filter((f) => f !== "")
const cpu = values["no-pin"] !== true && canPin() ? 0 : undefined

const dir = mkdtempSync(join(tmpdir(), "sysproxy-calls-"))
const bin = join(dir, "loadgen")
gcc(bin, "bench/c/loadgen.c", "interop/c/rumpsp.c")

const rows: Array<Record<string, number | string>> = []
try {
  for (const mode of values.modes.split(",")) {
    const url = `unix://${join(dir, `${mode}.sock`)}`
    const server = await startServer(url, ["--max-clients", "100000"], [...nodeFlags, "--import", join(root, "bench/gc-probe.ts")])
    try {
      if (cpu !== undefined) pin(server.child.pid ?? 0, String(cpu))
      await loadgen(bin, url, mode, 1, 1, Number(values.warmup), cpu)
      await serverGc(server)
      const load = await loadgen(bin, url, mode, 1, 1, seconds, cpu)
      const w = await serverGc(server)
      const calls = load.ops
      const scavenge = w.kinds["scavenge"]
      const row = {
        mode,
        calls,
        cpuUs: ((w.cpuUserUs ?? 0) + (w.cpuSystemUs ?? 0)) / calls,
        userUs: (w.cpuUserUs ?? 0) / calls,
        allocatedB: (w.allocatedBytes ?? 0) / calls,
        oldB: (w.oldBytes ?? 0) / calls,
        loopsPerCall: (w.loops ?? 0) / calls,
        scavenges: scavenge?.count ?? 0,
        scavengeMedianMs: scavenge?.medianMs ?? 0,
        scavengeLongestMs: scavenge?.longestMs ?? 0,
        markCompacts: w.kinds["markCompact"]?.count ?? 0,
        loopDelayMaxMs: w.loopDelayMaxMs ?? 0,
        stalls: w.stalls?.count ?? 0,
        stallsBusy: w.stalls?.busy ?? 0,
        stallTop: (w.stalls?.top ?? []).map((t) => `${t.gapMs.toFixed(1)}/${t.cpuMs.toFixed(1)}/${t.activeMs.toFixed(1)}${t.gc ? " gc" : ""}`).join(", "),
        p50Us: load.p50_us,
        maxUs: load.max_us
      }
      rows.push(row)
      process.stderr.write(`${JSON.stringify(row)}\n`)
    } finally {
      await stop(server.child)
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true })
}

if (values.json) process.stdout.write(`${JSON.stringify(rows)}\n`)
else {
  const f = (n: number | string, d: number) => (typeof n === "number" ? n.toFixed(d) : n)
  process.stdout.write(
    `The server process per call, 1x1${cpu === undefined ? "" : `, both on CPU ${cpu}`}, ${seconds} s per mode${
      nodeFlags.length > 0 ? `, node ${nodeFlags.join(" ")}` : ""
    }\n\n`
  )
  process.stdout.write(
    "| mode | calls | CPU us (user) | allocated B | old-space B | loop turns | scavenges (median / longest ms) | mark-compacts | loop delay max ms | stalls over 2 ms (busy) | longest stalls: gap / main thread CPU / loop active ms | p50 / max us |\n"
  )
  process.stdout.write("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
  for (const r of rows) {
    process.stdout.write(
      `| ${r.mode} | ${r.calls} | ${f(r.cpuUs!, 1)} (${f(r.userUs!, 1)}) | ${f(r.allocatedB!, 0)} | ${f(r.oldB!, 1)} | ${f(r.loopsPerCall!, 2)} | ${r.scavenges} (${
        f(r.scavengeMedianMs!, 2)
      } / ${f(r.scavengeLongestMs!, 2)}) | ${r.markCompacts} | ${f(r.loopDelayMaxMs!, 1)} | ${r.stalls} (${r.stallsBusy}) | ${r.stallTop} | ${f(r.p50Us!, 1)} / ${f(r.maxUs!, 0)} |\n`
    )
  }
}
