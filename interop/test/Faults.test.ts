/**
 * Fault injection and the syscall trace end to end: sysproxy-server (the
 * real app, as a process, with --inject, --trace-file, --metrics) and C
 * programs on our client library (interop/c/faults.c) that handle their
 * failures as real programs do. What the programs print and what the
 * server's figures show after them is checked.
 */
import { assert, describe, it } from "@effect/vitest"
import type { TraceRecord } from "@sysproxy/hypervisor"
import { Effect, Schedule } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { type ChildApp, spawnApp, tempDir } from "../../apps/server/test/ChildApp.ts"
import { compileProgram, runProcess, startProcess } from "./support/CPrograms.ts"

const SLOW = 90_000
const CTL = Path.join(import.meta.dirname, "..", "..", "apps", "ctl", "src", "main.ts")

/** The app with `flags` on a fresh socket; with --metrics, the address of its endpoint too. */
const startApp = (flags: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const url = `unix://${Path.join(dir, "rump.sock")}`
    const app = yield* spawnApp(["--log-format", "json", ...flags, url])
    yield* app.waitForStdout(/listening on unix:/)
    const endpoint = /metrics on http:\/\/(127\.0\.0\.1:\d+)\/metrics/.exec(app.stdout())?.[1]
    return { app, url, endpoint }
  })

const stop = (app: ChildApp) =>
  Effect.gen(function*() {
    yield* app.kill("SIGTERM")
    assert.strictEqual((yield* app.ended()).code, 0, app.stdout())
  })

/** The value of each sample line of a Prometheus scrape. */
const scrape = (endpoint: string) =>
  Effect.promise(async () => {
    const text = await (await fetch(`http://${endpoint}/metrics`)).text()
    const samples = new Map<string, number>()
    for (const l of text.split("\n")) {
      if (l === "" || l.startsWith("#")) continue
      const cut = l.lastIndexOf(" ")
      samples.set(l.slice(0, cut), Number(l.slice(cut + 1)))
    }
    return samples
  })

/** Nothing left: no client, job, process or lwp; waited for (cleanup runs after the disconnect). */
const countsBackToZero = (endpoint: string, withinMs: number) =>
  scrape(endpoint).pipe(
    Effect.repeat({
      until: (s) =>
        s.get("sysproxy_clients") === 0 && s.get("sysproxy_inflight_jobs") === 0 &&
        s.get("sysproxy_kernel_processes") === 0 && s.get("sysproxy_kernel_lwps") === 0,
      schedule: Schedule.spaced("50 millis")
    }),
    Effect.timeoutOrElse({
      duration: `${withinMs} millis`,
      orElse: () => Effect.flatMap(scrape(endpoint), (s) => Effect.die(new Error(`figures not back to zero: ${JSON.stringify([...s])}`)))
    })
  )

/** A reader of the server's /trace for the scope's life, subscribed once its headers came (the server flushes them at once). */
const liveTrace = (endpoint: string) =>
  Effect.acquireRelease(
    Effect.promise(async () => {
      const abort = new AbortController()
      const response = await fetch(`http://${endpoint}/trace`, { signal: abort.signal })
      assert.strictEqual(response.status, 200)
      // read on in the background, as a reader does; the records are not this test's concern
      void response.body?.pipeTo(new WritableStream()).catch(() => undefined)
      return abort
    }),
    (abort) => Effect.sync(() => abort.abort())
  )

const program = compileProgram("faults")

