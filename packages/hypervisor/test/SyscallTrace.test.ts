/**
 * The syscall trace in-process, over the test kernel: what a record holds
 * (decoded arguments with the strings the kernel read and the bytes at each
 * pointer, the result or errno, copy counts), a trace outside fault
 * injection showing what the client saw, an interrupted call, a sink that
 * is off, the strace-like text, the live listeners and the file sink.
 */
import { assert, describe, it } from "@effect/vitest"
import { SYS } from "@sysproxy/protocol/netbsd"
import { Effect, Fiber, Schema, Stream } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { withFaults } from "../src/faults/FaultInjection.ts"
import { compileGlob, type Glob } from "../src/middleware/Glob.ts"
import { TestHypervisor, TestKernel, TestSyscalls } from "../src/testing/index.ts"
import { type TraceSink, withTrace } from "../src/trace/SyscallTrace.ts"
import { TraceRecordSchema, type TraceRecord } from "../src/trace/TraceRecord.ts"
import { makeLiveTrace, traceFile } from "../src/trace/TraceSinks.ts"
import { formatTraceLine } from "../src/trace/TraceText.ts"
import { call, installOpen, spawn } from "./support/Calls.ts"

const collector = () => {
  const records: Array<TraceRecord> = []
  let on = true
  const sink: TraceSink = { enabled: () => on, write: (r) => void records.push(r) }
  return { records, sink, set: (v: boolean) => void (on = v) }
}


const glob = (pattern: string): Glob => compileGlob(pattern) as Glob

describe("records", () => {
  it.effect("arguments decoded by the NetBSD table, copies counted, results and errno names", () => {
    const c = collector()
    return Effect.gen(function*() {
      yield* installOpen
      const p = yield* spawn("tracee")
      const path = p.memory.allocString("/tmp/traced")
      yield* call(p, SYS.open, path, 0x201, 0o644)
      const buf = p.memory.allocString("hello")
      yield* call(p, SYS.write, 1, buf, 5)
      yield* call(p, SYS.write, 1, buf, 5)
      const into = p.memory.alloc(16)
      yield* call(p, SYS.read, 0, into, 16)
      yield* call(p, SYS.getpid)
      assert.deepStrictEqual(c.records.map((r) => r.syscall), ["open", "write", "write", "read", "getpid"])
      const [open, write, failed, read, getpid] = c.records
      assert.deepStrictEqual(open!.args, [
        { name: "path", string: "/tmp/traced" },
        { name: "flags", value: 0x201 },
        { name: "mode", value: 0o644, mode: true }
      ])
      assert.strictEqual(open!.retval, 3)
      assert.strictEqual(open!.copyin, "/tmp/traced".length + 1)
      assert.deepStrictEqual(write!.args, [
        { name: "fd", value: 1 },
        { name: "buf", addr: `0x${buf.toString(16)}`, bytes: 5 },
        { name: "nbyte", value: 5 }
      ])
      assert.strictEqual(write!.retval, 5)
      assert.strictEqual(write!.copyin, 5)
      // the fault is inside the trace: the record is what the client saw
      assert.strictEqual(failed!.errno, "ENOSPC")
      assert.strictEqual(failed!.retval, -1)
      assert.strictEqual(failed!.copyin, 0)
      assert.deepStrictEqual(failed!.args[1], { name: "buf", addr: `0x${buf.toString(16)}` })
      assert.strictEqual(read!.copyout, 16)
      assert.strictEqual(read!.copyin, 0)
      assert.deepStrictEqual(getpid!.args, [])
      for (const r of c.records) {
        assert.strictEqual(r.pid, p.process.pid)
        assert.strictEqual(r.comm, "tracee")
        assert.match(r.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/)
        assert.isAtLeast(r.duration, 0)
        assert.strictEqual(r.duration, Math.round(r.duration * 1e6) / 1e6, "whole microseconds")
        assert.isAtMost(String(r.duration).length, 8, `no float noise: ${r.duration}`)
        assert.isTrue(Schema.is(TraceRecordSchema)(r))
      }
      assert.strictEqual(new Set(c.records.map((r) => r.lwp)).size, 5, "one lwp per call")
    }).pipe(Effect.provide(TestHypervisor.layer().pipe(withFaults(["write:nth=2:errno=ENOSPC"]), withTrace(c.sink))))
  })

  it.effect("a call off the table shows its raw slots; an interrupted call has no result", () => {
    const c = collector()
    return Effect.gen(function*() {
      const p = yield* spawn("tracee")
      yield* call(p, 499, 7, 8)
      const blocked = yield* call(p, TestSyscalls.block).pipe(Effect.forkChild)
      const kernel = yield* TestKernel
      yield* kernel.awaitSleeping(1)
      yield* Fiber.interrupt(blocked)
      const [unknown, interrupted] = c.records
      assert.strictEqual(unknown!.syscall, "syscall_499")
      assert.deepStrictEqual(unknown!.args, [{ name: "arg0", value: 7 }, { name: "arg1", value: 8 }])
      assert.strictEqual(unknown!.errno, "ENOSYS")
      assert.strictEqual(interrupted!.interrupted, true)
      assert.isNull(interrupted!.retval)
      assert.isNull(interrupted!.errno)
    }).pipe(Effect.provide(TestHypervisor.layer().pipe(withTrace(c.sink))))
  })

  it.effect("while the sink is off nothing is recorded", () => {
    const c = collector()
    return Effect.gen(function*() {
      const p = yield* spawn("tracee")
      c.set(false)
      yield* call(p, SYS.getpid)
      assert.strictEqual(c.records.length, 0)
      c.set(true)
      yield* call(p, SYS.getpid)
      assert.strictEqual(c.records.length, 1)
    }).pipe(Effect.provide(TestHypervisor.layer().pipe(withTrace(c.sink))))
  })
})

