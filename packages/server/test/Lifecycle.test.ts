/**
 * Lifecycle end to end: exec draining, disconnects (with copyins pending,
 * with blocked syscalls, with a syscall that ignores the order to leave),
 * a client that stops reading, and halt. Real sockets, a real server, the
 * scriptable test kernel; cleanup is polled with bounded retries.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConnectionClosed } from "@sysproxy/client"
import { packArgs, success, TestSyscalls } from "@sysproxy/hypervisor/testing"
import { Errno, rebootFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Deferred, Effect, Exit, Fiber } from "effect"
import * as Fs from "node:fs"
import {
  allZero,
  connectRefused,
  failureOf,
  guest,
  pidOf,
  rawConnect,
  residue,
  show,
  startServer,
  waitFor
} from "./runtime-support.ts"

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

const ZERO = { lwps: 0, processes: 0, sleeping: 0, clients: 0, waiters: 0, inflightJobs: 0, busyWorkers: 0, queued: 0 }

describe("exec", () => {
  it.live("exec orders 100 blocked syscalls out (EINTR) and answers only after all of them", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const { client, pid } = yield* guest(rt, "before-exec")
      const order: Array<string> = []
      const blocked = yield* Effect.forEach(
        range(100),
        (i) => client.syscall(TestSyscalls.block, [i]).pipe(Effect.tap((r) => Effect.sync(() => order.push(`syscall:${r.error}`)))),
        { concurrency: "unbounded" }
      ).pipe(Effect.forkChild)
      yield* rt.kernel.awaitSleeping(100).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(yield* rt.kernel.lwpCount, 100)
      assert.strictEqual(rt.server.stats().inflightJobs, 100)

      yield* client.handshakeExec("after-exec").pipe(Effect.timeout("5 seconds"))
      order.push("exec")
      const results = yield* Fiber.join(blocked)
      assert.strictEqual(results.length, 100)
      for (const r of results) assert.deepStrictEqual(r, { error: Errno.EINTR, retval0: 0n, retval1: 0n })
      assert.strictEqual(order.length, 101)
      assert.strictEqual(order.indexOf("exec"), 100, `the exec answer came after every syscall: ${order.slice(0, 3).join(",")}...`)
      assert.isTrue(order.slice(0, 100).every((o) => o === `syscall:${Errno.EINTR}`))

      const proc = yield* rt.kernel.process(pid)
      assert.isDefined(proc)
      assert.strictEqual(proc!.comm, "after-exec")
      assert.strictEqual(proc!.execCount, 1)
      assert.isFalse(proc!.lwpExitPending)
      assert.strictEqual(rt.server.stats().handshakes.exec, 1)
      assert.strictEqual(yield* rt.kernel.lwpCount, 0)
      // the same process serves syscalls again
      const again = yield* client.syscall(SYS.getpid)
      assert.deepStrictEqual(again, { error: 0, retval0: BigInt(pid), retval1: 1n })
      assert.deepStrictEqual(yield* rt.kernel.misuse, [])
    }), 15_000)

  it.live("an exec refused with TRYAGAIN (queue full) leaves the process usable", () =>
    Effect.gen(function*() {
      const rt = yield* startServer({ maxWorkers: 1, idleWorkers: 1, maxQueuedJobs: 1 })
      const { client, pid } = yield* guest(rt, "exec-tryagain")
      // one syscall holds the only worker (and does not leave when ordered out), one fills the queue
      const STUCK = 2200
      const gate = yield* Deferred.make<void>()
      yield* rt.kernel.setHandler(STUCK, () => Deferred.await(gate).pipe(Effect.as(success())))
      const running = yield* Effect.exit(client.syscall(STUCK)).pipe(Effect.forkChild)
      yield* waitFor("the worker to be busy", Effect.sync(() => rt.server.stats().pool.busy), (n) => n === 1)
      const queued = yield* Effect.exit(client.syscall(TestSyscalls.block, [1])).pipe(Effect.forkChild)
      yield* waitFor("a full queue", Effect.sync(() => rt.server.stats().pool.queued), (n) => n === 1)

      const exec = yield* Effect.exit(client.handshakeExec("exec-tryagain-2")).pipe(
        // an accepted exec waits for the stuck syscall: let it go once the exec is in
        Effect.forkChild
      )
      yield* Effect.sleep("50 millis")
      yield* Deferred.succeed(gate, undefined)
      const execExit = yield* Fiber.join(exec)
      yield* Fiber.join(running)
      yield* Fiber.join(queued)
      yield* waitFor("no jobs in flight", Effect.sync(() => rt.server.stats().inflightJobs), (n) => n === 0)
      if (Exit.isFailure(execExit)) {
        // refusing is allowed, but then nothing may have changed: the process serves syscalls and a retry works
        assert.strictEqual(failureOf(execExit).errno, Errno.EAGAIN, show(failureOf(execExit)))
        const after = yield* client.syscall(SYS.getpid)
        assert.deepStrictEqual(after, { error: 0, retval0: BigInt(pid), retval1: 1n }, "syscalls after a refused exec")
        yield* client.handshakeExec("exec-tryagain-2").pipe(Effect.timeout("5 seconds"))
      }
      const proc = yield* rt.kernel.process(pid)
      assert.strictEqual(proc?.comm, "exec-tryagain-2")
      assert.strictEqual(proc?.execCount, 1)
      assert.isUndefined(client.closedWith, "the connection stays up")
      const last = yield* client.syscall(SYS.getpid)
      assert.strictEqual(last.error, 0)
    }), 10_000)
})

describe("disconnect", () => {
  it.live("a client that disappears while the server waits for its COPYIN leaves nothing behind", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const raw = yield* rawConnect(rt.url)
      yield* raw.handshake("copyin-victim")
      const pid = yield* pidOf(rt.kernel, "copyin-victim")
      const addr = 0x7f0000001000n
      yield* raw.send({ _tag: "SyscallRequest", reqno: 1n, sysnum: SYS.write, args: packArgs(1, addr, 5) })
      const request = yield* raw.nextOf("CopyinRequest")
      assert.strictEqual(request.len, 5n)
      assert.strictEqual(request.addr, addr)
      const during = yield* residue(rt)
      assert.deepStrictEqual(
        { lwps: during.lwps, waiters: during.waiters, inflightJobs: during.inflightJobs, clients: during.clients, processes: during.processes },
        { lwps: 1, waiters: 1, inflightJobs: 1, clients: 1, processes: 1 }
      )

      yield* raw.destroy
      const after = yield* waitFor("everything released", residue(rt), allZero)
      assert.deepStrictEqual(after, ZERO)
      assert.strictEqual(yield* rt.kernel.releasedCount, 1)
      assert.strictEqual((yield* rt.kernel.output(pid)).byteLength, 0, "the write never happened")
      assert.deepStrictEqual(yield* rt.kernel.misuse, [])
    }))

  it.live("disconnecting with 50 blocked syscalls orders them out and releases the process", () =>
    Effect.gen(function*() {
      // a long grace: the lwps must leave because they were ordered out, not because time ran out
      const rt = yield* startServer({ disconnectGrace: "5 seconds" })
      const { client } = yield* guest(rt, "blocked50")
      const bystander = yield* guest(rt, "bystander")
      const blocked = yield* Effect.forEach(range(50), (i) => Effect.exit(client.syscall(TestSyscalls.block, [i])), {
        concurrency: "unbounded"
      }).pipe(Effect.forkChild)
      yield* rt.kernel.awaitSleeping(50).pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(yield* rt.kernel.lwpCount, 50)
      assert.strictEqual(yield* rt.kernel.processCount, 2)

      const t0 = Date.now()
      yield* client.close
      const exits = yield* Fiber.join(blocked)
      for (const exit of exits) assert.instanceOf(failureOf(exit), ConnectionClosed)
      const after = yield* waitFor("the process to be released", residue(rt), (r) =>
        r.lwps === 0 && r.processes === 1 && r.clients === 1 && r.inflightJobs === 0)
      const elapsed = Date.now() - t0
      assert.deepStrictEqual(after, { ...ZERO, processes: 1, clients: 1 })
      assert.isBelow(elapsed, 2000, "released well before the 5 s grace")
      assert.strictEqual(yield* rt.kernel.releasedCount, 1)
      assert.isUndefined((yield* rt.kernel.processes).find((p) => p.comm === "blocked50"))
      // the other client is untouched
      const r = yield* bystander.client.syscall(SYS.getpid)
      assert.strictEqual(r.retval0, BigInt(bystander.pid))
      assert.deepStrictEqual(yield* rt.kernel.misuse, [])
    }), 10_000)

  it.live("a syscall that ignores the order to leave is interrupted after disconnectGrace", () =>
    Effect.gen(function*() {
      const rt = yield* startServer({ disconnectGrace: "200 millis" })
      const { client } = yield* guest(rt, "stubborn")
      const STUBBORN = 2100
      let interrupted = 0
      yield* rt.kernel.setHandler(STUBBORN, () =>
        Effect.sleep("10 seconds").pipe(
          Effect.onInterrupt(() => Effect.sync(() => interrupted++)),
          Effect.as(success())
        ))
      const call = yield* Effect.exit(client.syscall(STUBBORN)).pipe(Effect.forkChild)
      yield* waitFor("the syscall to enter the kernel", rt.kernel.lwpCount, (n) => n === 1)

      const t0 = Date.now()
      yield* client.close
      assert.instanceOf(failureOf(yield* Fiber.join(call)), ConnectionClosed)
      yield* Effect.sleep("100 millis")
      assert.strictEqual(yield* rt.kernel.lwpCount, 1, "still in the kernel within the grace")
      assert.strictEqual(yield* rt.kernel.processCount, 1, "not released within the grace")
      assert.strictEqual(interrupted, 0)

      const after = yield* waitFor("everything released", residue(rt), allZero)
      const elapsed = Date.now() - t0
      assert.deepStrictEqual(after, ZERO)
      assert.strictEqual(interrupted, 1, "the handler was interrupted")
      assert.isAtLeast(elapsed, 190)
      assert.isBelow(elapsed, 2000, "interrupted soon after the grace, not after its 10 s")
      assert.strictEqual(yield* rt.kernel.releasedCount, 1)
      assert.deepStrictEqual(yield* rt.kernel.misuse, [])
    }), 10_000)
})

describe("a client that stops reading", () => {
  const READ_SIZE = 8 * 1024 * 1024

  /** A raw client that stops reading, then asks for `reads` copyouts of 8 MiB each. */
  const stalledReader = (url: string, reads: number) =>
    Effect.gen(function*() {
      const raw = yield* rawConnect(url)
      yield* raw.handshake("sluggard")
      yield* raw.stopReading
      for (let i = 1; i <= reads; i++) {
        yield* raw.send({ _tag: "SyscallRequest", reqno: BigInt(i), sysnum: SYS.read, args: packArgs(0, 0x7f0000000000n, READ_SIZE) })
      }
      return raw
    })

  it.live("is dropped after writeStallTimeout while another client keeps being served", () =>
    Effect.gen(function*() {
      const rt = yield* startServer({ writeStallTimeout: "1 second" })
      const other = yield* guest(rt, "busy-bee")
      const raw = yield* stalledReader(rt.url, 4)
      const sluggard = yield* pidOf(rt.kernel, "sluggard")
      // all four reads are in the kernel, stuck copying out
      yield* waitFor("the reads to be in the kernel", rt.kernel.process(sluggard), (p) => p?.lwps.length === 4)
      yield* Effect.sleep("100 millis")
      assert.strictEqual(rt.server.stats().dropped, 0, "not dropped before the stall timeout")

      const latencies: Array<number> = []
      for (let i = 0; i < 20; i++) {
        const t = Date.now()
        const r = yield* other.client.syscall(SYS.getpid).pipe(Effect.timeout("500 millis"))
        latencies.push(Date.now() - t)
        assert.strictEqual(r.retval0, BigInt(other.pid))
      }
      assert.strictEqual(rt.server.stats().dropped, 0, `served during the stall (latencies ${latencies.join(",")})`)
      assert.isFalse(raw.isClosed())
      assert.isBelow(Math.max(...latencies), 250)

      const s = yield* waitFor("the client to be dropped", Effect.sync(() => rt.server.stats()), (x) => x.dropped > 0 && x.clients === 1, 5000)
      assert.strictEqual(s.dropped, 1, "one client, dropped once")
      yield* raw.resumeReading
      yield* raw.closed.pipe(Effect.timeout("2 seconds"))
      const after = yield* waitFor("the sluggard released", residue(rt), (r) => r.lwps === 0 && r.processes === 1 && r.inflightJobs === 0)
      assert.deepStrictEqual(after, { ...ZERO, processes: 1, clients: 1 })
      assert.isUndefined(yield* rt.kernel.process(sluggard))
      const r = yield* other.client.syscall(SYS.getpid)
      assert.strictEqual(r.error, 0)
      assert.strictEqual(rt.server.stats().dropped, 1)
      assert.deepStrictEqual(yield* rt.kernel.misuse, [])
    }), 15_000)

  it.live("is dropped at once when its unsent bytes pass maxUnsentBytes", () =>
    Effect.gen(function*() {
      // the stall timeout is far away: only the byte limit can drop it in time
      const rt = yield* startServer({ maxUnsentBytes: 4 * 1024 * 1024, writeStallTimeout: "30 seconds" })
      const other = yield* guest(rt, "busy-bee")
      const t0 = Date.now()
      const raw = yield* stalledReader(rt.url, 8)
      const s = yield* waitFor("the client to be dropped", Effect.sync(() => rt.server.stats()), (x) => x.dropped > 0 && x.clients === 1, 5000)
      assert.isBelow(Date.now() - t0, 3000)
      assert.strictEqual(s.dropped, 1, "one client, dropped once")
      yield* raw.resumeReading
      yield* raw.closed.pipe(Effect.timeout("2 seconds"))
      const after = yield* waitFor("the sluggard released", residue(rt), (r) => r.lwps === 0 && r.processes === 1)
      assert.deepStrictEqual(after, { ...ZERO, processes: 1, clients: 1 })
      const r = yield* other.client.syscall(SYS.getpid)
      assert.strictEqual(r.retval0, BigInt(other.pid))
      assert.deepStrictEqual(yield* rt.kernel.misuse, [])
    }), 15_000)
})

