/**
 * Syscalls end to end: a library client on a real socket, the server, and
 * the scriptable test kernel. Each test builds its own server and kernel.
 */
import { assert, describe, it } from "@effect/vitest"
import { ClientError } from "@sysproxy/client"
import { packArgs, success, TestSyscalls } from "@sysproxy/hypervisor/testing"
import { type Frame, MAX_COPY_CHUNK } from "@sysproxy/protocol"
import { Errno, signals, SYS } from "@sysproxy/protocol/netbsd"
import { Deferred, Effect, Exit, Fiber } from "effect"
import { failureOf, guest, rawConnect, show, startServer, waitFor } from "./runtime-support.ts"

const utf8 = new TextEncoder()

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** Deterministic pseudo-random bytes (xorshift), so a mismatch is reproducible. */
const noise = (n: number, seed = 0x9e3779b9): Uint8Array => {
  const out = new Uint8Array(n)
  let x = seed >>> 0
  for (let i = 0; i < n; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

const sameBytes = (actual: Uint8Array | undefined, expected: Uint8Array, what: string) => {
  assert.isDefined(actual, `${what}: unreadable`)
  assert.strictEqual(actual!.byteLength, expected.byteLength, `${what}: length`)
  const firstDiff = actual!.findIndex((b, i) => b !== expected[i])
  assert.strictEqual(firstDiff, -1, `${what}: first differing byte`)
}

describe("basic syscalls", () => {
  it.live("getpid answers the caller's pid, and each guest gets its own process", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const a = yield* guest(rt, "alpha")
      const b = yield* guest(rt, "beta")
      assert.notStrictEqual(a.pid, b.pid)
      const ra = yield* a.client.syscall(SYS.getpid)
      const rb = yield* b.client.syscall(SYS.getpid)
      assert.deepStrictEqual(ra, { error: 0, retval0: BigInt(a.pid), retval1: 1n })
      assert.deepStrictEqual(rb, { error: 0, retval0: BigInt(b.pid), retval1: 1n })
      assert.strictEqual(rt.server.stats().syscalls, 2)
      assert.strictEqual(rt.server.stats().bound, 2)
    }))

  it.live("getpid over tcp://127.0.0.1:0", () =>
    Effect.gen(function*() {
      const rt = yield* startServer({ transport: "tcp" })
      assert.match(rt.url, /^tcp:\/\/127\.0\.0\.1:\d+$/)
      assert.notStrictEqual(rt.url, "tcp://127.0.0.1:0", "the bound url names the real port")
      const { client, pid } = yield* guest(rt, "tcp-guest")
      const r = yield* client.syscall(SYS.getpid)
      assert.strictEqual(r.error, 0)
      assert.strictEqual(r.retval0, BigInt(pid))
    }))

  it.live("write copies 5 bytes in through COPYIN into the process's output", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const { client, pid } = yield* guest(rt, "writer")
      const addr = client.space.alloc(utf8.encode("hello, world"))
      const r = yield* client.syscall(SYS.write, [1, addr, 5])
      assert.deepStrictEqual(r, { error: 0, retval0: 5n, retval1: 0n })
      sameBytes(yield* rt.kernel.output(pid), utf8.encode("hello"), "kernel output")
      assert.strictEqual(rt.server.stats().copyinBytes, 5)
      assert.strictEqual(rt.server.stats().copyoutBytes, 0)
      assert.strictEqual(client.stats.copyinFaults, 0)
    }))

  it.live("write from an unmapped address is EFAULT and writes nothing", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const { client, pid } = yield* guest(rt, "badwriter")
      const r = yield* client.syscall(SYS.write, [1, 0x1000, 5])
      assert.strictEqual(r.error, Errno.EFAULT)
      assert.strictEqual((yield* rt.kernel.output(pid)).byteLength, 0)
      assert.strictEqual(client.stats.copyinFaults, 1)
    }))

  it.live("read copies the pattern out into the client's space, and nothing around it", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const { client } = yield* guest(rt, "reader")
      const region = client.space.alloc(new Uint8Array(310).fill(0xee))
      const r = yield* client.syscall(SYS.read, [0, region + 5n, 300])
      assert.deepStrictEqual(r, { error: 0, retval0: 300n, retval1: 0n })
      const expected = new Uint8Array(310).fill(0xee)
      for (let i = 0; i < 300; i++) expected[5 + i] = i & 0xff
      sameBytes(client.space.read(region, 310), expected, "client memory")
      assert.strictEqual(rt.server.stats().copyoutBytes, 300)
      assert.strictEqual(client.stats.copyoutFaults, 0)
    }))

  it.live("echo of 3 MiB round-trips through copyin and copyout", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const { client } = yield* guest(rt, "echo")
      const len = 3 * 1024 * 1024
      const data = noise(len)
      const src = client.space.alloc(data)
      const dst = client.space.alloc(len)
      const r = yield* client.syscall(TestSyscalls.echo, [src, len, dst])
      assert.deepStrictEqual(r, { error: 0, retval0: BigInt(len), retval1: 0n })
      sameBytes(client.space.read(dst, len), data, "echoed bytes")
      const stats = rt.server.stats()
      assert.strictEqual(stats.copyinBytes, len)
      assert.strictEqual(stats.copyoutBytes, len)
      assert.strictEqual(stats.protocolErrors, 0)
    }), 20_000)

  it.live("a large echo goes out as COPYIN and COPYOUT chunks of at most 1 MiB, back to back", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const raw = yield* rawConnect(rt.url)
      yield* raw.handshake("raw-echo")
      const len = 3 * MAX_COPY_CHUNK + 123
      const data = noise(len, 7)
      const src = 0x7f0000000000n
      const dst = 0x7f1000000000n
      yield* raw.send({ _tag: "SyscallRequest", reqno: 1n, sysnum: TestSyscalls.echo, args: packArgs(src, len, dst) })
      const copyins: Array<{ addr: bigint; len: number }> = []
      const copyouts: Array<{ addr: bigint; len: number }> = []
      const received = new Uint8Array(len)
      let answer: Frame | undefined
      while (answer === undefined) {
        const f = yield* raw.next
        if (f._tag === "CopyinRequest") {
          const n = Number(f.len)
          const off = Number(f.addr - src)
          copyins.push({ addr: f.addr, len: n })
          yield* raw.send({ _tag: "CopyinResponse", reqno: f.reqno, data: data.slice(off, off + n) })
        } else if (f._tag === "CopyoutRequest") {
          copyouts.push({ addr: f.addr, len: f.data.byteLength })
          received.set(f.data, Number(f.addr - dst))
        } else if (f._tag === "SyscallResponse") {
          answer = f
        } else {
          assert.fail(`unexpected frame ${show(f)}`)
        }
      }
      assert.deepStrictEqual(answer, { _tag: "SyscallResponse", reqno: 1n, error: 0, retval0: BigInt(len), retval1: 0n })
      const cuts = [MAX_COPY_CHUNK, MAX_COPY_CHUNK, MAX_COPY_CHUNK, 123]
      assert.deepStrictEqual(copyins.map((c) => c.len), cuts, "copyin chunks")
      assert.deepStrictEqual(copyins.map((c) => c.addr), cuts.map((_, i) => src + BigInt(i * MAX_COPY_CHUNK)))
      assert.deepStrictEqual(copyouts.map((c) => c.len), cuts, "copyout chunks")
      assert.deepStrictEqual(copyouts.map((c) => c.addr), cuts.map((_, i) => dst + BigInt(i * MAX_COPY_CHUNK)))
      sameBytes(received, data, "copied out bytes")
    }), 20_000)

  it.live("copyinstr fetches a path, and answers ENAMETOOLONG when it does not fit in maxlen", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const { client } = yield* guest(rt, "paths")
      const path = "/usr/pkg/bin/rump.helper"
      const addr = client.space.allocString(path)
      const ok = yield* client.syscall(TestSyscalls.copyinstr, [addr, 1024])
      assert.deepStrictEqual(ok, { error: 0, retval0: BigInt(path.length), retval1: 0n })
      assert.strictEqual(yield* rt.kernel.lastString, path)
      // exactly room for the string and its NUL
      const tight = yield* client.syscall(TestSyscalls.copyinstr, [addr, path.length + 1])
      assert.strictEqual(tight.error, 0)
      assert.strictEqual(tight.retval0, BigInt(path.length))
      // one byte short: no NUL within maxlen
      const other = client.space.allocString("/tmp/x")
      yield* client.syscall(TestSyscalls.copyinstr, [other, 64])
      assert.strictEqual(yield* rt.kernel.lastString, "/tmp/x")
      const short = yield* client.syscall(TestSyscalls.copyinstr, [addr, path.length])
      assert.strictEqual(short.error, Errno.ENAMETOOLONG)
      const tiny = yield* client.syscall(TestSyscalls.copyinstr, [addr, 5])
      assert.strictEqual(tiny.error, Errno.ENAMETOOLONG)
      assert.strictEqual(yield* rt.kernel.lastString, "/tmp/x", "a refused string is not kept")
    }))

  it.live("anonmmap maps fresh memory in the client and returns its address", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const { client } = yield* guest(rt, "mapper")
      const before = client.space.regionCount
      const r = yield* client.syscall(TestSyscalls.anonmmap, [8192])
      assert.strictEqual(r.error, 0)
      assert.strictEqual(client.space.regionCount, before + 1)
      assert.isTrue(client.space.isMapped(r.retval0, 8192), `0x${r.retval0.toString(16)} is mapped for 8192 bytes`)
      // the mapping is usable by later syscalls
      const rd = yield* client.syscall(SYS.read, [0, r.retval0 + 4096n, 16])
      assert.strictEqual(rd.error, 0)
      sameBytes(client.space.read(r.retval0 + 4096n, 16), Uint8Array.from({ length: 16 }, (_, i) => i), "read into the mapping")
      // a size the client refuses: ENOMEM, and nothing mapped
      const refused = yield* client.syscall(TestSyscalls.anonmmap, [0])
      assert.strictEqual(refused.error, Errno.ENOMEM)
      assert.strictEqual(client.space.regionCount, before + 1)
    }))

  it.live("raise delivers the signal to the calling client", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const { client } = yield* guest(rt, "raiser")
      const other = yield* guest(rt, "bystander")
      const r = yield* client.syscall(TestSyscalls.raise, [signals.SIGUSR1])
      assert.strictEqual(r.error, 0)
      assert.strictEqual(yield* client.takeSignal, signals.SIGUSR1)
      assert.deepStrictEqual(client.signals, [signals.SIGUSR1])
      assert.deepStrictEqual(other.client.signals, [])
    }))

  it.live("kill from client A reaches client B; a pid nobody has is ESRCH", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const a = yield* guest(rt, "killer")
      const b = yield* guest(rt, "victim")
      const r = yield* a.client.syscall(SYS.kill, [b.pid, signals.SIGTERM])
      assert.deepStrictEqual(r, { error: 0, retval0: 0n, retval1: 0n })
      assert.strictEqual(yield* b.client.takeSignal.pipe(Effect.timeout("2 seconds")), signals.SIGTERM)
      assert.deepStrictEqual(a.client.signals, [], "the sender is not signalled")
      const none = yield* a.client.syscall(SYS.kill, [4242, signals.SIGTERM])
      assert.strictEqual(none.error, Errno.ESRCH)
      assert.deepStrictEqual(b.client.signals, [signals.SIGTERM])
    }))

  it.live("an unknown syscall is ENOSYS (78)", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const { client } = yield* guest(rt, "unknown")
      const r = yield* client.syscall(4242, [1, 2, 3])
      assert.strictEqual(r.error, 78)
      assert.strictEqual(r.error, Errno.ENOSYS)
      assert.strictEqual((yield* rt.kernel.unimplemented).get(4242), 1)
    }))
})