describe("text", () => {
  const base: TraceRecord = {
    time: "2025-03-04T05:06:07.000123Z",
    pid: 4,
    comm: "myprog",
    lwp: 9,
    syscall: "open",
    number: SYS.open,
    args: [
      { name: "path", string: "/tmp/a \"b\"\n" },
      { name: "flags", value: 513 },
      { name: "mode", value: 0o644, mode: true }
    ],
    retval: 3,
    errno: null,
    duration: 0.00012,
    copyin: 12,
    copyout: 0
  }

  it("strace -f -tt -T: pid and comm, time, call, result, duration", () => {
    assert.strictEqual(
      formatTraceLine(base),
      '[pid 4<myprog>] 05:06:07.000123 open("/tmp/a \\"b\\"\\n", 513, 0644) = 3 <0.000120>'
    )
    assert.strictEqual(
      formatTraceLine({
        ...base,
        syscall: "write",
        comm: null,
        args: [
          { name: "fd", value: 3 },
          { name: "buf", addr: "0x1000", bytes: 6 },
          { name: "nbyte", value: 6 }
        ],
        retval: -1,
        errno: "ENOSPC"
      }),
      "[pid 4] 05:06:07.000123 write(3, 0x1000<6 bytes>, 6) = -1 ENOSPC (No space left on device) <0.000120>"
    )
    assert.strictEqual(
      formatTraceLine({ ...base, args: [{ name: "path", addr: "0x0" }], retval: null, interrupted: true }),
      "[pid 4<myprog>] 05:06:07.000123 open(NULL) = ? <interrupted> <0.000120>"
    )
  })
})

