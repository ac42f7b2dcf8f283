/**
 * The soak run (issue 9): many connect/handshake/syscall/disconnect cycles,
 * preforks that are never claimed and exec handshakes against the server
 * run as its own process (soak/server.ts), driven by the C client
 * (soak/c/soak.c on interop/c/rumpsp.c, compiled here with gcc). Before and
 * after, the server process reports its heap after a forced GC, its open
 * descriptors and libuv handles, and the server's and kernel's tables;
 * every figure must come back to within 10% of the baseline (no more than
 * 10% above it; an empty table must be empty again).
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { fileURLToPath } from "node:url"

const SOAK_DIR = Path.resolve(Path.dirname(fileURLToPath(import.meta.url)), "..")
const ROOT = Path.resolve(SOAK_DIR, "..")

/** What the server process reports (soak/server.ts). */
export interface Figures {
  readonly heapUsed: number
  readonly fds: number
  readonly handles: number
  readonly clients: number
  readonly waiters: number
  readonly inflightJobs: number
  readonly preforks: number
  readonly busyWorkers: number
  readonly queuedJobs: number
  readonly processes: number
  readonly lwps: number
  readonly openFiles: number
  readonly handshakes: { readonly guest: number; readonly fork: number; readonly exec: number; readonly prefork: number }
  readonly syscalls: number
  readonly protocolErrors: number
  readonly dropped: number
}

/** The figures compared before and after, and how. */
const COMPARED = [
  "heapUsed",
  "fds",
  "handles",
  "clients",
  "waiters",
  "inflightJobs",
  "preforks",
  "busyWorkers",
  "queuedJobs",
  "processes",
  "lwps",
  "openFiles"
] as const
type Compared = (typeof COMPARED)[number]

/** The tables that must be exactly back (their baseline is 0 or a fixed set). */
const TABLES: ReadonlyArray<Compared> = COMPARED.filter((k) => k !== "heapUsed" && k !== "fds" && k !== "handles")

export interface Check {
  readonly figure: Compared
  readonly baseline: number
  readonly after: number
  /** At most 10% above the baseline (so exactly 0 when the baseline is 0). */
  readonly ok: boolean
}

/** Back to within 10%: growth is what a leak shows; ending below the baseline is not one. */
export const within10Percent = (baseline: number, after: number): boolean => after <= baseline * 1.1

export const compare = (baseline: Figures, after: Figures): ReadonlyArray<Check> =>
  COMPARED.map((figure) => ({
    figure,
    baseline: baseline[figure],
    after: after[figure],
    ok: within10Percent(baseline[figure], after[figure])
  }))

export interface SoakOptions {
  readonly cycles: number
  readonly preforks: number
  readonly execs: number
  /** Driver processes run side by side in each phase. */
  readonly parallel: number
  readonly preforkExpiryMs: number
  /** Where the driver is built and the socket lives. */
  readonly dir: string
  readonly log?: ((line: string) => void) | undefined
}

export interface Phase {
  readonly name: string
  readonly count: number
  readonly ms: number
}

export interface SoakReport {
  readonly options: Omit<SoakOptions, "dir" | "log">
  readonly baseline: Figures
  /** Right after the prefork phase, before any had expired (most of them held). */
  readonly afterPreforks: Figures
  readonly after: Figures
  readonly phases: ReadonlyArray<Phase>
  readonly checks: ReadonlyArray<Check>
  /** Every table was empty at the baseline (so "back to the baseline" means nothing left). */
  readonly baselineIdle: boolean
  readonly ok: boolean
  /** Settled: the time from the last phase's end until every compared figure was back within bound. */
  readonly settleMs: number
}

/** Compiles soak/c/soak.c with the interop client library; returns the binary. */
export const buildDriver = (dir: string): string => {
  const out = Path.join(dir, "soak")
  execFileSync(
    "gcc",
    [
      "-O2",
      "-Wall",
      "-pthread",
      "-I",
      Path.join(ROOT, "interop/c"),
      "-o",
      out,
      Path.join(SOAK_DIR, "c/soak.c"),
      Path.join(ROOT, "interop/c/rumpsp.c")
    ],
    { stdio: ["ignore", "inherit", "inherit"] }
  )
  return out
}

export interface SoakServer {
  readonly url: string
  readonly pid: number
  readonly stats: () => Promise<Figures>
  readonly stop: () => Promise<void>
}

