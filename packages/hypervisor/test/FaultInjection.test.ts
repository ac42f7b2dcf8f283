/**
 * Fault injection in-process, over the test kernel: each matcher (syscall
 * by name, number and base name, "*", pid, comm glob, path glob on a path
 * argument and on a descriptor, nth, every, from, a seeded probability),
 * each action (errno, delay, short, signal, drop), rules changed while
 * running, and what a path rule costs the client (one copyinstr).
 */
import { assert, describe, it } from "@effect/vitest"
import { Errno, signals, SYS } from "@sysproxy/protocol/netbsd"
import { Effect, Exit, Fiber, Layer } from "effect"
import { TestClock } from "effect/testing"
import { DescriptorPaths } from "../src/middleware/DescriptorPaths.ts"
import { FaultInjection, withFaults } from "../src/faults/FaultInjection.ts"
import { Hypervisor } from "../src/Hypervisor.ts"
import { success, TestHypervisor, TestKernel, TestSyscalls } from "../src/testing/index.ts"
import { call, errnos, installOpen, spawn } from "./support/Calls.ts"

const faulty = (rules: ReadonlyArray<string>) => TestHypervisor.layer().pipe(withFaults(rules))


describe("matchers", () => {
  it.effect("a syscall by name: only its calls fail, and the kernel never sees them", () =>
    Effect.gen(function*() {
      const c = yield* spawn("prog")
      const kernel = yield* TestKernel
      const buf = c.memory.allocString("hello")
      assert.strictEqual((yield* call(c, SYS.write, 1, buf, 5)).error, Errno.ENOSPC)
      assert.strictEqual((yield* kernel.output(c.process.pid)).length, 0)
      const pid = yield* call(c, SYS.getpid)
      assert.deepStrictEqual(pid, success(BigInt(c.process.pid), 1n))
    }).pipe(Effect.provide(faulty(["write:errno=ENOSPC"]))))

  it.effect("a syscall by number, by base name (nanosleep is __nanosleep50), and * for every call", () =>
    Effect.gen(function*() {
      const c = yield* spawn("prog")
      const fi = yield* FaultInjection
      assert.strictEqual((yield* call(c, SYS.getpid)).error, Errno.EIO)
      assert.strictEqual((yield* call(c, SYS.write, 1, c.memory.alloc(1), 1)).error, 0)
      yield* fi.set(["nanosleep:errno=EINVAL"])
      assert.deepStrictEqual(fi.list(), ["nanosleep:errno=EINVAL"])
      assert.strictEqual((yield* call(c, SYS.__nanosleep50, 0, 0)).error, Errno.EINVAL)
      yield* fi.set(["*:errno=EPERM"])
      assert.strictEqual((yield* call(c, SYS.getpid)).error, Errno.EPERM)
      assert.strictEqual((yield* call(c, TestSyscalls.raise, 1)).error, Errno.EPERM)
    }).pipe(Effect.provide(faulty([`${SYS.getpid}:errno=EIO`]))))

  it.effect("pid: only that process", () =>
    Effect.gen(function*() {
      const a = yield* spawn("a")
      const b = yield* spawn("b")
      assert.strictEqual(a.process.pid, 2)
      assert.strictEqual((yield* call(a, SYS.getpid)).error, Errno.EIO)
      assert.strictEqual((yield* call(b, SYS.getpid)).error, 0)
    }).pipe(Effect.provide(faulty(["*:pid=2:errno=EIO"]))))

  it.effect("comm glob: by the program's name, as exec changes it", () =>
    Effect.gen(function*() {
      const hv = yield* Hypervisor
      const mine = yield* spawn("myprog")
      const other = yield* spawn("other")
      assert.strictEqual((yield* call(mine, SYS.getpid)).error, Errno.EACCES)
      assert.strictEqual((yield* call(other, SYS.getpid)).error, 0)
      yield* hv.lwpExit(other.process)
      yield* hv.execNotify(other.process, "my-other")
      assert.strictEqual((yield* call(other, SYS.getpid)).error, Errno.EACCES)
      // a forked child inherits the name
      const child = yield* hv.rfork({ client: mine.service, mode: "copy", parent: mine.process })
      assert.strictEqual((yield* call({ ...mine, process: child }, SYS.getpid)).error, Errno.EACCES)
    }).pipe(Effect.provide(faulty(["getpid:comm=my*:errno=EACCES"]))))

  it.effect("path glob on a path argument: read with one copyinstr, which the kernel's own then reuses", () =>
    Effect.gen(function*() {
      yield* installOpen
      const c = yield* spawn("prog")
      const logPath = c.memory.allocString("/tmp/log.1")
      const other = c.memory.allocString("/etc/motd")
      assert.strictEqual((yield* call(c, SYS.open, logPath, 0, 0)).error, Errno.EACCES)
      assert.strictEqual(c.asked.copyinstr, 1)
      assert.strictEqual((yield* call(c, SYS.open, other, 0, 0)).error, 0)
      assert.strictEqual(c.asked.copyinstr, 2, "one copyinstr for the rule, none more for the kernel")
      // `*` does not cross `/`; `**` does
      assert.strictEqual((yield* call(c, SYS.open, c.memory.allocString("/tmp/log/deeper"), 0, 0)).error, 0)
    }).pipe(Effect.provide(faulty(["open:path=/tmp/log*:errno=EACCES"]))))

  it.effect("path glob on a descriptor: the file it is open on, from the kernel's DescriptorPaths", () =>
    Effect.gen(function*() {
      const c = yield* spawn("prog")
      const buf = c.memory.alloc(4)
      assert.strictEqual((yield* call(c, SYS.write, 3, buf, 4)).error, Errno.ENOSPC)
      assert.strictEqual((yield* call(c, SYS.write, 4, buf, 4)).error, 0)
      assert.strictEqual((yield* call(c, SYS.write, 5, buf, 4)).error, 0, "a descriptor the kernel cannot name")
      assert.strictEqual(c.asked.copyinstr, 0, "write has no path argument to read")
    }).pipe(Effect.provide(
      Layer.merge(
        TestHypervisor.layer(),
        Layer.succeed(DescriptorPaths, { pathOf: (_pid, fd) => (fd === 3 ? "/tmp/log" : fd === 4 ? "/tmp/data" : undefined) })
      ).pipe(withFaults(["write:path=/tmp/log*:errno=ENOSPC"]))
    )))

  it.effect("nth, every, from, from with every", () =>
    Effect.gen(function*() {
      const fi = yield* FaultInjection
      const c = yield* spawn("prog")
      const failing = (rule: string) =>
        Effect.gen(function*() {
          yield* fi.set([rule])
          const es = yield* errnos(c, 8, SYS.getpid)
          return es.flatMap((e, i) => (e === 0 ? [] : [i + 1]))
        })
      assert.deepStrictEqual(yield* failing("getpid:nth=3:errno=EIO"), [3])
      assert.deepStrictEqual(yield* failing("getpid:every=3:errno=EIO"), [3, 6])
      assert.deepStrictEqual(yield* failing("getpid:from=6:errno=EIO"), [6, 7, 8])
      assert.deepStrictEqual(yield* failing("getpid:from=2:every=3:errno=EIO"), [2, 5, 8])
    }).pipe(Effect.provide(faulty([]))))

  it.effect("only matching calls count: a comm rule's third call is the third by that program", () =>
    Effect.gen(function*() {
      const mine = yield* spawn("mine")
      const other = yield* spawn("other")
      const order: Array<[string, number]> = []
      for (const [who, c] of [["m", mine], ["o", other], ["o", other], ["m", mine], ["m", mine], ["m", mine]] as const) {
        order.push([who, (yield* call(c, SYS.getpid)).error])
      }
      assert.deepStrictEqual(order, [["m", 0], ["o", 0], ["o", 0], ["m", 0], ["m", Errno.EIO], ["m", 0]])
    }).pipe(Effect.provide(faulty(["getpid:comm=mine:nth=3:errno=EIO"]))))

  it.effect("a probability with a seed fails the same calls every run; p=0 never, p=1 always", () =>
    Effect.gen(function*() {
      const run = (rule: string) =>
        Effect.gen(function*() {
          const c = yield* spawn("prog")
          const es = yield* errnos(c, 200, SYS.getpid)
          return es.flatMap((e, i) => (e === 0 ? [] : [i]))
        }).pipe(Effect.provide(faulty([rule])))
      const first = yield* run("getpid:p=0.25:seed=7:errno=EIO")
      const second = yield* run("getpid:p=0.25:seed=7:errno=EIO")
      assert.deepStrictEqual(first, second)
      assert.isAbove(first.length, 20)
      assert.isBelow(first.length, 80)
      assert.notDeepEqual(yield* run("getpid:p=0.25:seed=8:errno=EIO"), first)
      assert.strictEqual((yield* run("getpid:p=0:errno=EIO")).length, 0)
      assert.strictEqual((yield* run("getpid:p=1:errno=EIO")).length, 200)
    }))

  it.effect("a probability without a seed is given one, shown in its text so the run can be replayed", () =>
    Effect.gen(function*() {
      const fi = yield* FaultInjection
      const [text] = fi.list()
      const seed = /:seed=(\d+):/.exec(text ?? "")?.[1]
      assert.isDefined(seed, text)
      const c = yield* spawn("prog")
      const first = yield* errnos(c, 100, SYS.getpid)
      const replay = yield* Effect.gen(function*() {
        const again = yield* spawn("prog")
        return yield* errnos(again, 100, SYS.getpid)
      }).pipe(Effect.provide(faulty([text!])))
      assert.deepStrictEqual(replay, first)
    }).pipe(Effect.provide(faulty(["getpid:p=0.5:errno=EIO"]))))
})

