/**
 * Chaos (issue 9): clients killed (socket destroyed) at chosen points of
 * every request kind, over real sockets against the real kernel
 * (@sysproxy/kernel): mid-header, mid-body (of a request and of an
 * answer), while the server waits for a COPYIN or COPYINSTR answer, during
 * a COPYOUT, during a prefork, during an exec handshake with other
 * syscalls blocked, right after a fork handshake; ANONMMAP, which only the
 * test kernel asks for, against the test kernel. Every round runs each
 * kind twice at once beside well-behaved clients that check their data
 * (a pipe round trip of random bytes); after each round another
 * well-behaved client is served and nothing is left: no client, waiter,
 * job, prefork, process, lwp or open file.
 *
 * Fuzz.test.ts sends random bytes and random orders against the test
 * kernel; this file kills at each exact point, against the real one.
 * Reproducible: a failure prints its seed; CHAOS_SEED=<seed> replays the
 * choices (kill points, sizes, delays), CHAOS_ROUNDS=<n> runs n rounds
 * instead of 3.
 */
import { assert, describe, it } from "@effect/vitest"
import { Rng, TestSyscalls } from "@sysproxy/hypervisor/testing"
import { Kernel, layer as kernelLayer } from "@sysproxy/kernel"
import { type Frame, MAX_COPY_CHUNK } from "@sysproxy/protocol"
import { Errno, openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Context, Deferred, Effect, Layer, References, type Scope } from "effect"
import * as Path from "node:path"
import { type ServerOptions, SysproxyServer, type SysproxyServerService } from "../src/index.ts"
import { expectTag, type MemoryClient, memoryConnect, memoryGuest, type ServerRequest } from "./memory-client.ts"
import { encode, guestFrame, pollUntil, rawConnect, seedFrom, startServer, tempDir, withSeed } from "./support.ts"

const ROUNDS = Math.max(1, Number(process.env["CHAOS_ROUNDS"] ?? 3) || 3)
const PER_KIND = 2
// unclaimed preforks go after 2 s: short enough for the per-round check, long
// enough that a fork handshake on a loaded machine still finds its prefork
const OPTIONS = { preforkExpiry: "2 seconds", disconnectGrace: "500 millis" } as const

/** What the chaos checks after each round: every figure must be back to 0. */
interface World {
  readonly url: string
  readonly server: SysproxyServerService
  readonly tables: Effect.Effect<Readonly<Record<string, number>>>
}

/** A server over the real kernel on a fresh unix socket, for the caller's scope. */
const realWorld = (options: Partial<Omit<ServerOptions, "url">>) =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const layer = SysproxyServer.layer({ ...options, url: `unix://${Path.join(dir, "sp.sock")}` }).pipe(
      Layer.provideMerge(kernelLayer({}))
    )
    const context = yield* Layer.build(layer).pipe(Effect.provideService(References.MinimumLogLevel, "Error"))
    const server = Context.get(context, SysproxyServer)
    const kernel = Context.get(context, Kernel)
    const tables = Effect.sync(() => {
      const k = kernel.stats()
      return { ...serverTables(server), processes: k.processes, lwps: k.lwps, openFiles: k.openFiles }
    })
    return { url: server.address.url, server, tables } satisfies World
  })

/** The same over the scriptable test kernel (the only one that asks for ANONMMAP). */
const testWorld = (options: Partial<Omit<ServerOptions, "url">>) =>
  Effect.gen(function*() {
    const rt = yield* startServer(options)
    const tables = Effect.gen(function*() {
      return { ...serverTables(rt.server), processes: yield* rt.kernel.processCount, lwps: yield* rt.kernel.lwpCount }
    })
    return { url: rt.url, server: rt.server, tables } satisfies World
  })

const serverTables = (server: SysproxyServerService) => {
  const s = server.stats()
  return {
    clients: s.clients,
    waiters: s.waiters,
    inflightJobs: s.inflightJobs,
    preforks: s.preforks,
    busyWorkers: s.pool.busy,
    queuedJobs: s.pool.queued
  }
}

