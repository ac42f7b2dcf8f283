/**
 * `npm run soak`: the full soak (issue 9). 10,000 connect/handshake/syscall/
 * disconnect cycles, 1,000 preforks never claimed, 1,000 exec handshakes;
 * then every figure of the server process must be back to within 10% of
 * its baseline (no more than 10% above it). Prints a table and one JSON
 * line; exits 1 if a figure is not back.
 *
 *   node --conditions=@sysproxy/source soak/main.ts [--cycles N] [--preforks N] [--execs N]
 *     [--parallel N] [--prefork-expiry-ms N]
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { parseArgs } from "node:util"
import { runSoak } from "./src/Soak.ts"

const { values } = parseArgs({
  options: {
    cycles: { type: "string", default: "10000" },
    preforks: { type: "string", default: "1000" },
    execs: { type: "string", default: "1000" },
    parallel: { type: "string", default: "4" },
    "prefork-expiry-ms": { type: "string", default: "3000" }
  }
})
const out = (s: string) => process.stdout.write(`${s}\n`)
const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sysproxy-soak-"))
try {
  const report = await runSoak({
    cycles: Number(values.cycles),
    preforks: Number(values.preforks),
    execs: Number(values.execs),
    parallel: Number(values.parallel),
    preforkExpiryMs: Number(values["prefork-expiry-ms"]),
    dir,
    log: (line) => process.stderr.write(`${line}\n`)
  })
  out(`machine: ${Os.cpus().length} x ${Os.cpus()[0]?.model ?? "?"}, ${Math.round(Os.totalmem() / 2 ** 30)} GiB; Node ${process.version}`)
  for (const p of report.phases) out(`${p.name}: ${p.count} in ${p.ms} ms`)
  const held = report.afterPreforks
  out(`right after the prefork phase: ${held.preforks} preforks held, ${held.processes} processes, heap ${held.heapUsed} B`)
  out(`every figure back within bound ${report.settleMs} ms after the last phase`)
  out("| figure | baseline | after | at most 10% above |")
  out("| --- | --- | --- | --- |")
  for (const c of report.checks) out(`| ${c.figure} | ${c.baseline} | ${c.after} | ${c.ok ? "yes" : "NO"} |`)
  out(JSON.stringify(report))
  if (!report.ok) process.exitCode = 1
} finally {
  Fs.rmSync(dir, { recursive: true, force: true })
}