describe("fault injection with a C program", () => {
  it.live("the third write to /tmp/log* fails with ENOSPC, which the program handles; nothing else changes", () =>
    Effect.gen(function*() {
      const faults = yield* program
      const { app, url } = yield* startApp(["--inject", "write:path=/tmp/log*:nth=3:errno=ENOSPC"])
      const env = { RUMP_SERVER: url }
      const log = yield* runProcess(faults, ["log", "/tmp/log.txt", "5"], env)
      assert.strictEqual(log.code, 0, log.stderr)
      assert.strictEqual(
        log.stdout,
        "write 1: ok\nwrite 2: ok\nwrite 3: ENOSPC, line skipped\nwrite 4: ok\nwrite 5: ok\n" +
          "contents:\nline 1\nline 2\nline 4\nline 5\n"
      )
      // another file is not matched; the rule's third write is past, so the same file is left alone now
      for (const path of ["/tmp/other.txt", "/tmp/log.txt"]) {
        const again = yield* runProcess(faults, ["log", path, "5"], env)
        assert.strictEqual(again.stdout.split("contents:")[0], "write 1: ok\nwrite 2: ok\nwrite 3: ok\nwrite 4: ok\nwrite 5: ok\n")
      }
      const injected = app.stdout().split("\n").filter((l) => l.includes("fault injected"))
      assert.strictEqual(injected.length, 1)
      assert.match(injected[0]!, /fault injected into write by pid \d+ \(faults\): write:path=\/tmp\/log\*:nth=3:errno=ENOSPC/)
      yield* stop(app)
    }), SLOW)

  it.live("a delay is ended by the client's disconnect: the server's figures are back to zero long before it or the grace", () =>
    Effect.gen(function*() {
      const faults = yield* program
      const { app, url, endpoint } = yield* startApp([
        "--inject",
        "getpid:comm=faults:delay=1m",
        "--grace",
        "60",
        "--metrics",
        "127.0.0.1:0"
      ])
      const blocked = yield* startProcess(faults, ["block"], { RUMP_SERVER: url })
      yield* scrape(endpoint!).pipe(
        Effect.repeat({ until: (s) => s.get("sysproxy_inflight_jobs") === 1, schedule: Schedule.spaced("50 millis") }),
        Effect.timeout("30 seconds"),
        Effect.orDie
      )
      assert.strictEqual(blocked.stdout(), "calling\n")
      blocked.kill("SIGKILL")
      yield* blocked.ended
      yield* countsBackToZero(endpoint!, 10_000)
      assert.notMatch(app.stdout(), /still in the kernel/)
      yield* stop(app)
    }), SLOW)

  it.live("a seeded probability fails the same calls in two runs of the server", () =>
    Effect.gen(function*() {
      const faults = yield* program
      const patterns: Array<string> = []
      for (const seed of [7, 7, 8]) {
        const { app, url } = yield* startApp(["--inject", `getpid:comm=faults:p=0.3:seed=${seed}:errno=EIO`])
        const run = yield* runProcess(faults, ["pids", "100"], { RUMP_SERVER: url })
        assert.strictEqual(run.code, 0, run.stderr)
        patterns.push(run.stdout.trim())
        yield* stop(app)
      }
      const [first, second, other] = patterns
      assert.strictEqual(first!.length, 100)
      assert.strictEqual(second, first)
      assert.notStrictEqual(other, first)
      const failures = [...first!].filter((c) => c === "x").length
      assert.isAbove(failures, 10)
      assert.isBelow(failures, 60)
    }), SLOW)

  it.live("signal: raised at the program during its call; short: reads of one byte, which the program loops over", () =>
    Effect.gen(function*() {
      const faults = yield* program
      const file = Path.join(yield* tempDir, "trace.json")
      const { app, url } = yield* startApp([
        "--inject",
        "getpid:comm=faults:signal=USR1",
        "--inject",
        "read:comm=faults:short=1",
        "--trace-file",
        file
      ])
      const env = { RUMP_SERVER: url }
      assert.strictEqual((yield* runProcess(faults, ["signal"], env)).stdout, "getpid errno 0, SIGUSR1 handled\n")
      const log = yield* runProcess(faults, ["log", "/tmp/short.txt", "3"], env)
      assert.strictEqual(log.stdout.split("contents:\n")[1], "line 1\nline 2\nline 3\n")
      yield* stop(app)
      const reads = Fs.readFileSync(file, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as TraceRecord)
        .filter((r) => r.syscall === "read")
      // 21 bytes one at a time, then the end of the file
      assert.deepStrictEqual(reads.map((r) => r.retval), [...Array.from({ length: 21 }, () => 1), 0])
      assert.deepStrictEqual(reads[0]!.args[2], { name: "nbyte", value: 4095 }, "the trace shows what the program asked")
    }), SLOW)

  /**
   * The program's second write to /tmp/d.txt is dropped under `rule`: it sees the lost connection, the
   * server logs the drop and its figures go back to zero. `reader` opens /trace first, so the calls go
   * through the trace's middleware too.
   */
  const dropScenario = (rule: string, reader: boolean) =>
    Effect.gen(function*() {
      const faults = yield* program
      const { app, url, endpoint } = yield* startApp(["--inject", rule, "--metrics", "127.0.0.1:0"])
      if (reader) yield* liveTrace(endpoint!)
      const run = yield* runProcess(faults, ["log", "/tmp/d.txt", "3"], { RUMP_SERVER: url }, 20_000)
      assert.strictEqual(run.code, 1, `the program ended by itself (not killed hanging): ${run.stdout}${run.stderr}`)
      assert.strictEqual(run.stdout, "write 1: ok\n")
      assert.match(run.stderr, /write 2: errno 57,/, "ENOTCONN: the connection is gone")
      yield* countsBackToZero(endpoint!, 10_000)
      yield* app.waitForStdout(new RegExp(`client dropped: fault injection: ${rule.replaceAll("*", "\\*")}`))
      yield* stop(app)
    })

  it.live("drop: the connection is cut during the program's second write; it sees the lost connection, the server cleans up", () =>
    dropScenario("write:comm=faults:nth=2:drop", false), SLOW)

  it.live("drop with a path rule (the call's memory goes through the middleware's proxy): the same", () =>
    dropScenario("write:path=/tmp/d*:nth=2:drop", false), SLOW)

  it.live("drop while a live trace reader is connected (every call goes through the proxy): the same", () =>
    dropScenario("write:comm=faults:nth=2:drop", true), SLOW)
})

