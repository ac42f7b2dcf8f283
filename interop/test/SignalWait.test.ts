/**
 * The real client's way of waiting (interop/c/sigwait.c): poll on the
 * socket and a signalfd, the caller's mask set for a moment when a signal
 * is pending, syscalls from a SIGALRM handler. Every result is checked by
 * the program; here the counts it reports must add up, and a timer far
 * shorter than any round trip must show the hang it detects (a nested call
 * that sees its own signal pending, where librumpclient would spin).
 * How long the calls take is measured by the bench, not asserted here.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const ROOT = Path.resolve(Path.dirname(new URL(import.meta.url).pathname), "..")

let dir = ""
let server: ChildProcess | undefined
let url = ""

const gcc = (out: string, ...sources: Array<string>) =>
  new Promise<void>((ok, fail) =>
    execFile("gcc", ["-Wall", "-Werror", "-O2", "-I", Path.join(ROOT, "c"), "-o", out, ...sources], (e, _o, err) =>
      e === null ? ok() : fail(new Error(`gcc: ${err}`)))
  )

const sigwait = (seconds: string, intervalUs: string) =>
  new Promise<{ readonly code: number | null; readonly stdout: string; readonly stderr: string }>((ok) =>
    execFile(
      Path.join(dir, "sigwait"),
      [seconds, intervalUs],
      { env: { ...process.env, RUMP_SERVER: url }, timeout: 60_000, killSignal: "SIGKILL" },
      (e, stdout, stderr) => ok({ code: e === null ? 0 : typeof e.code === "number" ? e.code : null, stdout, stderr })
    )
  )

const report = /^sigwait ok: (\d+) calls, (\d+) nested in (\d+) SIGALRM handler runs; nested longest ([\d.]+) us, over 1 ms (\d+), over 2 ms (\d+), over 10 ms (\d+); hangs (\d+); main longest ([\d.]+) us$/m

beforeAll(async () => {
  dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sp-sigwait-"))
  await gcc(Path.join(dir, "sigwait"), Path.join(ROOT, "c", "sigwait.c"))
  const child = spawn(
    process.execPath,
    ["--conditions=@sysproxy/source", Path.join(ROOT, "launch-server.ts"), "--url", `unix://${Path.join(dir, "s.sock")}`, "--hostname", "sigwait-host"],
    { stdio: ["ignore", "pipe", "inherit"] }
  )
  server = child
  url = await new Promise<string>((ok, fail) => {
    let out = ""
    child.stdout!.setEncoding("utf8").on("data", (d: string) => {
      out += d
      const m = /^READY (\S+)$/m.exec(out)
      if (m !== null) ok(m[1]!)
    })
    child.once("exit", (code) => fail(new Error(`the server exited (${code}) before it was ready`)))
  })
}, 60_000)

afterAll(() => {
  server?.kill("SIGKILL")
  if (dir !== "") Fs.rmSync(dir, { recursive: true, force: true })
})

describe("signal wait: a client that waits as librumpclient does", () => {
  it("sysctl from a SIGALRM handler every 10 ms interrupting a loop of sysctls: every result right, every handler run one nested call", async () => {
    const o = await sigwait("2", "10000")
    expect(o.code, o.stderr).toBe(0)
    const m = report.exec(o.stdout)
    expect(m, o.stdout).not.toBeNull()
    const [calls, nested, ticks, , over1, over2, over10, hangs] = m!.slice(1).map(Number)
    expect(calls).toBeGreaterThan(0)
    expect(ticks).toBeGreaterThan(10)
    expect(nested).toBe(ticks)
    // the counts nest: over 10 ms is over 2 ms is over 1 ms, and a hang is a nested call past the period
    expect(over10).toBeLessThanOrEqual(over2!)
    expect(over2).toBeLessThanOrEqual(over1!)
    expect(hangs).toBeLessThanOrEqual(nested!)
  })

  it("a timer shorter than any round trip: the nested calls see their own signal pending (a hang for the real client), and still get the right answers", async () => {
    const o = await sigwait("0.5", "20")
    expect(o.code, o.stderr).toBe(0)
    const m = report.exec(o.stdout)
    expect(m, o.stdout).not.toBeNull()
    const [, nested, , , , , , hangs] = m!.slice(1).map(Number)
    expect(nested).toBeGreaterThan(0)
    expect(hangs).toBeGreaterThan(0)
  })
})
