import { assert, describe, it } from "@effect/vitest"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { Deferred, Effect, Fiber } from "effect"
import {
  Hypervisor,
  type LocalMemory,
  type LwpHandle,
  makeLocalMemory,
  type ProcessHandle,
  provideLocalMemory,
  type RforkOptions
} from "../src/index.ts"
import { failure, packArgs, success, TestHypervisor, TestKernel, TestSyscalls } from "../src/testing/index.ts"

const TestLayer = TestHypervisor.layer()

/** A process with its own client memory. */
const spawn = Effect.fn("spawn")(function*(options?: Omit<RforkOptions, "client" | "mode"> & { mode?: RforkOptions["mode"] }) {
  const hv = yield* Hypervisor
  const memory = makeLocalMemory()
  const process = yield* hv.rfork({ client: memory.service, mode: "clear", ...options })
  return { process, memory }
})

/** One syscall on a fresh lwp of `process`, with `memory` as the caller's memory; the lwp is released after. */
const call = (process: ProcessHandle, memory: LocalMemory, number: number, ...args: ReadonlyArray<bigint | number>) =>
  Effect.gen(function*() {
    const hv = yield* Hypervisor
    return yield* Effect.acquireUseRelease(
      hv.newLwp(process.pid),
      (lwp) => hv.syscall(lwp, number, packArgs(...args)).pipe(provideLocalMemory(memory)),
      (lwp) => hv.releaseLwp(lwp)
    )
  })