describe("a client that reads slowly but steadily", () => {
  it.live("is not dropped by writeStallTimeout: it never stops reading", () =>
    Effect.gen(function*() {
      // 1 s: well above the reader's pauses even on a loaded machine, and still
      // below the ~1.5 s the whole 3 MiB backlog takes to drain at this pace,
      // so a timer measuring the whole backlog (the old bug) would still fire
      const rt = yield* startServer({ writeStallTimeout: "1 second" })
      const raw = yield* rawConnect(rt.url)
      yield* raw.handshake("tortoise")
      // consume at about 2 MB/s: never more than a few tens of ms without reading
      let received = 0
      let longestPause = 0
      raw.socket.on("data", (chunk: Buffer) => {
        received += chunk.byteLength
        const pause = Math.ceil(chunk.byteLength / 2000)
        longestPause = Math.max(longestPause, pause)
        raw.socket.pause()
        setTimeout(() => raw.socket.resume(), pause)
      })
      const len = 3 * 1024 * 1024
      yield* raw.send({ _tag: "SyscallRequest", reqno: 1n, sysnum: SYS.read, args: packArgs(0, 0x7f0000000000n, len) })
      const frames = yield* Effect.gen(function*() {
        const seen: Array<string> = []
        for (;;) {
          const f = yield* raw.next
          seen.push(f._tag)
          if (f._tag === "SyscallResponse") return { seen, answer: f }
        }
      }).pipe(Effect.exit)
      const stats = rt.server.stats()
      assert.isBelow(longestPause, 100, "the client never paused reading for long")
      assert.strictEqual(stats.dropped, 0, `a reading client was dropped after ${received} bytes`)
      assert.isTrue(Exit.isSuccess(frames), `the read was answered (connection closed after ${received} bytes)`)
      if (Exit.isSuccess(frames)) {
        assert.deepStrictEqual(frames.value.answer, { _tag: "SyscallResponse", reqno: 1n, error: 0, retval0: BigInt(len), retval1: 0n })
      }
    }), 15_000)
})