const nothingLeft = (world: World, label: string) =>
  pollUntil(world.tables, (t) => Object.values(t).every((n) => n === 0), `${label}: every table back to 0`, {
    timeoutMs: 10_000
  })

// -- the client side ------------------------------------------------------------

const { O_RDONLY, O_WRONLY, O_CREAT } = openFlags

/** Where the copyin kill points write: a tmpfs file (a write to /dev/null copies nothing in, as in NetBSD). */
const SINK = "/tmp/chaos-sink"

const open = (c: MemoryClient, path: string, flags: number) =>
  Effect.gen(function*() {
    const r = yield* c.syscall(SYS.open, c.memory.allocString(path), flags, 0o644)
    assert.strictEqual(r.error, 0, `open ${path}`)
    return Number(r.retval0)
  })

const pipe = (c: MemoryClient) =>
  Effect.gen(function*() {
    const at = c.memory.alloc(8)
    const r = yield* c.syscall(SYS.pipe2, at, 0)
    assert.strictEqual(r.error, 0, "pipe2")
    const v = new DataView(c.memory.read(at, 8)!.buffer)
    return { rd: v.getInt32(0, true), wr: v.getInt32(4, true) }
  })

/** A struct timespec of `sec` seconds in the client's memory. */
const timespec = (c: MemoryClient, sec: number) => {
  const b = new Uint8Array(16)
  new DataView(b.buffer).setBigInt64(0, BigInt(sec), true)
  return c.memory.alloc(b)
}

/**
 * Waits for the first server request matching `at`, then kills: at once,
 * with half of its answer sent, or after holding it unanswered `holdMs`.
 */
const killAt = (c: MemoryClient, at: (f: ServerRequest) => boolean, how: "now" | "mid-answer" | { readonly holdMs: number }) => {
  const reached = Deferred.makeUnsafe<void>()
  c.onRequest = (f) => {
    if (!at(f)) return "serve"
    Deferred.doneUnsafe(reached, Effect.void)
    return how === "now" ? "kill" : how === "mid-answer" ? "kill-mid-answer" : "hold"
  }
  return Deferred.await(reached).pipe(
    Effect.timeoutOrElse({
      duration: "10 seconds",
      orElse: () => Effect.die(new Error(`the request to kill at never came (seen ${JSON.stringify(c.seen)})`))
    }),
    Effect.andThen(typeof how === "object" ? Effect.sleep(how.holdMs).pipe(Effect.andThen(Effect.sync(() => c.kill()))) : Effect.void)
  )
}

/** The answer of a request sent before the kill: the connection must have closed first. */
const mustBeCut = (answer: Effect.Effect<Frame | "closed">, what: string) =>
  Effect.flatMap(answer, (a) =>
    a === "closed" ? Effect.void : Effect.die(new Error(`${what}: answered (${a._tag}) although killed before`)))

/** Each kind kills its client at one point; it returns which variant it ran. */
type Scenario = (url: string, r: Rng) => Effect.Effect<string, Error, Scope.Scope>