describe("sinks", () => {
  it.effect("live: each listener gets what passes its filter, from when it started; on only while someone listens", () => {
    const live = makeLiveTrace()
    return Effect.gen(function*() {
      const a = yield* spawn("alpha")
      const b = yield* spawn("beta")
      yield* call(a, SYS.getpid)
      assert.isFalse(live.sink.enabled())
      const all = yield* live.records({}).pipe(Stream.take(4), Stream.runCollect, Effect.forkChild)
      const betaWrites = yield* live.records({ comm: glob("b*"), syscalls: new Set(["write"]) }).pipe(
        Stream.take(1),
        Stream.runCollect,
        Effect.forkChild
      )
      const byPid = yield* live.records({ pid: a.process.pid }).pipe(Stream.take(2), Stream.runCollect, Effect.forkChild)
      yield* Effect.yieldNow
      assert.strictEqual(live.listeners(), 3)
      assert.isTrue(live.sink.enabled())
      yield* call(a, SYS.getpid)
      yield* call(b, SYS.getpid)
      yield* call(b, SYS.write, 1, b.memory.alloc(1), 1)
      yield* call(a, SYS.write, 1, a.memory.alloc(1), 1)
      const seen = (f: Fiber.Fiber<Array<TraceRecord>>) =>
        Effect.map(Fiber.join(f), (rs) => rs.map((r) => `${r.comm} ${r.syscall}`))
      assert.deepStrictEqual(yield* seen(all), ["alpha getpid", "beta getpid", "beta write", "alpha write"])
      assert.deepStrictEqual(yield* seen(betaWrites), ["beta write"])
      assert.deepStrictEqual(yield* seen(byPid), ["alpha getpid", "alpha write"])
      assert.strictEqual(live.listeners(), 0)
      assert.isFalse(live.sink.enabled())
    }).pipe(Effect.provide(TestHypervisor.layer().pipe(withTrace(live.sink))))
  })

  it.effect("a listener that falls behind loses its oldest records; the writer never waits", () =>
    Effect.gen(function*() {
      const live = makeLiveTrace(2)
      const record = (pid: number): TraceRecord => ({
        time: "2025-01-01T00:00:00.000000Z",
        pid,
        comm: null,
        lwp: 1,
        syscall: "getpid",
        number: SYS.getpid,
        args: [],
        retval: pid,
        errno: null,
        duration: 0,
        copyin: 0,
        copyout: 0
      })
      const pull = yield* Stream.toPull(live.records({}))
      const first = yield* pull.pipe(Effect.forkChild)
      yield* Effect.yieldNow
      live.sink.write(record(1))
      assert.deepStrictEqual((yield* Fiber.join(first)).map((r) => r.pid), [1])
      for (let pid = 2; pid <= 6; pid++) live.sink.write(record(pid))
      assert.deepStrictEqual((yield* pull).map((r) => r.pid), [5, 6])
    }))

  it.effect("a file: JSON lines or text, one per call, emptied when opened", () =>
    Effect.gen(function*() {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "trace-"))
      yield* Effect.addFinalizer(() => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true })))
      for (const format of ["json", "text"] as const) {
        const file = Path.join(dir, `trace.${format}`)
        Fs.writeFileSync(file, "old contents\n")
        yield* Effect.scoped(Effect.gen(function*() {
          const sink = yield* traceFile(file, format)
          yield* Effect.gen(function*() {
            const p = yield* spawn("filed")
            yield* call(p, SYS.getpid)
            yield* call(p, SYS.write, 1, p.memory.alloc(2), 2)
          }).pipe(Effect.provide(TestHypervisor.layer().pipe(withTrace(sink))))
        }))
        const lines = Fs.readFileSync(file, "utf8").split("\n")
        assert.strictEqual(lines.length, 3)
        assert.strictEqual(lines[2], "")
        if (format === "json") {
          assert.deepStrictEqual(lines.slice(0, 2).map((l) => (JSON.parse(l) as TraceRecord).syscall), ["getpid", "write"])
        } else {
          assert.match(lines[0]!, /^\[pid 2<filed>\] \d\d:\d\d:\d\d\.\d{6} getpid\(\) = 2 <\d+\.\d{6}>$/)
          assert.match(lines[1]!, /^\[pid 2<filed>\] \S+ write\(1, 0x[0-9a-f]+<2 bytes>, 2\) = 2 </)
        }
      }
    }))

  it.effect("a file that cannot be created is an error naming it", () =>
    Effect.gen(function*() {
      const error = yield* Effect.flip(traceFile("/nonexistent-dir/trace.json", "json"))
      assert.strictEqual(error._tag, "TraceFileError")
      assert.match(error.message, /^cannot write the trace to \/nonexistent-dir\/trace\.json: ENOENT/)
    }))
})
