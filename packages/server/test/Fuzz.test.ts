/**
 * The server under random sessions (issue 9, Fuzzing): many concurrent raw
 * clients (node:net) send valid frames in invalid orders, wrong handshakes,
 * unknown reqnos, lying lengths, answers to requests never sent, garbage,
 * and close abruptly, often mid-frame. After each batch a well-behaved
 * client is still served and nothing is left for the closed ones (no
 * client, waiter, job, process or lwp); the heap stays under a bound.
 *
 * Reproducible: every failure prints its seed; FUZZ_SEED=<seed> replays it
 * (the interleaving of the sockets is the OS's; the steps each client takes
 * are the seed's). FUZZ_RUNS=<n> runs n batches instead of the default 3.
 *
 * Also the two hostile-client cases of the chaos section: a 1 GiB frame
 * claim (closed, nothing allocated) and a header sent one byte per 200 ms
 * (closed by the handshake timeout).
 */
import { assert, describe, it } from "@effect/vitest"
import { packArgs, Rng, TestSyscalls } from "@sysproxy/hypervisor/testing"
import { type Frame, FrameClasses, FrameDecoder, FrameTypes, HandshakeKinds, MAX_COPY_CHUNK } from "@sysproxy/protocol"
import { SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import * as Net from "node:net"
import {
  encode,
  header,
  netTarget,
  pollUntil,
  rawConnect,
  rawFrame,
  rawGuest,
  type Running,
  seedFrom,
  startServer,
  withSeed
} from "./support.ts"

const { REQ, RESP, ERROR } = FrameClasses

/** Syscalls a fuzz client may ask for (never reboot: that halts the server for everyone, by design). */
const SYSNUMS = [
  SYS.getpid,
  SYS.write,
  SYS.read,
  SYS.__nanosleep50,
  TestSyscalls.raise,
  TestSyscalls.anonmmap,
  TestSyscalls.copyinstr,
  TestSyscalls.echo,
  TestSyscalls.block
]

const randomSysnum = (r: Rng) => {
  if (r.chance(0.8)) return r.pick(SYSNUMS)
  const n = r.int(1100)
  return n === SYS.reboot ? SYS.getpid : n
}

const randomReqno = (r: Rng, used: Array<bigint>) =>
  used.length > 0 && r.chance(0.3) ? r.pick(used) : r.chance(0.5) ? BigInt(r.int(64)) : r.u64()

/** One random piece of a session: the bytes to send, or an instruction. */
type Step =
  | { readonly _tag: "Send"; readonly bytes: Uint8Array }
  | { readonly _tag: "Sleep"; readonly ms: number }
  | { readonly _tag: "CloseMidFrame"; readonly bytes: Uint8Array }

const randomStep = (r: Rng, used: Array<bigint>): Step => {
  const reqno = randomReqno(r, used)
  used.push(reqno)
  const send = (bytes: Uint8Array): Step => ({ _tag: "Send", bytes })
  switch (r.int(16)) {
    case 0:
    case 1:
      return send(encode({ _tag: "HandshakeGuest", reqno, comm: `fz${r.int(1000)}` }))
    case 2:
      return send(encode({ _tag: "HandshakeFork", reqno, cookie: r.bytes(16), cancel: r.int(2) }))
    case 3:
    case 4:
    case 5: {
      const args = Array.from({ length: r.int(7) }, () => r.u64())
      return send(encode({ _tag: "SyscallRequest", reqno, sysnum: randomSysnum(r), args: packArgs(...args) }))
    }
    case 6:
      return send(r.chance(0.5) ? encode({ _tag: "PreforkRequest", reqno }) : encode({ _tag: "HandshakeExec", reqno, comm: "fzexec" }))
    case 7: {
      // an answer to a request the server never sent (or sent to someone else)
      const answers: ReadonlyArray<Frame> = [
        { _tag: "CopyinResponse", reqno, data: r.bytes(r.int(64)) },
        { _tag: "AnonmmapResponse", reqno, addr: r.u64() },
        { _tag: "SyscallResponse", reqno, error: r.int(100), retval0: BigInt.asIntN(64, r.u64()), retval1: 0n },
        { _tag: "HandshakeResponse", reqno, error: r.int(10) },
        { _tag: "PreforkResponse", reqno, cookie: r.bytes(16) },
        { _tag: "ErrorFrame", reqno, code: r.int(8) as 0 }
      ]
      return send(encode(r.pick(answers)))
    }
    case 8:
      return send(r.bytes(1 + r.int(200)))
    case 9: {
      // a lying length: the header says one size, the body has another
      const body = r.bytes(r.int(48))
      const claimed = 24 + Math.max(0, body.byteLength + r.int(64) - 32)
      return send(new Uint8Array(Buffer.concat([header(claimed, reqno, r.pick([REQ, RESP, ERROR]), r.int(8), r.int(5)), body])))
    }
    case 10:
      // any class, type and kind, a random small body
      return send(rawFrame(reqno, r.int(4), r.int(10), r.int(6), r.bytes(r.int(40))))
    case 11:
      // an absurd length: fatal, the connection goes
      return send(header(r.chance(0.5) ? 1n << 40n : 0xffff_ffff_ffff_ffffn - BigInt(r.int(30)), reqno, REQ, FrameTypes.SYSCALL, 0))
    case 12: {
      // a valid frame cut short, and the socket closed under it
      const whole = encode({ _tag: "SyscallRequest", reqno, sysnum: SYS.getpid, args: packArgs(r.u64()) })
      return { _tag: "CloseMidFrame", bytes: whole.subarray(0, 1 + r.int(whole.byteLength - 1)) }
    }
    case 13:
      return send(rawFrame(reqno, REQ, FrameTypes.HANDSHAKE, r.pick([HandshakeKinds.AUTH, HandshakeKinds.GUEST, HandshakeKinds.FORK, HandshakeKinds.EXEC, 7]), r.bytes(r.int(30))))
    default:
      return { _tag: "Sleep", ms: r.int(4) }
  }
}

/**
 * One raw fuzz client. It answers the server's copyin/anonmmap requests
 * correctly, wrongly or not at all, as the seed says, runs its steps and
 * ends with an abrupt destroy or a half-close.
 */
const fuzzClient = (url: string, seed: number): Promise<void> =>
  new Promise<void>((resolve, reject) => {
    const r = new Rng(seed)
    // answers come when the server asks, so they draw from their own stream
    const ra = new Rng(seed ^ 0x5bd1e995)
    const socket = Net.createConnection(netTarget(url))
    const decoder = new FrameDecoder({ maxFrameLength: 1 << 24 })
    let bannerSeen = false
    let pending = Buffer.alloc(0)
    let finished = false
    const finish = () => {
      if (finished) return
      finished = true
      socket.destroy()
      resolve()
    }
    socket.on("error", () => {})
    socket.on("close", finish)
    const write = (bytes: Uint8Array) => {
      if (!socket.destroyed) socket.write(bytes)
    }
    socket.on("data", (chunk: Buffer) => {
      let rest: Uint8Array = chunk
      if (!bannerSeen) {
        pending = Buffer.concat([pending, chunk])
        const nl = pending.indexOf(0x0a)
        if (nl === -1) return
        bannerSeen = true
        rest = pending.subarray(nl + 1)
      }
      for (const item of decoder.push(new Uint8Array(rest))) {
        if (item._tag !== "Success") continue
        const f = item.success
        try {
          answer(f)
        } catch (e) {
          reject(e)
          finish()
        }
      }
    })
    const answer = (f: Frame) => {
      {
        if (f._tag !== "CopyinRequest" && f._tag !== "CopyinstrRequest" && f._tag !== "AnonmmapRequest") return
        const mode = ra.int(5)
        if (mode === 0) return // never answered: the syscall waits until the disconnect
        if (f._tag === "AnonmmapRequest") {
          write(encode({ _tag: "AnonmmapResponse", reqno: f.reqno, addr: mode === 1 ? 0n : ra.u64() }))
          return
        }
        const len = Math.min(Number(f.len), MAX_COPY_CHUNK)
        const n = mode === 1 ? ra.int(len + 8) : len // mode 1: the wrong length
        const data = ra.bytes(n)
        if (f._tag === "CopyinstrRequest" && n > 0 && ra.chance(0.7)) data[ra.int(n)] = 0
        write(ra.chance(0.1) ? encode({ _tag: "SyscallResponse", reqno: f.reqno, error: 0, retval0: 0n, retval1: 0n }) : encode({ _tag: "CopyinResponse", reqno: f.reqno, data }))
      }
    }
    const run = async () => {
      const used: Array<bigint> = []
      // most sessions get past the handshake, to reach the running state's paths
      if (r.chance(0.7)) write(encode({ _tag: "HandshakeGuest", reqno: 0n, comm: "fz" }))
      const steps = 1 + r.int(25)
      for (let i = 0; i < steps && !finished; i++) {
        const step = randomStep(r, used)
        if (step._tag === "Send") write(step.bytes)
        else if (step._tag === "Sleep") await new Promise((res) => setTimeout(res, step.ms))
        else {
          write(step.bytes)
          return finish()
        }
        if (r.chance(0.3)) await new Promise((res) => setTimeout(res, r.int(3)))
      }
      // let some of it be served, then leave abruptly or politely
      await new Promise((res) => setTimeout(res, r.int(20)))
      if (r.chance(0.5)) return finish()
      socket.end()
      setTimeout(finish, 100)
    }
    socket.once("connect", () => {
      run().catch((e: unknown) => {
        reject(e)
        finish()
      })
    })
  })

/** A well-behaved client is served, then nothing is left for anyone. */
const checkInvariants = (rt: Running, label: string) =>
  Effect.gen(function*() {
    yield* Effect.scoped(
      Effect.gen(function*() {
        const { conn, pid } = yield* rawGuest(rt.url, "good")
        assert.isAbove(pid, 0, `${label}: getpid answered`)
        conn.socket.destroy()
      })
    )
    yield* pollUntil(
      Effect.gen(function*() {
        const s = rt.server.stats()
        return {
          clients: s.clients,
          waiters: s.waiters,
          inflightJobs: s.inflightJobs,
          processes: yield* rt.kernel.processCount,
          lwps: yield* rt.kernel.lwpCount
        }
      }),
      (f) => f.clients === 0 && f.waiters === 0 && f.inflightJobs === 0 && f.processes === 0 && f.lwps === 0,
      `${label}: clients, waiters, jobs, processes and lwps back to 0`,
      { timeoutMs: 5000 }
    )
  })

const FUZZ_RUNS = Math.max(1, Number(process.env["FUZZ_RUNS"] ?? 3) || 3)
const CLIENTS_PER_BATCH = 16

describe("fuzz: random sessions", () => {
  it.live(`${FUZZ_RUNS} batches of ${CLIENTS_PER_BATCH} concurrent hostile clients leave nothing behind`, () => {
    const seed = seedFrom("FUZZ_SEED")
    return Effect.gen(function*() {
      // prefork children expire fast so a batch's unclaimed preforks are gone by the check
      const rt = yield* startServer({ preforkExpiry: "200 millis", disconnectGrace: "500 millis" })
      const heapBefore = process.memoryUsage().heapUsed
      const master = new Rng(seed)
      for (let batch = 0; batch < FUZZ_RUNS; batch++) {
        const seeds = Array.from({ length: CLIENTS_PER_BATCH }, () => master.next())
        yield* Effect.promise(() => Promise.all(seeds.map((s) => fuzzClient(rt.url, s))))
        yield* checkInvariants(rt, `seed ${seed}, batch ${batch}`)
      }
      const growth = process.memoryUsage().heapUsed - heapBefore
      assert.isBelow(growth, 64 * 1024 * 1024, `heap grew by ${growth} bytes`)
      assert.isAbove(rt.server.stats().protocolErrors, 0, "the fuzz did reach the decoder's error paths")
    }).pipe(withSeed(seed, "FUZZ_SEED"))
  }, 60_000)
})

describe("hostile clients", () => {
  it.live("a client claiming a 1 GiB frame is closed and nothing is allocated", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const before = process.memoryUsage().arrayBuffers
      const { conn } = yield* rawGuest(rt.url)
      yield* conn.write(header(1n << 30n, 5n, REQ, FrameTypes.SYSCALL, 0))
      // and the body starts to arrive, as a real attacker would send it
      yield* conn.write(new Uint8Array(64 * 1024))
      yield* conn.awaitClosed()
      const grown = process.memoryUsage().arrayBuffers - before
      assert.isBelow(grown, 32 * 1024 * 1024, `arrayBuffers grew by ${grown} bytes`)
      yield* pollUntil(Effect.sync(() => rt.server.stats().clients), (n) => n === 0, "the client to be gone")
      assert.strictEqual(yield* rt.kernel.processCount, 0)
      // and the server still serves
      yield* rawGuest(rt.url, "after")
    }))

  it.live("a client sending one header byte per 200 ms is closed by the handshake timeout", () =>
    Effect.gen(function*() {
      const rt = yield* startServer({ handshakeTimeout: "1 second" })
      const conn = yield* rawConnect(rt.url)
      yield* conn.readBanner()
      const started = Date.now()
      const frame = encode({ _tag: "HandshakeGuest", reqno: 0n, comm: "slow" })
      let sent = 0
      while (!conn.closed && sent < frame.byteLength && Date.now() - started < 4000) {
        yield* conn.write(frame.subarray(sent, sent + 1))
        sent++
        yield* Effect.sleep("200 millis")
      }
      yield* conn.awaitClosed()
      const after = conn.closedAt! - started
      assert.isTrue(sent < 24, `closed before the header was complete (${sent} bytes sent)`)
      assert.isAtLeast(after, 900)
      assert.isBelow(after, 2500)
      assert.strictEqual(rt.server.stats().handshakes.guest, 0)
      yield* pollUntil(Effect.sync(() => rt.server.stats().clients), (n) => n === 0, "the client to be gone")
    }))
})