const scenarios: Record<string, Scenario> = {
  "mid-header": (url, r) =>
    Effect.gen(function*() {
      const conn = yield* rawConnect(url)
      yield* conn.readBanner()
      const running = r.chance(0.5)
      if (running) {
        yield* conn.write(guestFrame(0n, "chaos-header"))
        yield* conn.next("HandshakeResponse")
      }
      const frame = running
        ? encode({ _tag: "SyscallRequest", reqno: 1n, sysnum: SYS.getpid, args: new Uint8Array(0) })
        : guestFrame(0n, "chaos-header")
      yield* conn.write(frame.subarray(0, 1 + r.int(23)))
      yield* Effect.sleep(r.int(5))
      conn.socket.destroy()
      return running ? "after the handshake" : "in the handshake"
    }),

  "mid-body": (url, r) =>
    Effect.gen(function*() {
      const c = yield* memoryGuest(url, "chaos-body")
      const fd = yield* open(c, SINK, O_WRONLY | O_CREAT)
      const size = 1 + r.int(256 * 1024)
      const buf = c.memory.alloc(r.bytes(size))
      if (r.chance(0.5)) {
        const frame = encode({
          _tag: "SyscallRequest",
          reqno: 99n,
          sysnum: SYS.write,
          args: new Uint8Array(Buffer.concat([Buffer.alloc(8, 0), Buffer.alloc(16, 1)]))
        })
        c.conn.socket.write(frame.subarray(0, 25 + r.int(frame.byteLength - 25)))
        c.kill()
        return "of a SYSCALL request"
      }
      const cut = killAt(c, (f) => f._tag === "CopyinRequest", "mid-answer")
      const { answer } = c.send(SYS.write, fd, buf, size)
      yield* cut
      yield* mustBeCut(answer, "write")
      return "of a COPYIN answer"
    }),

  copyin: (url, r) =>
    Effect.gen(function*() {
      const c = yield* memoryGuest(url, "chaos-copyin")
      const fd = yield* open(c, SINK, O_WRONLY | O_CREAT)
      const size = 1 + r.int(3 * MAX_COPY_CHUNK)
      const chunk = 1 + r.int(Math.ceil(size / MAX_COPY_CHUNK))
      const hold = r.chance(0.5)
      let n = 0
      const cut = killAt(c, (f) => f._tag === "CopyinRequest" && ++n === chunk, hold ? { holdMs: r.int(20) } : "now")
      const { answer } = c.send(SYS.write, fd, c.memory.alloc(r.bytes(size)), size)
      yield* cut
      yield* mustBeCut(answer, "write")
      return `at chunk ${chunk}${hold ? ", held" : ""}`
    }),

  copyinstr: (url, r) =>
    Effect.gen(function*() {
      const c = yield* memoryGuest(url, "chaos-copyinstr")
      const create = r.chance(0.5)
      const path = create ? `/chaos-${r.int(1_000_000)}` : "/dev/null"
      const hold = r.chance(0.5)
      const cut = killAt(c, (f) => f._tag === "CopyinstrRequest", hold ? { holdMs: r.int(20) } : "now")
      const { answer } = c.send(SYS.open, c.memory.allocString(path), create ? O_CREAT | O_WRONLY : O_RDONLY, 0o644)
      yield* cut
      yield* mustBeCut(answer, "open")
      return `${create ? "open O_CREAT" : "open"}${hold ? ", held" : ""}`
    }),

  copyout: (url, r) =>
    Effect.gen(function*() {
      const c = yield* memoryGuest(url, "chaos-copyout")
      const fd = yield* open(c, "/dev/zero", O_RDONLY)
      const size = 256 * 1024 + r.int(8 * MAX_COPY_CHUNK)
      // socket reads bring 64 KiB at most: with 192 KiB of copyout still to come
      // after the kill point, the answer cannot arrive in the same chunk
      const after = 1 + r.int(size - 192 * 1024)
      c.killAfterBytes(c.conn.receivedLength + after)
      const { answer } = c.send(SYS.read, fd, c.memory.alloc(size), size)
      yield* mustBeCut(answer, "read")
      return `after ${after} of ${size} bytes`
    }),

  prefork: (url, r) =>
    Effect.gen(function*() {
      const c = yield* memoryGuest(url, "chaos-prefork")
      const { answer } = c.request((reqno) => ({ _tag: "PreforkRequest", reqno }))
      if (r.chance(0.5)) {
        c.kill()
        return "before its answer"
      }
      const cookie = yield* Effect.flatMap(answer, (a) => expectTag(a, "PreforkResponse", "prefork"))
      assert.strictEqual(cookie.cookie.byteLength, 16)
      c.kill()
      return "with its cookie never used"
    }),

  exec: (url, r) =>
    Effect.gen(function*() {
      const c = yield* memoryGuest(url, "chaos-exec")
      const pid = (yield* c.syscall(SYS.getpid)).retval0
      const { rd } = yield* pipe(c)
      // nothing is ever written: these reads (and the sleep) block in the kernel
      const blocked = Array.from({ length: 1 + r.int(8) }, () => c.send(SYS.read, rd, c.memory.alloc(16), 16))
      if (r.chance(0.5)) blocked.push(c.send(SYS.__nanosleep50, timespec(c, 60), 0))
      yield* Effect.sleep(r.int(20))
      const exec = c.request((reqno) => ({ _tag: "HandshakeExec", reqno, comm: "chaos-execd" }))
      const when = r.int(3)
      if (when === 0) {
        c.kill()
        return `${blocked.length} blocked, killed at once`
      }
      if (when === 1) {
        yield* Effect.sleep(1 + r.int(10))
        c.kill()
        return `${blocked.length} blocked, killed while pending`
      }
      // the exec is answered once every syscall sent before it has left: ordered out of
      // the kernel (EINTR), or refused on the way in because the process is exec'ing (EBUSY)
      const hs = yield* Effect.flatMap(exec.answer, (a) => expectTag(a, "HandshakeResponse", "exec"))
      assert.strictEqual(hs.error, 0)
      for (const b of blocked) {
        const res = yield* Effect.flatMap(b.answer, (a) => expectTag(a, "SyscallResponse", "a blocked syscall"))
        assert.include([Errno.EINTR, Errno.EBUSY], res.error, "a blocked syscall is ordered out by the exec")
      }
      assert.strictEqual((yield* c.syscall(SYS.getpid)).retval0, pid, "the same process after the exec")
      c.kill()
      return `${blocked.length} blocked, killed after the answer`
    }),

  fork: (url, r) =>
    Effect.gen(function*() {
      const parent = yield* memoryGuest(url, "chaos-parent")
      const pid = (yield* parent.syscall(SYS.getpid)).retval0
      const pf = yield* Effect.flatMap(
        parent.request((reqno) => ({ _tag: "PreforkRequest", reqno })).answer,
        (a) => expectTag(a, "PreforkResponse", "prefork")
      )
      const child = yield* memoryConnect(url)
      const hs = child.request((reqno) => ({ _tag: "HandshakeFork", reqno, cookie: pf.cookie, cancel: 0 }))
      const when = r.int(3)
      if (when === 0) child.kill()
      else {
        const answer = yield* Effect.flatMap(hs.answer, (a) => expectTag(a, "HandshakeResponse", "fork handshake"))
        assert.strictEqual(answer.error, 0)
        if (when === 2) {
          const own = yield* child.syscall(SYS.getpid)
          assert.strictEqual(own.error, 0)
          assert.notStrictEqual(own.retval0, pid, "the child is a process of its own")
        }
        child.kill()
      }
      // the parent is unaffected
      assert.strictEqual((yield* parent.syscall(SYS.getpid)).retval0, pid)
      if (r.chance(0.5)) parent.kill()
      else parent.conn.socket.end()
      return ["child killed at once", "child killed after the answer", "child killed after a syscall"][when]!
    })
}

