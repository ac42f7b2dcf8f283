/**
 * Per-client caps (issue 9, Security): one connection cannot hold more than
 * maxInflightSyscalls syscalls in the server (the rest get ERROR TRYAGAIN)
 * nor have more than maxOutstandingRequests server requests awaiting its
 * answers (the copy that would exceed it fails with EFAULT). Raw frames
 * over real sockets; afterwards nothing is left behind.
 */
import { assert, describe, it } from "@effect/vitest"
import { connect } from "@sysproxy/client"
import { packArgs, TestSyscalls } from "@sysproxy/hypervisor/testing"
import { ErrorCodes, type Frame } from "@sysproxy/protocol"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { encode, pollUntil, rawGuest, startServer } from "./support.ts"

const syscallFrame = (reqno: bigint, sysnum: number, args: Uint8Array = new Uint8Array(0)) =>
  encode({ _tag: "SyscallRequest", reqno, sysnum, args })

const settled = (rt: { readonly server: { readonly stats: () => { readonly clients: number; readonly waiters: number; readonly inflightJobs: number } }; readonly kernel: { readonly processCount: Effect.Effect<number>; readonly lwpCount: Effect.Effect<number> } }) =>
  pollUntil(
    Effect.gen(function*() {
      const s = rt.server.stats()
      return { clients: s.clients, waiters: s.waiters, inflightJobs: s.inflightJobs, processes: yield* rt.kernel.processCount, lwps: yield* rt.kernel.lwpCount }
    }),
    (f) => f.clients === 0 && f.waiters === 0 && f.inflightJobs === 0 && f.processes === 0 && f.lwps === 0,
    "the server and kernel to be empty"
  )

describe("per-client caps", () => {
  it.live("maxInflightSyscalls: the request beyond the cap gets ERROR TRYAGAIN; the connection survives", () =>
    Effect.gen(function*() {
      const rt = yield* startServer({ maxInflightSyscalls: 4 })
      const { conn } = yield* rawGuest(rt.url)
      for (let i = 0; i < 4; i++) yield* conn.write(syscallFrame(BigInt(10 + i), TestSyscalls.block, packArgs(i)))
      yield* rt.kernel.awaitSleeping(4).pipe(Effect.timeout("3 seconds"))
      yield* conn.write(syscallFrame(20n, TestSyscalls.block, packArgs(9)))
      yield* conn.write(syscallFrame(21n, SYS.getpid))
      assert.deepStrictEqual(yield* conn.next("ErrorFrame"), { _tag: "ErrorFrame", reqno: 20n, code: ErrorCodes.TRYAGAIN })
      assert.deepStrictEqual(yield* conn.next("ErrorFrame"), { _tag: "ErrorFrame", reqno: 21n, code: ErrorCodes.TRYAGAIN })
      assert.strictEqual(rt.server.stats().inflightJobs, 4)
      assert.strictEqual(yield* rt.kernel.lwpCount, 4)
      assert.isFalse(conn.closed)
      // another client is not limited by this one's cap
      const other = yield* rawGuest(rt.url, "other")
      assert.isAbove(other.pid, 0)
      other.conn.socket.destroy()
      conn.socket.destroy()
      yield* settled(rt)
    }))

  it.live("maxOutstandingRequests: the copyin beyond the cap fails with EFAULT; the others complete", () =>
    Effect.gen(function*() {
      const rt = yield* startServer({ maxOutstandingRequests: 2 })
      const { conn } = yield* rawGuest(rt.url)
      // three writes whose copyins the client does not answer yet
      for (let i = 0; i < 3; i++) yield* conn.write(syscallFrame(BigInt(10 + i), SYS.write, packArgs(1, 0x1000 + i * 16, 4)))
      const got: Array<Frame> = []
      for (let i = 0; i < 3; i++) got.push(yield* conn.nextFrame())
      const copyins = got.filter((f) => f._tag === "CopyinRequest")
      const answers = got.filter((f) => f._tag === "SyscallResponse")
      assert.strictEqual(copyins.length, 2, JSON.stringify(got.map((f) => f._tag)))
      assert.strictEqual(answers.length, 1)
      assert.strictEqual(answers[0]!._tag === "SyscallResponse" ? answers[0]!.error : -1, Errno.EFAULT)
      assert.strictEqual(rt.server.stats().waiters, 2)
      for (const c of copyins) {
        yield* conn.write(encode({ _tag: "CopyinResponse", reqno: c.reqno, data: new Uint8Array([1, 2, 3, 4]) }))
      }
      for (let i = 0; i < 2; i++) {
        const r = yield* conn.next("SyscallResponse")
        assert.strictEqual(r.error, 0)
        assert.strictEqual(r.retval0, 4n)
      }
      // below the cap again: a new copy goes through
      yield* conn.write(syscallFrame(30n, SYS.write, packArgs(1, 0x2000, 2)))
      const c = yield* conn.next("CopyinRequest")
      yield* conn.write(encode({ _tag: "CopyinResponse", reqno: c.reqno, data: new Uint8Array([5, 6]) }))
      assert.deepStrictEqual(yield* conn.next("SyscallResponse"), { _tag: "SyscallResponse", reqno: 30n, error: 0, retval0: 2n, retval1: 0n })
      conn.socket.destroy()
      yield* settled(rt)
    }))

  it.live("the defaults are 1024 each (315 threads of one process fit)", () =>
    Effect.gen(function*() {
      const { resolveOptions } = yield* Effect.promise(() => import("../src/ServerOptions.ts"))
      const o = resolveOptions({ url: "unix:///x" })
      assert.strictEqual(o.maxInflightSyscalls, 1024)
      assert.strictEqual(o.maxOutstandingRequests, 1024)
    }))
})