describe("the syscall trace of a C program", () => {
  it.live("the trace file has exactly its syscalls; sysproxy trace showed the same calls live", () =>
    Effect.gen(function*() {
      const faults = yield* program
      const file = Path.join(yield* tempDir, "trace.json")
      const { app, url, endpoint } = yield* startApp(["--trace-file", file, "--metrics", "127.0.0.1:0"])
      const tracer = yield* startProcess(process.execPath, [
        "--conditions=@sysproxy/source",
        CTL,
        "trace",
        "--endpoint",
        endpoint!,
        "--comm",
        "faults"
      ])
      // "tracing" goes to stderr once the server has taken the request: from then on calls are seen
      yield* Effect.sync(() => tracer.stderr().includes("tracing ")).pipe(
        Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("20 millis") }),
        Effect.timeout("60 seconds"),
        Effect.orDie
      )
      const run = yield* runProcess(faults, ["small"], { RUMP_SERVER: url })
      assert.strictEqual(run.code, 0, run.stderr)
      const pid = Number(/small pid=(\d+)/.exec(run.stdout)?.[1])
      const expected = ["open", "write", "lseek", "read", "close", "getpid"]
      yield* Effect.sync(() => tracer.stdout().split("\n").length > expected.length).pipe(
        Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("20 millis") }),
        Effect.timeout("30 seconds"),
        Effect.orDie
      )
      const live = tracer.stdout().trimEnd().split("\n")
      assert.deepStrictEqual(live.map((l) => /\] \S+ (\w+)\(/.exec(l)?.[1]), expected)
      for (const l of live) assert.isTrue(l.startsWith(`[pid ${pid}<faults>] `), l)
      yield* stop(app)
      const records = Fs.readFileSync(file, "utf8").trimEnd().split("\n").map((l) => JSON.parse(l) as TraceRecord)
      assert.deepStrictEqual(records.map((r) => r.syscall), expected)
      for (const r of records) assert.deepInclude(r, { pid, comm: "faults", errno: null })
      const [open, write, , read] = records
      assert.deepStrictEqual(open!.args[0], { name: "path", string: "/tmp/small" })
      assert.strictEqual(write!.copyin, 5)
      assert.strictEqual(read!.copyout, 5)
    }), SLOW)
})