/** A client that does everything right and checks its data: random bytes through a pipe and back. */
const wellBehaved = (url: string, r: Rng, label: string) =>
  Effect.scoped(
    Effect.gen(function*() {
      const c = yield* memoryGuest(url, "good")
      const pid = (yield* c.syscall(SYS.getpid)).retval0
      assert.isAbove(Number(pid), 1, `${label}: getpid`)
      const { rd, wr } = yield* pipe(c)
      const data = r.bytes(1 + r.int(64 * 1024))
      const written = c.send(SYS.write, wr, c.memory.alloc(data), data.byteLength)
      const got = new Uint8Array(data.byteLength)
      for (let have = 0; have < data.byteLength;) {
        const at = c.memory.alloc(data.byteLength - have)
        const res = yield* c.syscall(SYS.read, rd, at, data.byteLength - have)
        assert.strictEqual(res.error, 0, `${label}: read`)
        const n = Number(res.retval0)
        assert.isAbove(n, 0, `${label}: read returned 0`)
        got.set(c.memory.read(at, n)!, have)
        have += n
      }
      const w = yield* Effect.flatMap(written.answer, (a) => expectTag(a, "SyscallResponse", "write"))
      assert.deepStrictEqual([w.error, Number(w.retval0)], [0, data.byteLength], `${label}: write`)
      assert.isTrue(Buffer.from(got).equals(Buffer.from(data)), `${label}: the bytes read are the bytes written`)
      for (const fd of [rd, wr]) assert.strictEqual((yield* c.syscall(SYS.close, fd)).error, 0)
      assert.strictEqual((yield* c.syscall(SYS.getpid)).retval0, pid, `${label}: getpid again`)
    })
  )