describe("halt", () => {
  it.live("reboot answers its caller, then the server stops and every other connection closes", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const a = yield* guest(rt, "rebooter")
      const b = yield* guest(rt, "blocked-b")
      const c = yield* guest(rt, "blocked-c")
      const blockAll = (client: typeof b.client, n: number) =>
        Effect.forEach(range(n), (i) => Effect.exit(client.syscall(TestSyscalls.block, [i])), { concurrency: "unbounded" })
          .pipe(Effect.forkChild)
      const bCalls = yield* blockAll(b.client, 5)
      const cCalls = yield* blockAll(c.client, 3)
      yield* rt.kernel.awaitSleeping(8).pipe(Effect.timeout("5 seconds"))
      assert.isTrue(rt.socketPath !== undefined && Fs.existsSync(rt.socketPath))

      const howto = rebootFlags.RB_HALT
      const answer = yield* a.client.syscall(SYS.reboot, [howto]).pipe(Effect.timeout("5 seconds"))
      assert.deepStrictEqual(answer, { error: 0, retval0: 0n, retval1: 0n }, "the caller got its answer")

      const halted = yield* rt.server.halted.pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(halted.howto, howto)
      assert.strictEqual(halted.lwp?.pid, a.pid, "the halt names the caller's lwp")
      assert.isFalse(Fs.existsSync(rt.socketPath!), "the socket file is gone")

      // the blocked calls do not hang: they fail with ConnectionClosed
      for (const exits of [yield* Fiber.join(bCalls), yield* Fiber.join(cCalls)]) {
        for (const exit of exits) assert.instanceOf(failureOf(exit), ConnectionClosed, show(exit))
      }
      assert.strictEqual(yield* Fiber.join(bCalls).pipe(Effect.map((x) => x.length)), 5)
      for (const client of [a.client, b.client, c.client]) {
        yield* client.closed.pipe(Effect.timeout("2 seconds"))
        assert.instanceOf(client.closedWith, ConnectionClosed)
        const late = yield* Effect.exit(client.syscall(SYS.getpid))
        assert.instanceOf(failureOf(late), ConnectionClosed)
      }
      // the server has stopped by the time `halted` completes
      assert.deepStrictEqual(yield* residue(rt), ZERO)
      assert.strictEqual(yield* rt.kernel.releasedCount, 3)
      assert.isTrue(yield* connectRefused(rt.url), "nobody listens any more")
      assert.deepStrictEqual(yield* rt.kernel.misuse, [])
    }), 15_000)

  it.live("a halt from inside the kernel stops the server and closes every connection", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const a = yield* guest(rt, "idle-a")
      const b = yield* guest(rt, "blocked-b")
      const bCalls = yield* Effect.forEach(range(4), (i) => Effect.exit(b.client.syscall(TestSyscalls.block, [i])), {
        concurrency: "unbounded"
      }).pipe(Effect.forkChild)
      yield* rt.kernel.awaitSleeping(4).pipe(Effect.timeout("5 seconds"))

      yield* rt.kernel.halt(rebootFlags.RB_AUTOBOOT)
      const halted = yield* rt.server.halted.pipe(Effect.timeout("5 seconds"))
      assert.strictEqual(halted.howto, rebootFlags.RB_AUTOBOOT)
      assert.isUndefined(halted.lwp)
      assert.isFalse(Fs.existsSync(rt.socketPath!), "the socket file is gone")
      for (const exit of yield* Fiber.join(bCalls)) assert.instanceOf(failureOf(exit), ConnectionClosed)
      yield* a.client.closed.pipe(Effect.timeout("2 seconds"))
      assert.deepStrictEqual(yield* residue(rt), ZERO)
      assert.isTrue(yield* connectRefused(rt.url))
      assert.deepStrictEqual(yield* rt.kernel.misuse, [])
    }), 10_000)
})