describe("concurrency and the worker pool", () => {
  it.live("200 concurrent syscalls on one connection come back out of order, each with its own result", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const { client } = yield* guest(rt, "concurrent")
      const SLOW = 2000
      // a scattered few milliseconds per call, so late calls overtake early ones
      const delay = (i: number) => 1 + ((i * 37) % 11)
      yield* rt.kernel.setHandler(SLOW, (ctx) => {
        const i = ctx.args.i32(0)
        return Effect.sleep(`${delay(i)} millis`).pipe(Effect.as(success(BigInt(i) * 3n + 1n, BigInt(-i))))
      })
      const answered: Array<number> = []
      const results = yield* Effect.forEach(
        Array.from({ length: 200 }, (_, i) => i),
        (i) => client.syscall(SLOW, [i]).pipe(Effect.tap(() => Effect.sync(() => answered.push(i)))),
        { concurrency: "unbounded" }
      )
      results.forEach((r, i) => {
        assert.deepStrictEqual(r, { error: 0, retval0: BigInt(i) * 3n + 1n, retval1: BigInt(-i) }, `call ${i}`)
      })
      assert.strictEqual(answered.length, 200)
      assert.deepStrictEqual([...answered].sort((x, y) => x - y), results.map((_, i) => i))
      assert.notDeepEqual(answered, results.map((_, i) => i), "the answers did not come back in request order")
      assert.strictEqual(client.pendingCount, 0)
      assert.strictEqual(rt.server.stats().syscalls, 200)
    }), 10_000)

  it.live("the pool grows to maxWorkers, queues the rest, and shrinks back to idleWorkers", () =>
    Effect.gen(function*() {
      const rt = yield* startServer({ maxWorkers: 8, idleWorkers: 2 })
      const { client } = yield* guest(rt, "pool")
      const GATED = 2001
      const gate = yield* Deferred.make<void>()
      let running = 0
      let maxRunning = 0
      yield* rt.kernel.setHandler(GATED, (ctx) =>
        Effect.sync(() => {
          running++
          maxRunning = Math.max(maxRunning, running)
        }).pipe(
          Effect.andThen(Deferred.await(gate)),
          Effect.ensuring(Effect.sync(() => running--)),
          Effect.as(success(BigInt(ctx.args.i32(0))))
        ))
      assert.strictEqual(rt.server.stats().pool.workers, 0, "no workers before the first job")
      const calls = yield* Effect.forEach(
        Array.from({ length: 20 }, (_, i) => i),
        (i) => client.syscall(GATED, [i]),
        { concurrency: "unbounded" }
      ).pipe(Effect.forkChild)
      const stats = yield* waitFor("8 running and 12 queued", Effect.sync(() => rt.server.stats()), (s) =>
        s.pool.queued === 12 && s.pool.busy === 8)
      assert.deepStrictEqual(stats.pool, { workers: 8, idle: 0, busy: 8, queued: 12 })
      assert.strictEqual(stats.inflightJobs, 20)
      assert.strictEqual(yield* rt.kernel.lwpCount, 8, "only the running jobs have an lwp")
      assert.strictEqual(running, 8)
      yield* Deferred.succeed(gate, undefined)
      const results = yield* Fiber.join(calls)
      assert.deepStrictEqual(results.map((r) => r.retval0), results.map((_, i) => BigInt(i)))
      assert.strictEqual(maxRunning, 8, "never more than maxWorkers in the kernel at once")
      const after = yield* waitFor("the pool to shrink", Effect.sync(() => rt.server.stats().pool), (p) =>
        p.workers === 2 && p.busy === 0)
      assert.deepStrictEqual(after, { workers: 2, idle: 2, busy: 0, queued: 0 })
      assert.strictEqual(rt.server.stats().inflightJobs, 0)

      // a burst larger than the idle workers grows the pool again
      const gate2 = yield* Deferred.make<void>()
      yield* rt.kernel.setHandler(GATED, (ctx) => Deferred.await(gate2).pipe(Effect.as(success(BigInt(ctx.args.i32(0))))))
      const burst = yield* Effect.forEach(range(5), (i) => client.syscall(GATED, [i]), { concurrency: "unbounded" })
        .pipe(Effect.forkChild)
      const grown = yield* waitFor("5 running", Effect.sync(() => rt.server.stats().pool), (p) => p.busy === 5)
      assert.deepStrictEqual(grown, { workers: 5, idle: 0, busy: 5, queued: 0 })
      assert.strictEqual(yield* rt.kernel.lwpCount, 5)
      yield* Deferred.succeed(gate2, undefined)
      assert.strictEqual((yield* Fiber.join(burst)).length, 5)
      yield* waitFor("the pool to shrink again", Effect.sync(() => rt.server.stats().pool), (p) => p.workers === 2 && p.idle === 2)
    }), 10_000)

  it.live("beyond maxQueuedJobs a syscall is refused with ERROR TRYAGAIN (EAGAIN)", () =>
    Effect.gen(function*() {
      const rt = yield* startServer({ maxWorkers: 1, idleWorkers: 1, maxQueuedJobs: 4 })
      const { client } = yield* guest(rt, "queue")
      const GATED = 2002
      const gate = yield* Deferred.make<void>()
      let entered = 0
      yield* rt.kernel.setHandler(GATED, (ctx) =>
        Effect.sync(() => entered++).pipe(
          Effect.andThen(Deferred.await(gate)),
          Effect.as(success(BigInt(ctx.args.i32(0))))
        ))
      const first = yield* client.syscall(GATED, [100]).pipe(Effect.forkChild)
      yield* waitFor("the worker to be busy", Effect.sync(() => rt.server.stats().pool), (p) => p.busy === 1 && p.queued === 0)
      const queued = yield* Effect.forEach([101, 102, 103, 104], (i) => client.syscall(GATED, [i]), {
        concurrency: "unbounded"
      }).pipe(Effect.forkChild)
      yield* waitFor("4 queued jobs", Effect.sync(() => rt.server.stats().pool.queued), (n) => n === 4)
      for (const i of [105, 106]) {
        const exit = yield* Effect.exit(client.syscall(GATED, [i]))
        const error = failureOf(exit)
        assert.instanceOf(error, ClientError)
        assert.strictEqual(error.reason, "ServerError")
        assert.strictEqual(error.code, "TRYAGAIN")
        assert.strictEqual(error.errno, Errno.EAGAIN)
        assert.strictEqual(error.errno, 35)
      }
      assert.strictEqual(rt.server.stats().pool.queued, 4)
      yield* Deferred.succeed(gate, undefined)
      const r0 = yield* Fiber.join(first)
      const rest = yield* Fiber.join(queued)
      assert.deepStrictEqual([r0, ...rest].map((r) => r.retval0), [100n, 101n, 102n, 103n, 104n])
      assert.strictEqual(entered, 5, "the refused calls never reached the kernel")
      const s = yield* waitFor("no jobs in flight", Effect.sync(() => rt.server.stats()), (x) => x.inflightJobs === 0)
      assert.strictEqual(s.pool.queued, 0)
      // the queue has room again
      const again = yield* client.syscall(SYS.getpid)
      assert.strictEqual(again.error, 0)
      assert.isTrue(Exit.isSuccess(yield* Effect.exit(client.syscall(SYS.getpid))))
    }), 10_000)
})