describe("chaos: clients killed at every kind of request, real kernel", () => {
  it.live(`${ROUNDS} rounds of every kill point x${PER_KIND} beside well-behaved clients leave nothing behind`, () => {
    const seed = seedFrom("CHAOS_SEED")
    return Effect.gen(function*() {
      const world = yield* realWorld(OPTIONS)
      const master = new Rng(seed)
      const ran: Record<string, Set<string>> = {}
      for (let round = 0; round < ROUNDS; round++) {
        const label = `seed ${seed}, round ${round}`
        const runs = Object.entries(scenarios).flatMap(([kind, scenario]) =>
          Array.from({ length: PER_KIND }, () => {
            const r = new Rng(master.next())
            return Effect.scoped(scenario(world.url, r)).pipe(
              Effect.tap((variant) => Effect.sync(() => (ran[kind] ??= new Set()).add(variant))),
              Effect.mapError((e) => new Error(`${label}, ${kind}: ${e.message}`))
            )
          })
        )
        const good = Array.from({ length: 2 }, (_, i) => wellBehaved(world.url, new Rng(master.next()), `${label}, good ${i}`))
        yield* Effect.all([...runs, ...good], { concurrency: "unbounded", discard: true })
        yield* wellBehaved(world.url, new Rng(master.next()), `${label}, after`)
        yield* nothingLeft(world, label)
      }
      assert.deepStrictEqual(Object.keys(ran).sort(), Object.keys(scenarios).sort(), "every kind ran")
      assert.strictEqual(world.server.stats().dropped, 0, "nobody was dropped for not reading")
    }).pipe(withSeed(seed, "CHAOS_SEED"))
  }, 120_000)
})

