/**
 * The soak, short (issue 9; `npm run soak` is the long one): 300
 * connect/handshake/syscall/disconnect cycles, 50 preforks never claimed
 * (released after a 2 s preforkExpiry) and 50 exec handshakes against the
 * server as its own process, driven by the C client. Afterwards the heap
 * (after a forced GC), open descriptors, libuv handles and every table of
 * the server and the kernel are back to within 10% of the baseline, and
 * each table is empty.
 */
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { compare, type Figures, runSoak, settle, startSoakServer, within10Percent } from "../src/Soak.ts"

let dir = ""
beforeAll(() => {
  dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sysproxy-soak-test-"))
})
afterAll(() => {
  Fs.rmSync(dir, { recursive: true, force: true })
})

describe("soak (short)", () => {
  it("300 cycles, 50 unclaimed preforks, 50 execs: heap, descriptors, handles and tables back to the baseline", async () => {
    const report = await runSoak({ cycles: 300, preforks: 50, execs: 50, parallel: 2, preforkExpiryMs: 2000, dir })
    const failed = report.checks.filter((c) => !c.ok)
    expect(failed, `figures not back: ${JSON.stringify(failed)}`).toEqual([])
    expect(report.baselineIdle, `tables at the baseline: ${JSON.stringify(report.baseline)}`).toBe(true)
    expect(report.ok).toBe(true)
    // the work really happened: every handshake and prefork was counted ...
    const grew = (k: "guest" | "exec" | "prefork") => report.after.handshakes[k] - report.baseline.handshakes[k]
    expect(grew("guest")).toBe(300 + 50 + 2) // cycles, preforks' parents, one per exec chain
    expect(grew("exec")).toBe(50)
    expect(grew("prefork")).toBe(50)
    expect(report.after.syscalls - report.baseline.syscalls).toBeGreaterThanOrEqual(300 * 7 + 50)
    // ... and the preforks were held until their expiry, then freed
    expect(report.afterPreforks.preforks).toBeGreaterThan(0)
    expect(report.afterPreforks.processes).toBeGreaterThanOrEqual(report.afterPreforks.preforks)
    expect(report.after.preforks).toBe(0)
    expect(report.after.processes).toBe(0)
    expect(report.after.protocolErrors).toBe(0)
  })
})

const figures = (over: Partial<Figures>): Figures => ({
    heapUsed: 1000,
    fds: 20,
    handles: 4,
    clients: 0,
    waiters: 0,
    inflightJobs: 0,
    preforks: 0,
    busyWorkers: 0,
    queuedJobs: 0,
    processes: 0,
    lwps: 0,
    openFiles: 0,
    handshakes: { guest: 0, fork: 0, exec: 0, prefork: 0 },
    syscalls: 0,
    protocolErrors: 0,
    dropped: 0,
    ...over
  })

describe("the 10% rule", () => {
  it("accepts up to 10% growth and any shrinking, refuses more growth; a zero baseline must stay zero", () => {
    expect(within10Percent(1000, 1100)).toBe(true)
    expect(within10Percent(1000, 700)).toBe(true)
    expect(within10Percent(1000, 1101)).toBe(false)
    expect(within10Percent(0, 0)).toBe(true)
    expect(within10Percent(0, 1)).toBe(false)
    const bad = compare(figures({}), figures({ heapUsed: 1200, processes: 1, fds: 23 })).filter((c) => !c.ok)
    expect(bad.map((c) => c.figure)).toEqual(["heapUsed", "fds", "processes"])
  })
})

describe("settling", () => {
  /** A server whose stats are `seq` in turn (the last one repeated); counts the calls. */
  const scripted = (seq: ReadonlyArray<Figures>) => {
    let calls = 0
    return { stats: async () => seq[Math.min(calls++, seq.length - 1)]!, calls: () => calls }
  }
  const baseline = figures({ handles: 4 })
  const within = (f: Figures) => compare(baseline, f).every((c) => c.ok)

  it("waits until every compared figure is within bound, not only the tables (a handle closing a moment late)", async () => {
    const late = scripted([figures({ handles: 5 }), figures({ handles: 5, fds: 23 }), figures({ handles: 4 })])
    const got = await settle(late, within, 60_000, 1)
    expect(got.handles).toBe(4)
    expect(late.calls()).toBe(3)
  })

  it("returns the last figures at the deadline, and they fail the checks", async () => {
    const stuck = scripted([figures({ handles: 6 })])
    const got = await settle(stuck, within, 50, 1)
    expect(compare(baseline, got).filter((c) => !c.ok).map((c) => [c.figure, c.after])).toEqual([["handles", 6]])
  })

  it("a stats request to a server process that exits is rejected, not left waiting; so is every later one", async () => {
    const server = await startSoakServer(dir, 2000)
    expect((await server.stats()).clients).toBe(0)
    process.kill(server.pid, "SIGKILL")
    await expect(server.stats()).rejects.toThrow(/exited .* before answering stats/)
    await expect(server.stats()).rejects.toThrow(/exited/)
    await server.stop()
  })
})