describe("C server defects that must stay absent (SECURITY.md)", () => {
  it.live("(e) a copyinstr answer of exactly maxlen bytes with no NUL is ENAMETOOLONG; one byte more is EFAULT", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const { conn } = yield* rawGuest(rt.url)
      const exact = new Uint8Array([0x61, 0x62, 0x63, 0x64])
      yield* conn.write(syscallFrame(10n, TestSyscalls.copyinstr, packArgs(0x1000, 4)))
      const ask = yield* conn.next("CopyinstrRequest")
      assert.strictEqual(ask.len, 4n)
      yield* conn.write(encode({ _tag: "CopyinResponse", reqno: ask.reqno, data: exact }))
      const r = yield* conn.next("SyscallResponse")
      assert.strictEqual(r.error, Errno.ENAMETOOLONG)
      yield* conn.write(syscallFrame(11n, TestSyscalls.copyinstr, packArgs(0x1000, 4)))
      const ask2 = yield* conn.next("CopyinstrRequest")
      yield* conn.write(encode({ _tag: "CopyinResponse", reqno: ask2.reqno, data: new Uint8Array([0x61, 0x62, 0x63, 0x64, 0]) }))
      assert.strictEqual((yield* conn.next("SyscallResponse")).error, Errno.EFAULT)
      // a NUL inside the answer ends the string there, whatever follows
      yield* conn.write(syscallFrame(12n, TestSyscalls.copyinstr, packArgs(0x1000, 8)))
      const ask3 = yield* conn.next("CopyinstrRequest")
      yield* conn.write(encode({ _tag: "CopyinResponse", reqno: ask3.reqno, data: new Uint8Array([0x78, 0, 0x79, 0x7a]) }))
      assert.deepStrictEqual(yield* conn.next("SyscallResponse"), { _tag: "SyscallResponse", reqno: 12n, error: 0, retval0: 1n, retval1: 0n })
      assert.strictEqual(yield* rt.kernel.lastString, "x")
    }))

  it.live("(d) no hard limit of 256: with maxClients 400, 270 simultaneous clients are all served", () =>
    Effect.gen(function*() {
      const rt = yield* startServer({ maxClients: 400 })
      const pids = yield* Effect.forEach(
        Array.from({ length: 270 }, (_, i) => i),
        (i) =>
          Effect.gen(function*() {
            const client = yield* connect(rt.url)
            yield* client.handshakeGuest(`c${i}`)
            const r = yield* client.syscall(SYS.getpid)
            return Number(r.retval0)
          }),
        { concurrency: "unbounded" }
      )
      assert.strictEqual(new Set(pids).size, 270)
      assert.strictEqual(rt.server.stats().clients, 270)
    }), 20_000)
})