describe("a client that never reads while the kernel copies out to it (real kernel, /dev/zero)", () => {
  /**
   * A guest that opens /dev/zero, stops reading its socket and asks for `n`
   * reads of 1 MiB at once: each is one COPYOUT, sent before it is paced.
   */
  const stuckReader = (url: string, n: number) =>
    Effect.gen(function*() {
      const c = yield* memoryGuest(url, "stuck")
      const fd = yield* open(c, "/dev/zero", O_RDONLY)
      c.conn.socket.pause()
      const reads = Array.from({ length: n }, () => c.send(SYS.read, fd, c.memory.alloc(MAX_COPY_CHUNK), MAX_COPY_CHUNK))
      return { c, reads }
    })

  it.live("is dropped at the unsent-bytes bound; another client is served meanwhile; nothing is left", () =>
    Effect.gen(function*() {
      // the stall timeout is far away: only the byte bound can drop it
      const world = yield* realWorld({ ...OPTIONS, maxUnsentBytes: 4 * MAX_COPY_CHUNK, writeStallTimeout: "60 seconds" })
      const { c } = yield* stuckReader(world.url, 8)
      yield* pollUntil(Effect.sync(() => world.server.stats().dropped), (n) => n === 1, "the stuck reader dropped", { timeoutMs: 10_000 })
      yield* wellBehaved(world.url, new Rng(1), "beside the stuck reader")
      // a paused socket never sees the close: reading again shows it
      c.conn.socket.resume()
      yield* c.conn.awaitClosed()
      yield* nothingLeft(world, "after the drop")
      assert.strictEqual(world.server.stats().dropped, 1, "dropped once, nobody else")
    }), 30_000)

  it.live("below the bound it is paced, not dropped, and gets every byte once it reads again", () =>
    Effect.gen(function*() {
      const world = yield* realWorld({ ...OPTIONS, writeStallTimeout: "60 seconds" })
      // 6 MiB queued: above the 2 MiB high-water mark, below the 16 MiB bound
      const { c, reads } = yield* stuckReader(world.url, 6)
      yield* Effect.sleep(200)
      yield* wellBehaved(world.url, new Rng(2), "beside the paced reader")
      assert.strictEqual(world.server.stats().dropped, 0)
      c.conn.socket.resume()
      for (const r of reads) {
        const res = yield* Effect.flatMap(r.answer, (a) => expectTag(a, "SyscallResponse", "a paced read"))
        assert.deepStrictEqual([res.error, Number(res.retval0)], [0, MAX_COPY_CHUNK], "every paced read completes")
      }
      c.kill()
      yield* nothingLeft(world, "after the paced reader")
    }), 30_000)

  // Each paced copyout once added its own "drain" and "close" listener: more
  // than 10 at once on one connection made Node warn.
  it.live("more than 10 paced copyouts on one connection raise no MaxListenersExceededWarning", () =>
    Effect.gen(function*() {
      const warnings: Array<string> = []
      const onWarning = (w: Error) => warnings.push(w.name)
      process.on("warning", onWarning)
      yield* Effect.addFinalizer(() => Effect.sync(() => process.off("warning", onWarning)))
      const world = yield* realWorld({ ...OPTIONS, writeStallTimeout: "60 seconds" })
      // 14 MiB queued: below the 16 MiB bound, so nobody is dropped, and 12 of them paced
      const { c, reads } = yield* stuckReader(world.url, 14)
      yield* Effect.sleep(300)
      assert.strictEqual(world.server.stats().dropped, 0)
      c.conn.socket.resume()
      for (const r of reads) yield* Effect.flatMap(r.answer, (a) => expectTag(a, "SyscallResponse", "a paced read"))
      yield* Effect.sleep(50) // warnings are emitted on the next tick
      assert.notInclude(warnings, "MaxListenersExceededWarning")
    }), 30_000)
})

describe("chaos: killed while the server waits for an ANONMMAP answer (test kernel)", () => {
  it.live("at once or after holding it; another client is served and nothing is left", () => {
    const seed = seedFrom("CHAOS_SEED")
    return Effect.gen(function*() {
      const world = yield* testWorld(OPTIONS)
      const master = new Rng(seed)
      for (let round = 0; round < ROUNDS; round++) {
        const kills = Array.from({ length: 4 }, () => {
          const r = new Rng(master.next())
          return Effect.scoped(
            Effect.gen(function*() {
              const c = yield* memoryGuest(world.url, "chaos-anon")
              const cut = killAt(c, (f) => f._tag === "AnonmmapRequest", r.chance(0.5) ? "now" : { holdMs: r.int(20) })
              const { answer } = c.send(TestSyscalls.anonmmap, 4096 * (1 + r.int(64)))
              yield* cut
              yield* mustBeCut(answer, "anonmmap")
            })
          )
        })
        yield* Effect.all(kills, { concurrency: "unbounded", discard: true })
        const ok = yield* Effect.scoped(
          Effect.gen(function*() {
            const c = yield* memoryGuest(world.url, "good")
            return yield* c.syscall(TestSyscalls.anonmmap, 8192)
          })
        )
        assert.strictEqual(ok.error, 0)
        assert.notStrictEqual(ok.retval0, 0n, "the mapping's address")
        yield* nothingLeft(world, `seed ${seed}, round ${round}`)
      }
    }).pipe(withSeed(seed, "CHAOS_SEED"))
  }, 60_000)
})