describe("actions", () => {
  it.effect("delay: the call waits, then runs", () =>
    Effect.gen(function*() {
      const c = yield* spawn("prog")
      const fiber = yield* call(c, SYS.getpid).pipe(Effect.forkChild)
      yield* TestClock.adjust("49 millis")
      assert.isUndefined(fiber.pollUnsafe())
      yield* TestClock.adjust("1 millis")
      assert.deepStrictEqual(yield* Fiber.join(fiber), success(BigInt(c.process.pid), 1n))
    }).pipe(Effect.provide(faulty(["getpid:delay=50ms"]))))

  it.effect("delay: ordered out (a disconnect, an exec) the call ends at once with EINTR, as a sleep does", () =>
    Effect.gen(function*() {
      const hv = yield* Hypervisor
      const c = yield* spawn("prog")
      const first = yield* call(c, SYS.getpid).pipe(Effect.forkChild)
      yield* Effect.yieldNow
      yield* hv.lwpExit(c.process)
      assert.strictEqual((yield* Fiber.join(first)).error, Errno.EINTR)
      // the exec is done: delays apply again
      yield* hv.execNotify(c.process, "prog")
      const second = yield* call(c, SYS.getpid).pipe(Effect.forkChild)
      yield* TestClock.adjust("59 seconds")
      assert.isUndefined(second.pollUnsafe())
      yield* TestClock.adjust("1 seconds")
      assert.strictEqual((yield* Fiber.join(second)).error, 0)
    }).pipe(Effect.provide(faulty(["getpid:delay=1m"]))))

  it.effect("short: a write moves at most K bytes, a read too; shorter calls are left alone", () =>
    Effect.gen(function*() {
      const kernel = yield* TestKernel
      const c = yield* spawn("prog")
      const w = yield* call(c, SYS.write, 1, c.memory.allocString("hello"), 5)
      assert.strictEqual(w.retval0, 2n)
      assert.deepStrictEqual([...(yield* kernel.output(c.process.pid))], [...new TextEncoder().encode("he")])
      assert.strictEqual((yield* call(c, SYS.write, 1, c.memory.allocString("x"), 1)).retval0, 1n)
      const into = c.memory.alloc(8)
      assert.strictEqual((yield* call(c, SYS.read, 0, into, 8)).retval0, 2n)
      assert.deepStrictEqual([...c.memory.read(into, 8)!], [0, 1, 0, 0, 0, 0, 0, 0])
    }).pipe(Effect.provide(faulty(["write:short=2", "read:short=2"]))))

  it.effect("signal: raised at the caller, and the call then runs", () =>
    Effect.gen(function*() {
      const c = yield* spawn("prog")
      assert.strictEqual((yield* call(c, SYS.getpid)).error, 0)
      assert.deepStrictEqual(c.memory.signals, [signals.SIGUSR1])
    }).pipe(Effect.provide(faulty(["getpid:signal=USR1"]))))

  it.effect("signal and errno together: the signal, then the failure", () =>
    Effect.gen(function*() {
      const c = yield* spawn("prog")
      assert.strictEqual((yield* call(c, SYS.getpid)).error, Errno.EINTR)
      assert.deepStrictEqual(c.memory.signals, [signals.SIGALRM])
    }).pipe(Effect.provide(faulty(["getpid:signal=SIGALRM:errno=EINTR"]))))

  it.effect("drop: the client's connection is closed and the call held until the process is ordered out", () =>
    Effect.gen(function*() {
      const hv = yield* Hypervisor
      const c = yield* spawn("prog")
      const fiber = yield* call(c, SYS.getpid).pipe(Effect.forkChild)
      yield* Effect.yieldNow
      assert.strictEqual(c.memory.disconnected, "fault injection: getpid:drop")
      assert.isUndefined(fiber.pollUnsafe())
      yield* hv.lwpExit(c.process)
      assert.strictEqual((yield* Fiber.join(fiber)).error, Errno.EINTR)
    }).pipe(Effect.provide(faulty(["getpid:drop"]))))
})