describe("rfork", () => {
  it.effect("clear forks a new guest from init, copy and share fork from the parent", () =>
    Effect.gen(function*() {
      const kernel = yield* TestKernel
      const a = yield* spawn({ comm: "a" })
      const b = yield* spawn({ mode: "copy", parent: a.process })
      const c = yield* spawn({ mode: "share", parent: b.process, comm: "c" })
      const d = yield* spawn({ mode: "clear", parent: a.process })
      assert.deepStrictEqual([a, b, c, d].map((x) => x.process.pid), [2, 3, 4, 5])
      const [pa, pb, pc, pd] = yield* kernel.processes
      assert.strictEqual(pa?.ppid, 1)
      assert.strictEqual(pa?.mode, "clear")
      assert.strictEqual(pa?.client, a.memory.service)
      assert.strictEqual(pb?.ppid, 2)
      assert.strictEqual(pb?.comm, "a", "comm is inherited from the parent")
      assert.strictEqual(pc?.ppid, 3)
      assert.strictEqual(pc?.comm, "c")
      assert.strictEqual(pd?.ppid, 1, "a clear fork hangs under init")
      assert.strictEqual(pd?.comm, "init")
      // Descriptor tables: clear and copy get new ones, copy remembers its source, share reuses.
      assert.isUndefined(pa?.descriptors.copiedFrom)
      assert.notStrictEqual(pb?.descriptors.id, pa?.descriptors.id)
      assert.strictEqual(pb?.descriptors.copiedFrom, pa?.descriptors.id)
      assert.strictEqual(pc?.descriptors.id, pb?.descriptors.id)
      assert.isUndefined(pd?.descriptors.copiedFrom)
      assert.isFalse(new Set([pa, pb, pd].map((p) => p?.descriptors.id)).size < 3)
      assert.strictEqual(yield* kernel.processCount, 4)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("fails with ESRCH when the parent is released, and reuses the lowest free pid", () =>
    Effect.gen(function*() {
      const hv = yield* Hypervisor
      const a = yield* spawn()
      const b = yield* spawn()
      yield* hv.releaseProcess(a.process)
      const error = yield* Effect.flip(spawn({ mode: "copy", parent: a.process }))
      assert.strictEqual(error._tag, "HypervisorError")
      assert.strictEqual(error.errno, Errno.ESRCH)
      assert.strictEqual(error.op, "rfork")
      const c = yield* spawn()
      assert.strictEqual(c.process.pid, 2)
      assert.strictEqual(b.process.pid, 3)
      // The stale handle for pid 2 must not reach the process now holding that pid.
      const stale = yield* Effect.flip(spawn({ mode: "share", parent: a.process }))
      assert.strictEqual(stale.errno, Errno.ESRCH)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("identity defaults and can be given", () =>
    Effect.gen(function*() {
      const hv = yield* Hypervisor
      assert.strictEqual(hv.identity.ostype, "NetBSD")
      const custom = yield* Hypervisor.use((h) => Effect.succeed(h.identity)).pipe(
        Effect.provide(TestHypervisor.layer({ identity: { ostype: "Test", osrelease: "1.0", machine: "x" } }))
      )
      assert.deepStrictEqual(custom, { ostype: "Test", osrelease: "1.0", machine: "x" })
    }).pipe(Effect.provide(TestLayer)))
})

describe("lwps", () => {
  it.effect("newLwp: ESRCH for no such process, increasing lids, releaseLwp removes", () =>
    Effect.gen(function*() {
      const hv = yield* Hypervisor
      const kernel = yield* TestKernel
      assert.strictEqual((yield* Effect.flip(hv.newLwp(42))).errno, Errno.ESRCH)
      assert.strictEqual((yield* Effect.flip(hv.newLwp(1))).errno, Errno.ESRCH, "init takes no syscalls")
      const { process } = yield* spawn()
      const l1 = yield* hv.newLwp(process.pid)
      const l2 = yield* hv.newLwp(process.pid)
      assert.strictEqual(l1.pid, process.pid)
      assert.isTrue(l2.lid > l1.lid)
      assert.strictEqual(yield* kernel.lwpCount, 2)
      assert.deepStrictEqual((yield* kernel.process(process.pid))?.lwps, [l1.lid, l2.lid])
      yield* hv.releaseLwp(l1)
      assert.strictEqual(yield* kernel.lwpCount, 1)
      assert.deepStrictEqual((yield* kernel.process(process.pid))?.lwps, [l2.lid])
      yield* hv.releaseLwp(l2)
      assert.strictEqual(yield* kernel.lwpCount, 0)
      yield* hv.releaseProcess(process)
      assert.strictEqual((yield* Effect.flip(hv.newLwp(process.pid))).errno, Errno.ESRCH)
      assert.deepStrictEqual(yield* kernel.misuse, [])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("newLwp answers EBUSY between lwpExit and execNotify", () =>
    Effect.gen(function*() {
      const hv = yield* Hypervisor
      const kernel = yield* TestKernel
      const { process } = yield* spawn({ comm: "sh" })
      yield* hv.lwpExit(process)
      assert.isTrue((yield* kernel.process(process.pid))?.lwpExitPending)
      const busy = yield* Effect.flip(hv.newLwp(process.pid))
      assert.strictEqual(busy.errno, Errno.EBUSY)
      assert.strictEqual(busy.op, "newLwp")
      yield* hv.execNotify(process, "ls")
      const info = yield* kernel.process(process.pid)
      assert.isFalse(info?.lwpExitPending)
      assert.strictEqual(info?.comm, "ls")
      assert.strictEqual(info?.execCount, 1)
      const lwp = yield* hv.newLwp(process.pid)
      yield* hv.releaseLwp(lwp)
      yield* hv.lwpExit(process)
      yield* hv.execNotify(process, "cat")
      assert.strictEqual((yield* kernel.process(process.pid))?.execCount, 2)
    }).pipe(Effect.provide(TestLayer)))

  it.live("lwpExit wakes 100 sleepers with EINTR without waiting for them to leave", () =>
    Effect.gen(function*() {
      const hv = yield* Hypervisor
      const kernel = yield* TestKernel
      const gate = yield* Deferred.make<void>()
      // Sleeps, then after waking stays in the kernel until the gate opens.
      yield* kernel.setHandler(2000, (ctx) =>
        ctx.sleep.pipe(Effect.andThen(Deferred.await(gate)), Effect.as(failure(Errno.EINTR))))
      const { memory, process } = yield* spawn()
      const other = yield* spawn()
      const sleepers = yield* Effect.forEach(
        Array.from({ length: 100 }, (_, i) => i),
        // Sequential: a child forked inside a concurrent forEach would die with its worker fiber.
        (i) => Effect.forkChild(call(process, memory, i % 2 === 0 ? SYS.__nanosleep50 : 2000))
      )
      const bystander = yield* Effect.forkChild(call(other.process, other.memory, TestSyscalls.block))
      yield* kernel.awaitSleeping(101)
      yield* hv.lwpExit(process).pipe(Effect.timeout("1 second"))
      // The ones held by the gate are awake but still in the kernel.
      assert.strictEqual(yield* kernel.sleeping, 1, "only the other process's lwp still sleeps")
      assert.strictEqual(yield* kernel.lwpCount, 51)
      yield* Deferred.succeed(gate, undefined)
      const results = yield* Effect.forEach(sleepers, Fiber.join)
      assert.isTrue(results.every((r) => r.error === Errno.EINTR))
      assert.strictEqual(yield* kernel.lwpCount, 1)
      assert.isUndefined(bystander.pollUnsafe(), "another process's sleeper is not woken")
      yield* hv.lwpExit(other.process)
      assert.deepStrictEqual(yield* Fiber.join(bystander), failure(Errno.EINTR))
      assert.strictEqual(yield* kernel.lwpCount, 0)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("an lwp ordered out before it sleeps does not sleep at all", () =>
    Effect.gen(function*() {
      const hv = yield* Hypervisor
      const kernel = yield* TestKernel
      const { memory, process } = yield* spawn()
      const lwp = yield* hv.newLwp(process.pid)
      yield* hv.lwpExit(process)
      const result = yield* hv.syscall(lwp, SYS.__nanosleep50, packArgs(0, 0)).pipe(provideLocalMemory(memory))
      assert.strictEqual(result.error, Errno.EINTR)
      assert.strictEqual(yield* kernel.sleeping, 0)
      yield* hv.releaseLwp(lwp)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("an interrupted sleeper leaves no sleeper behind", () =>
    Effect.gen(function*() {
      const kernel = yield* TestKernel
      const { memory, process } = yield* spawn()
      const fiber = yield* Effect.forkChild(call(process, memory, TestSyscalls.block))
      yield* kernel.awaitSleeping(1)
      yield* Fiber.interrupt(fiber)
      assert.strictEqual(yield* kernel.sleeping, 0)
      assert.strictEqual(yield* kernel.lwpCount, 0)
      // A later wake-up finds nothing to wake.
      yield* Hypervisor.use((hv) => hv.lwpExit(process))
      assert.strictEqual(yield* kernel.sleeping, 0)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("releaseProcess reparents the children to init and is counted", () =>
    Effect.gen(function*() {
      const hv = yield* Hypervisor
      const kernel = yield* TestKernel
      const a = yield* spawn()
      const b = yield* spawn({ mode: "copy", parent: a.process })
      const c = yield* spawn({ mode: "copy", parent: b.process })
      yield* hv.releaseProcess(a.process)
      assert.strictEqual(yield* kernel.releasedCount, 1)
      assert.strictEqual(yield* kernel.processCount, 2)
      assert.isUndefined(yield* kernel.process(a.process.pid))
      assert.strictEqual((yield* kernel.process(b.process.pid))?.ppid, 1)
      assert.strictEqual((yield* kernel.process(c.process.pid))?.ppid, b.process.pid)
      const r = yield* call(b.process, b.memory, SYS.getpid)
      assert.deepStrictEqual(r, success(BigInt(b.process.pid), 1n))
      assert.deepStrictEqual(yield* kernel.misuse, [])
      yield* hv.releaseProcess(a.process)
      assert.strictEqual(yield* kernel.releasedCount, 1)
      assert.strictEqual((yield* kernel.misuse).length, 1, "a double release is reported")
    }).pipe(Effect.provide(TestLayer)))

  it.effect("many concurrent syscalls leave no lwp behind; leaks are visible", () =>
    Effect.gen(function*() {
      const hv = yield* Hypervisor
      const kernel = yield* TestKernel
      const { memory, process } = yield* spawn()
      yield* Effect.forEach(Array.from({ length: 50 }), () => call(process, memory, SYS.getpid), {
        concurrency: "unbounded"
      })
      assert.strictEqual(yield* kernel.lwpCount, 0)
      const leaked: LwpHandle = yield* hv.newLwp(process.pid)
      assert.strictEqual(yield* kernel.lwpCount, 1)
      yield* hv.releaseProcess(process)
      assert.strictEqual(yield* kernel.lwpCount, 1)
      assert.match((yield* kernel.misuse)[0] ?? "", /still has 1 lwp/)
      yield* hv.releaseLwp(leaked)
      assert.strictEqual(yield* kernel.lwpCount, 0)
    }).pipe(Effect.provide(TestLayer)))
})

describe("syscalls", () => {
  it.effect("getpid answers pid and ppid", () =>
    Effect.gen(function*() {
      const a = yield* spawn()
      const b = yield* spawn({ mode: "copy", parent: a.process })
      assert.deepStrictEqual(yield* call(a.process, a.memory, SYS.getpid), success(2n, 1n))
      assert.deepStrictEqual(yield* call(b.process, b.memory, SYS.getpid), success(3n, 2n))
    }).pipe(Effect.provide(TestLayer)))

  it.effect("write logs per process; read fills with i & 0xff; faults become EFAULT", () =>
    Effect.gen(function*() {
      const kernel = yield* TestKernel
      const a = yield* spawn()
      const b = yield* spawn()
      const hello = a.memory.allocString("hello")
      assert.deepStrictEqual(yield* call(a.process, a.memory, SYS.write, 1, hello, 3), success(3n))
      assert.deepStrictEqual(yield* call(a.process, a.memory, SYS.write, 1, hello + 3n, 2), success(2n))
      assert.deepStrictEqual(yield* call(a.process, a.memory, SYS.write, 1, hello, 7), failure(Errno.EFAULT))
      assert.strictEqual(new TextDecoder().decode(yield* kernel.output(a.process.pid)), "hello")
      assert.strictEqual((yield* kernel.output(b.process.pid)).length, 0)
      const buf = b.memory.alloc(300)
      assert.deepStrictEqual(yield* call(b.process, b.memory, SYS.read, 0, buf, 300), success(300n))
      const got = b.memory.read(buf, 300)
      assert.strictEqual(got?.[0], 0)
      assert.strictEqual(got?.[255], 255)
      assert.strictEqual(got?.[256], 0)
      assert.strictEqual(got?.[299], 43)
      assert.deepStrictEqual(yield* call(b.process, b.memory, SYS.read, 0, buf, 301), failure(Errno.EFAULT))
    }).pipe(Effect.provide(TestLayer)))

  it.effect("kill raises on the target's client; sig 0 only checks; ESRCH for no target", () =>
    Effect.gen(function*() {
      const a = yield* spawn()
      const b = yield* spawn()
      assert.deepStrictEqual(yield* call(a.process, a.memory, SYS.kill, b.process.pid, 15), success())
      assert.deepStrictEqual(b.memory.signals, [15])
      assert.deepStrictEqual(a.memory.signals, [])
      assert.deepStrictEqual(yield* call(a.process, a.memory, SYS.kill, b.process.pid, 0), success())
      assert.deepStrictEqual(b.memory.signals, [15])
      assert.deepStrictEqual(yield* call(a.process, a.memory, SYS.kill, 99, 0), failure(Errno.ESRCH))
      assert.deepStrictEqual(yield* call(a.process, a.memory, SYS.kill, 99, 9), failure(Errno.ESRCH))
      assert.deepStrictEqual(yield* call(a.process, a.memory, SYS.kill, 1, 0), success())
      assert.deepStrictEqual(yield* call(a.process, a.memory, SYS.kill, 1, 9), failure(Errno.EPERM))
      // Its own pid goes through its rfork client too.
      assert.deepStrictEqual(yield* call(a.process, a.memory, SYS.kill, a.process.pid, 2), success())
      assert.deepStrictEqual(a.memory.signals, [2])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("the raise test syscall raises on the caller's UserMemory", () =>
    Effect.gen(function*() {
      const a = yield* spawn()
      const elsewhere = makeLocalMemory()
      // The per-call UserMemory, not the rfork client, receives it.
      assert.deepStrictEqual(yield* call(a.process, elsewhere, TestSyscalls.raise, 6), success())
      assert.deepStrictEqual(elsewhere.signals, [6])
      assert.deepStrictEqual(a.memory.signals, [])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("anonmmap, copyinstr and echo test syscalls", () =>
    Effect.gen(function*() {
      const kernel = yield* TestKernel
      const { process } = yield* spawn()
      const memory = makeLocalMemory({ anonmmapLimit: 4096n })
      const mapped = yield* call(process, memory, TestSyscalls.anonmmap, 4096)
      assert.strictEqual(mapped.error, 0)
      assert.deepStrictEqual(memory.read(mapped.retval0, 4096), new Uint8Array(4096))
      assert.deepStrictEqual(yield* call(process, memory, TestSyscalls.anonmmap, 1), failure(Errno.ENOMEM))

      const s = memory.allocString("path/x")
      assert.deepStrictEqual(yield* call(process, memory, TestSyscalls.copyinstr, s, 100), success(6n))
      assert.strictEqual(yield* kernel.lastString, "path/x")
      assert.deepStrictEqual(yield* call(process, memory, TestSyscalls.copyinstr, s, 6), failure(Errno.ENAMETOOLONG))
      assert.deepStrictEqual(yield* call(process, memory, TestSyscalls.copyinstr, s, 7), success(6n))
      const noNul = memory.alloc(new TextEncoder().encode("ab"))
      assert.deepStrictEqual(yield* call(process, memory, TestSyscalls.copyinstr, noNul, 3), failure(Errno.EFAULT))

      const src = memory.alloc(Uint8Array.from([1, 2, 3]))
      const dst = memory.alloc(3)
      assert.deepStrictEqual(yield* call(process, memory, TestSyscalls.echo, src, 3, dst), success(3n))
      assert.deepStrictEqual(memory.read(dst, 3), Uint8Array.from([1, 2, 3]))
      assert.deepStrictEqual(yield* call(process, memory, TestSyscalls.echo, src, 3, dst + 1n), failure(Errno.EFAULT))
    }).pipe(Effect.provide(TestLayer)))

  it.effect("unknown syscalls answer ENOSYS and are counted per number", () =>
    Effect.gen(function*() {
      const kernel = yield* TestKernel
      const { memory, process } = yield* spawn()
      assert.deepStrictEqual(yield* call(process, memory, 999), failure(Errno.ENOSYS))
      yield* call(process, memory, 999)
      yield* call(process, memory, 77)
      assert.deepStrictEqual([...(yield* kernel.unimplemented)].sort(), [[77, 1], [999, 2]])
    }).pipe(Effect.provide(TestLayer)))

  it.effect("setHandler scripts a syscall with slot readers, overriding built-ins", () =>
    Effect.gen(function*() {
      const kernel = yield* TestKernel
      const { memory, process } = yield* spawn()
      yield* kernel.setHandler(SYS.getpid, (ctx) =>
        Effect.succeed(success(ctx.args.i64(0), BigInt(ctx.args.i32(1) + ctx.args.slots))))
      assert.deepStrictEqual(yield* call(process, memory, SYS.getpid, -5, -2), success(-5n, 0n))
      assert.deepStrictEqual(yield* call(process, memory, SYS.getpid), success(0n, 0n), "missing slots read as 0")
      assert.strictEqual((yield* kernel.unimplemented).size, 0)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("syscall on a released lwp answers ESRCH and is reported", () =>
    Effect.gen(function*() {
      const hv = yield* Hypervisor
      const kernel = yield* TestKernel
      const { memory, process } = yield* spawn()
      const lwp = yield* hv.newLwp(process.pid)
      yield* hv.releaseLwp(lwp)
      const r = yield* hv.syscall(lwp, SYS.getpid, new Uint8Array(0)).pipe(provideLocalMemory(memory))
      assert.deepStrictEqual(r, failure(Errno.ESRCH))
      assert.strictEqual((yield* kernel.misuse).length, 1)
    }).pipe(Effect.provide(TestLayer)))
})

describe("halt", () => {
  it.effect("reboot completes awaitHalt with howto and the asking lwp, and answers 0", () =>
    Effect.gen(function*() {
      const hv = yield* Hypervisor
      const { memory, process } = yield* spawn()
      const waiter = yield* Effect.forkChild(hv.awaitHalt)
      yield* Effect.yieldNow
      assert.isUndefined(waiter.pollUnsafe(), "no halt before reboot")
      const lwp = yield* hv.newLwp(process.pid)
      const r = yield* hv.syscall(lwp, SYS.reboot, packArgs(4, 0)).pipe(provideLocalMemory(memory))
      assert.deepStrictEqual(r, success())
      const request = yield* Fiber.join(waiter)
      assert.strictEqual(request.howto, 4)
      assert.strictEqual(request.lwp, lwp)
      // Later requests do not replace the first.
      yield* (yield* TestKernel).halt(8)
      assert.strictEqual((yield* hv.awaitHalt).howto, 4)
    }).pipe(Effect.provide(TestLayer)))

  it.effect("TestKernel.halt asks from outside, with no lwp", () =>
    Effect.gen(function*() {
      const hv = yield* Hypervisor
      const kernel = yield* TestKernel
      yield* kernel.halt(0x100)
      assert.deepStrictEqual(yield* hv.awaitHalt, { howto: 0x100, lwp: undefined })
    }).pipe(Effect.provide(TestLayer)))
})

describe("awaitSleeping", () => {
  it.effect("waits for exactly n sleepers", () =>
    Effect.gen(function*() {
      const kernel = yield* TestKernel
      const { memory, process } = yield* spawn()
      yield* kernel.awaitSleeping(0)
      const two = yield* Effect.forkChild(kernel.awaitSleeping(2))
      const f1 = yield* Effect.forkChild(call(process, memory, TestSyscalls.block))
      yield* kernel.awaitSleeping(1)
      assert.isUndefined(two.pollUnsafe())
      const f2 = yield* Effect.forkChild(call(process, memory, TestSyscalls.block))
      yield* Fiber.join(two)
      assert.strictEqual(yield* kernel.sleeping, 2)
      yield* Fiber.interrupt(f1)
      yield* Fiber.interrupt(f2)
      yield* kernel.awaitSleeping(0)
    }).pipe(Effect.provide(TestLayer)))
})

// Each `Effect.provide(TestLayer)` builds a fresh kernel: tests do not share state.
it.effect("layers are independent", () =>
  Effect.gen(function*() {
    const first = yield* spawn().pipe(Effect.provide(TestLayer))
    const second = yield* spawn().pipe(Effect.provide(TestLayer))
    assert.strictEqual(first.process.pid, 2)
    assert.strictEqual(second.process.pid, 2)
  }))
