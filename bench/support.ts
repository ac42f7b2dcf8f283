/**
 * What the benchmark scripts share: building the C tools, starting a server
 * that announces itself with `READY <url>`, and running the load generator.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")

export const log = (s: string) => process.stderr.write(`${s}\n`)

/** Compiles C sources of the repository (with interop/c on the include path) into `out`. */
export const gcc = (out: string, ...sources: Array<string>) =>
  execFileSync("gcc", ["-O2", "-pthread", "-I", join(root, "interop/c"), "-o", out, ...sources.map((s) => join(root, s))], {
    stdio: ["ignore", "inherit", "inherit"]
  })

/** One line of bench/c/loadgen.c's output. */
export interface LoadResult {
  readonly mode: string
  readonly clients: number
  readonly threads: number
  readonly seconds: number
  readonly ops: number
  readonly ops_per_s: number
  readonly p50_us: number
  readonly p99_us: number
  readonly p999_us: number
  /** The longest call, exactly. */
  readonly max_us: number
  readonly over_1ms: number
  readonly over_5ms: number
  readonly over_10ms: number
  readonly errors: number
  readonly refusals: number
  readonly failed_clients: number
  readonly mb_per_s: number
}

/** Runs a command to its end and gives its stdout; an exit other than 0 or the timeout is an error. */
export const run = (cmd: string, args: Array<string>, env: Record<string, string>, timeoutMs: number): Promise<string> =>
  new Promise((ok, fail) => {
    const child = spawn(cmd, args, { cwd: root, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    child.stdout.on("data", (c: Buffer) => (out += c.toString()))
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs)
    child.once("exit", (code) => {
      clearTimeout(timer)
      if (code === 0) ok(out)
      else fail(new Error(`${cmd} ${args.join(" ")} exited ${code}`))
    })
  })

/**
 * The load generator `bin` against `url`: its JSON result line. `cpu`
 * pins it to that CPU (taskset).
 */
export const loadgen = async (
  bin: string,
  url: string,
  mode: string,
  clients: number,
  threads: number,
  secs: number,
  cpu?: number
) => {
  const args = [mode, String(clients), String(threads), String(secs)]
  const out = cpu === undefined
    ? await run(bin, args, { RUMP_SERVER: url }, (secs + 120) * 1000)
    : await run("taskset", ["-c", String(cpu), bin, ...args], { RUMP_SERVER: url }, (secs + 120) * 1000)
  return JSON.parse(out.trim().split("\n").pop() ?? "") as LoadResult
}

/** Whether `taskset` (util-linux) can pin processes here. */
export const canPin = (): boolean => {
  try {
    execFileSync("taskset", ["-p", String(process.pid)], { stdio: "ignore" })
    return true
  } catch {
    return false
  }
}

/** Pins every thread of process `pid` to `cpus` (a taskset list such as "0" or "0-1"). */
export const pin = (pid: number, cpus: string) =>
  execFileSync("taskset", ["-a", "-p", "-c", cpus, String(pid)], { stdio: "ignore" })

/** A started process and each line it writes to stdout after READY. */
export interface ReadyProcess {
  readonly child: ChildProcess
  /** Registers for the next stdout line starting with `prefix`; call before causing it. */
  readonly nextLine: (prefix: string) => Promise<string>
}

/** Starts a process and waits for its `READY <url>` line. */
export const startReady = (cmd: string, args: Array<string>): Promise<ReadyProcess> =>
  new Promise((ok, fail) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", "pipe", "inherit"] })
    const waiting: Array<{ readonly prefix: string; readonly got: (line: string) => void }> = []
    let out = ""
    child.stdout!.on("data", (chunk: Buffer) => {
      out += chunk.toString()
      let nl: number
      while ((nl = out.indexOf("\n")) !== -1) {
        const line = out.slice(0, nl)
        out = out.slice(nl + 1)
        if (line.startsWith("READY ")) ok({ child, nextLine })
        const i = waiting.findIndex((w) => line.startsWith(w.prefix))
        if (i !== -1) waiting.splice(i, 1)[0]!.got(line)
      }
    })
    const nextLine = (prefix: string) => new Promise<string>((got) => waiting.push({ prefix, got }))
    child.once("exit", (code) => fail(new Error(`${cmd} exited (${code}) before READY`)))
    setTimeout(() => fail(new Error(`${cmd}: no READY after 60 s`)), 60_000).unref()
  })

/**
 * Our server over our kernel as a process (interop/launch-server.ts).
 * `nodeFlags` go to node (`--expose-gc` makes its STATS figures live data).
 */
export const startServer = (url: string, extra: Array<string> = [], nodeFlags: Array<string> = []) =>
  startReady(process.execPath, [
    ...nodeFlags,
    "--conditions=@sysproxy/source",
    join(root, "interop/launch-server.ts"),
    "--url",
    url,
    ...extra
  ])

/** The server's STATS line (launch-server prints it on SIGUSR2). */
export const serverStats = async <S>(server: ReadyProcess): Promise<S> => {
  const line = server.nextLine("STATS ")
  server.child.kill("SIGUSR2")
  return JSON.parse((await line).slice("STATS ".length)) as S
}

/** What bench/gc-probe.ts saw since its last line (the server must run with `--import bench/gc-probe.ts`). */
export interface GcFigures {
  /** By kind: scavenge, markCompact, incrementalMarking, weakCallbacks. */
  readonly kinds: Readonly<
    Record<string, { readonly count: number; readonly longestMs: number; readonly totalMs: number; readonly medianMs: number }>
  >
  /** Pauses over 1 ms, of any kind. */
  readonly over1ms: number
  // the window's other figures (absent from the first line, which only opens the window)
  /** Heap bytes allocated, and bytes old space gained (promoted, or allocated there). */
  readonly allocatedBytes?: number
  readonly oldBytes?: number
  /** The server's CPU time. */
  readonly cpuUserUs?: number
  readonly cpuSystemUs?: number
  /** Event-loop turns. */
  readonly loops?: number
  /** The longest and the 99th percentile delay of a 1 ms timer (monitorEventLoopDelay). */
  readonly loopDelayMaxMs?: number
  readonly loopDelayP99Ms?: number
  readonly seconds?: number
  /** Gaps of over 2 ms in a 1 ms timer; how many the server ran through; the longest few. */
  readonly stalls?: {
    readonly count: number
    readonly busy: number
    readonly top: ReadonlyArray<
      { readonly gapMs: number; readonly cpuMs: number; readonly activeMs: number; readonly gc: boolean }
    >
  }
}

/** The GC line of a server preloaded with bench/gc-probe.ts (SIGURG); starts the next window. */
export const serverGc = async (server: ReadyProcess): Promise<GcFigures> => {
  const line = server.nextLine("GC ")
  server.child.kill("SIGURG")
  return JSON.parse((await line).slice("GC ".length)) as GcFigures
}

/** SIGTERM, then waits for the exit. */
export const stop = (child: ChildProcess) =>
  new Promise<void>((ok) => {
    if (child.exitCode !== null || child.signalCode !== null) return ok()
    child.once("exit", () => ok())
    child.kill("SIGTERM")
  })