describe("changing rules", () => {
  it.effect("set replaces, add appends, clear empties; a bad rule leaves the rules as they were", () =>
    Effect.gen(function*() {
      const fi = yield* FaultInjection
      const c = yield* spawn("prog")
      yield* fi.add(["write:errno=EIO"])
      assert.deepStrictEqual(fi.list(), ["getpid:nth=2:errno=EIO", "write:errno=EIO"])
      const bad = yield* Effect.exit(fi.set(["getpid:errno=EIO", "wrte:errno=EIO"]))
      assert.isTrue(Exit.isFailure(bad))
      assert.deepStrictEqual(fi.list(), ["getpid:nth=2:errno=EIO", "write:errno=EIO"])
      assert.deepStrictEqual(yield* errnos(c, 3, SYS.getpid), [0, Errno.EIO, 0])
      assert.strictEqual(fi.injected(), 1)
      yield* fi.clear
      assert.deepStrictEqual(fi.list(), [])
      assert.deepStrictEqual(yield* errnos(c, 2, SYS.getpid), [0, 0])
    }).pipe(Effect.provide(faulty(["getpid:nth=2:errno=EIO"]))))

  it.effect("trySet, for a sysctl node's write: the refusal as a value, and the rules unchanged by it", () =>
    Effect.gen(function*() {
      const fi = yield* FaultInjection
      const refused = fi.trySet(["getpid:errno=EIO", "getpid:errno=ENOSPX"])
      assert.strictEqual(refused?.message, 'unknown errno "ENOSPX"')
      assert.deepStrictEqual(fi.list(), ["write:errno=EIO"])
      assert.isUndefined(fi.trySet(["getpid:nth=1:errno=EIO"]))
      assert.deepStrictEqual(fi.list(), ["getpid:nth=1:errno=EIO"])
      const c = yield* spawn("prog")
      assert.deepStrictEqual(yield* errnos(c, 2, SYS.getpid), [Errno.EIO, 0])
    }).pipe(Effect.provide(faulty(["write:errno=EIO"]))))

  it.effect("a rule set again keeps its count; a new one starts at zero", () =>
    Effect.gen(function*() {
      const fi = yield* FaultInjection
      const c = yield* spawn("prog")
      assert.deepStrictEqual(yield* errnos(c, 2, SYS.getpid), [0, 0])
      yield* fi.set(["getpid:nth=3:errno=EIO", "write:errno=EIO"])
      assert.deepStrictEqual(yield* errnos(c, 1, SYS.getpid), [Errno.EIO])
      yield* fi.set(["getpid:nth=2:errno=EIO"])
      assert.deepStrictEqual(yield* errnos(c, 3, SYS.getpid), [0, Errno.EIO, 0])
    }).pipe(Effect.provide(faulty(["getpid:nth=3:errno=EIO"]))))

  it.effect("a bad rule fails the layer with the rule and the reason", () =>
    Effect.gen(function*() {
      const exit = yield* Effect.exit(Effect.provide(Effect.service(Hypervisor), faulty(["write:errno=ENOSPX"])))
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        assert.include(String(exit.cause), "unknown errno \"ENOSPX\"")
      }
    }))
})