/** Starts soak/server.ts on a unix socket in `dir` and waits for its READY line. */
export const startSoakServer = (dir: string, preforkExpiryMs: number): Promise<SoakServer> =>
  new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      [
        "--expose-gc",
        "--conditions=@sysproxy/source",
        Path.join(SOAK_DIR, "server.ts"),
        "--url",
        `unix://${Path.join(dir, "sp.sock")}`,
        "--prefork-expiry-ms",
        String(preforkExpiryMs)
      ],
      { cwd: ROOT, stdio: ["pipe", "pipe", "inherit"] }
    )
    const lines = Readline.createInterface({ input: child.stdout! })
    const waitingForStats: Array<{ readonly resolve: (f: Figures) => void; readonly reject: (e: Error) => void }> = []
    const exited = new Promise<void>((done) => child.once("exit", () => done()))
    let ready = false
    /** Set once the process is gone and its output read: no stats can come any more. */
    let gone: Error | undefined
    child.once("exit", (code, signal) => {
      if (!ready) reject(new Error(`soak server exited (${code ?? signal}) before READY`))
    })
    // "close" comes after the last line of its output was handled: whatever is still asked is never answered
    child.once("close", (code, signal) => {
      gone = new Error(`soak server exited (${code ?? signal}) before answering stats`)
      for (const w of waitingForStats.splice(0)) w.reject(gone)
    })
    // a stats request written to a process that just died: the close above answers it
    child.stdin!.on("error", () => {})
    lines.on("line", (line) => {
      if (!ready && line.startsWith("READY ")) {
        ready = true
        resolve({
          url: line.slice("READY ".length),
          pid: child.pid!,
          stats: () =>
            new Promise<Figures>((resolve, reject) => {
              if (gone !== undefined) return reject(gone)
              waitingForStats.push({ resolve, reject })
              child.stdin!.write("stats\n")
            }),
          stop: () => {
            child.stdin!.end()
            return exited
          }
        })
      } else if (line.startsWith("STATS ")) {
        waitingForStats.shift()?.resolve(JSON.parse(line.slice("STATS ".length)) as Figures)
      }
    })
  })

/** Runs the driver once; rejects with its output unless it exits 0 having printed `done`. */
const drive = (bin: string, url: string, mode: string, n: number): Promise<void> =>
  new Promise((resolve, reject) => {
    execFile(
      bin,
      [mode, String(n)],
      { env: { ...process.env, RUMP_SERVER: url }, timeout: 600_000, killSignal: "SIGKILL" },
      (error, stdout, stderr) => {
        if (error === null && /^done /m.test(stdout)) resolve()
        else reject(new Error(`soak ${mode} ${n}: ${error?.message ?? "no done line"}\n${stdout}${stderr}`))
      }
    )
  })

/** `count` split over `parallel` drivers running side by side. */
const phase = async (bin: string, url: string, mode: string, count: number, parallel: number): Promise<Phase> => {
  const started = performance.now()
  const shares = Array.from({ length: parallel }, (_, i) => Math.floor(count / parallel) + (i < count % parallel ? 1 : 0))
  await Promise.all(shares.filter((n) => n > 0).map((n) => drive(bin, url, mode, n)))
  return { name: mode, count, ms: Math.round(performance.now() - started) }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Every table empty. */
const idle = (f: Figures): boolean => TABLES.every((k) => f[k] === 0)

/** Every compared figure back within bound of `baseline`'s. */
const backTo = (baseline: Figures) => (f: Figures): boolean => compare(baseline, f).every((c) => c.ok)

/**
 * Polls (every `intervalMs`) until `done` holds for the figures; returns the
 * last figures, which fail the caller's checks when the deadline came first.
 * A descriptor or handle that closes a moment after the tables emptied is
 * waited for, not counted as a leak.
 */
export const settle = async (
  server: Pick<SoakServer, "stats">,
  done: (f: Figures) => boolean,
  timeoutMs: number,
  intervalMs = 100
): Promise<Figures> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const now = await server.stats()
    if (done(now) || Date.now() > deadline) return now
    await sleep(intervalMs)
  }
}

export const runSoak = async (options: SoakOptions): Promise<SoakReport> => {
  const { dir, log = () => {}, ...shown } = options
  const { cycles, preforks, execs, parallel, preforkExpiryMs } = shown
  const bin = buildDriver(dir)
  const server = await startSoakServer(dir, preforkExpiryMs)
  try {
    // warm up first: code paths compiled and caches filled once are not growth
    await phase(bin, server.url, "cycles", 50, 1)
    await phase(bin, server.url, "preforks", 5, 1)
    await phase(bin, server.url, "execs", 5, 1)
    // with no client and no prefork left, every table is empty
    const baseline = await settle(server, idle, preforkExpiryMs + 30_000)
    log(`soak: baseline heap ${baseline.heapUsed} B, ${baseline.fds} fds, ${baseline.handles} handles (after a warm-up)`)
    const phases: Array<Phase> = []
    phases.push(await phase(bin, server.url, "cycles", cycles, parallel))
    log(`soak: ${cycles} cycles in ${phases.at(-1)!.ms} ms`)
    phases.push(await phase(bin, server.url, "preforks", preforks, parallel))
    const afterPreforks = await server.stats()
    log(`soak: ${preforks} preforks in ${phases.at(-1)!.ms} ms; ${afterPreforks.preforks} held right after`)
    phases.push(await phase(bin, server.url, "execs", execs, parallel))
    log(`soak: ${execs} exec handshakes in ${phases.at(-1)!.ms} ms`)
    const settleStart = performance.now()
    const after = await settle(server, backTo(baseline), preforkExpiryMs + 60_000)
    const settleMs = Math.round(performance.now() - settleStart)
    const checks = compare(baseline, after)
    const baselineIdle = idle(baseline)
    const ok = baselineIdle && checks.every((c) => c.ok)
    return { options: shown, baseline, afterPreforks, after, phases, checks, baselineIdle, ok, settleMs }
  } finally {
    await server.stop()
  }
}
