/**
 * Defects of the C server (SECURITY.md, (e) (f) (g)) that the other files
 * did not pin down exactly: each test here fails if the defect came back.
 * Raw frames over real sockets against the test kernel.
 */
import { assert, describe, it } from "@effect/vitest"
import { Hypervisor, HypervisorError, type HypervisorService, UserMemory, type UserMemoryService } from "@sysproxy/hypervisor"
import { packArgs, TestHypervisor, TestSyscalls } from "@sysproxy/hypervisor/testing"
import { ErrorCodes } from "@sysproxy/protocol"
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect, References } from "effect"
import { make } from "../src/index.ts"
import { cat, encode, getpidFrame, guestFrame, rawConnect, rawGuest, startServer, tempSocketPath } from "./support.ts"

const syscallFrame = (reqno: bigint, sysnum: number, args: Uint8Array = new Uint8Array(0)) =>
  encode({ _tag: "SyscallRequest", reqno, sysnum, args })

describe("(e) copyinstr: nothing is written past a received buffer", () => {
  // The C server wrote the terminating NUL one byte past the answer. Here
  // the bytes the kernel gets share memory with the frames decoded after
  // them (a view of the socket chunk, or a pooled slab the next frame's
  // arguments are copied into right behind them), so the answer is sent
  // with a syscall frame right behind it in the same write, and the
  // kernel's copyinstr result is looked at where the kernel gets it: the
  // byte after it in its buffer must still be one the client sent. (That
  // frame is decoded before the copyinstr call returns, so its answer
  // alone would not show such a write.) Answers are 8 bytes, so no slab
  // padding lies between them and the next frame's bytes.
  const MAXLEN = 8
  /** Arguments of the frame behind the answer (getpid ignores them); its first byte is not 0. */
  const behindArgs = new Uint8Array([0xa5, 1, 2, 3, 4, 5, 6, 7])

  /** A server whose kernel keeps every copyinstr result it gets (the arrays themselves). */
  const startWatchedServer = Effect.gen(function*() {
    const { hypervisor, kernel } = yield* TestHypervisor.make()
    const results: Array<Uint8Array> = []
    const watched: HypervisorService = {
      ...hypervisor,
      syscall: (lwp, number, args) =>
        hypervisor.syscall(lwp, number, args).pipe(
          // a RemoteMemory's methods live on its prototype: keep it, replace one
          Effect.updateService(UserMemory, (memory) =>
            Object.assign(Object.create(memory) as UserMemoryService, {
              copyinstr: (addr: bigint, maxLen: number) =>
                Effect.tap(memory.copyinstr(addr, maxLen), (bytes) => Effect.sync(() => results.push(bytes)))
            }))
        )
    }
    const server = yield* make({ url: `unix://${yield* tempSocketPath}` }).pipe(
      Effect.provideService(Hypervisor, watched),
      Effect.provideService(References.MinimumLogLevel, "Error")
    )
    return { url: server.address.url, kernel, results }
  })

  /**
   * copyinstr(maxlen 8) answered with `data`, a getpid frame right behind the
   * answer in the same write; returns copyinstr's answer after checking the
   * kernel got `data` with one of the client's bytes intact right behind it.
   */
  const answerWithFrameBehind = (data: Uint8Array) =>
    Effect.gen(function*() {
      const { url, kernel, results } = yield* startWatchedServer
      const { conn, pid } = yield* rawGuest(url)
      // a slab that fills up exactly at the answer leaves nothing behind it:
      // then ask again (the next answer is at the start of a fresh slab)
      for (let attempt = 0, reqno = 10n; attempt < 3; attempt++, reqno += 2n) {
        yield* conn.write(syscallFrame(reqno, TestSyscalls.copyinstr, packArgs(0x1000, MAXLEN)))
        const ask = yield* conn.next("CopyinstrRequest")
        assert.strictEqual(ask.len, BigInt(MAXLEN))
        const behind = syscallFrame(reqno + 1n, 20, behindArgs)
        yield* conn.write(cat(encode({ _tag: "CopyinResponse", reqno: ask.reqno, data }), behind))
        const answers = [yield* conn.next("SyscallResponse"), yield* conn.next("SyscallResponse")].sort((a, b) => Number(a.reqno - b.reqno))
        const getpid = answers[1]!
        assert.deepStrictEqual([getpid.reqno, getpid.error, Number(getpid.retval0)], [reqno + 1n, 0, pid], "the frame behind the answer is served")

        assert.strictEqual(results.length, attempt + 1)
        const got = results[attempt]!
        assert.deepStrictEqual([...got], [...data], "the kernel got the answer's bytes")
        const end = got.byteOffset + got.byteLength
        if (end === got.buffer.byteLength) continue
        const after = new Uint8Array(got.buffer)[end]
        // the next frame's first header byte (a chunk view) or its first argument byte (a slab)
        assert.oneOf(after, [behind[0], behindArgs[0]], "the byte after the answer is the client's, not a NUL")
        return { copyinstr: answers[0]!, lastString: yield* kernel.lastString }
      }
      return assert.fail("the kernel's bytes never had a byte behind them")
    })

  it.live("an answer of exactly maxlen bytes without NUL is ENAMETOOLONG, and the byte behind it is untouched", () =>
    Effect.gen(function*() {
      const { copyinstr } = yield* answerWithFrameBehind(new TextEncoder().encode("abcdefgh"))
      assert.strictEqual(copyinstr.error, Errno.ENAMETOOLONG, "no NUL within maxlen: the server does not add one")
    }))

  it.live("a string whose NUL is the last byte of maxlen is taken whole, and the byte behind it is untouched", () =>
    Effect.gen(function*() {
      const { copyinstr, lastString } = yield* answerWithFrameBehind(new TextEncoder().encode("abcdefg\0"))
      assert.deepStrictEqual([copyinstr.error, copyinstr.retval0, lastString], [0, 7n, "abcdefg"])
    }))
})

describe("(f) the fork handshake leaves nothing locked", () => {
  // The C server locked instead of unlocking on the fork handshake: the
  // first fork worked, the next use of that lock hung. So: many in a row.
  it.live("ten prefork + fork handshakes in a row: every one answered, each child served, the parent still served", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const parent = yield* rawGuest(rt.url, "parent")
      for (let i = 0; i < 10; i++) {
        yield* parent.conn.write(encode({ _tag: "PreforkRequest", reqno: BigInt(100 + i) }))
        const { cookie } = yield* parent.conn.next("PreforkResponse")
        const child = yield* rawConnect(rt.url)
        yield* child.readBanner()
        yield* child.write(encode({ _tag: "HandshakeFork", reqno: 0n, cookie, cancel: 0 }))
        assert.strictEqual((yield* child.next("HandshakeResponse")).error, 0, `fork ${i}`)
        yield* child.write(getpidFrame(1n))
        const own = yield* child.next("SyscallResponse")
        assert.notStrictEqual(Number(own.retval0), parent.pid, `fork ${i}: the child is a process of its own`)
        yield* parent.conn.write(getpidFrame(BigInt(200 + i)))
        assert.strictEqual(Number((yield* parent.conn.next("SyscallResponse")).retval0), parent.pid, `fork ${i}: the parent`)
        child.socket.destroy()
      }
      assert.strictEqual(rt.server.stats().handshakes.fork, 10)
    }))
})

describe("(g) a failed allocation is reported once, never retried", () => {
  it.live("an ANONMMAP the client refuses (address 0) is ENOMEM after exactly one request", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      const { conn } = yield* rawGuest(rt.url)
      yield* conn.write(syscallFrame(10n, TestSyscalls.anonmmap, packArgs(8192)))
      const ask = yield* conn.next("AnonmmapRequest")
      yield* conn.write(encode({ _tag: "AnonmmapResponse", reqno: ask.reqno, addr: 0n }))
      // a retry would be another ANONMMAP before the answer: the next frame is the answer
      const r = yield* conn.next("SyscallResponse")
      assert.deepStrictEqual([r.reqno, r.error], [10n, Errno.ENOMEM])
      assert.strictEqual(conn.pendingFrames, 0)
    }))

  it.live("an rfork the kernel refuses: the guest handshake gets RFORK_FAILED once; a prefork gets it once and the connection goes on", () =>
    Effect.gen(function*() {
      const { hypervisor, kernel } = yield* TestHypervisor.make()
      let calls = 0
      let refuse = true
      // the kernel's rfork, refusing while `refuse` holds
      const failing: HypervisorService = {
        ...hypervisor,
        rfork: (o) => {
          calls++
          return refuse ? Effect.fail(new HypervisorError({ op: "rfork", errno: Errno.EAGAIN, message: "no memory (test)" })) : hypervisor.rfork(o)
        }
      }
      const server = yield* make({ url: `unix://${yield* tempSocketPath}` }).pipe(
        Effect.provideService(Hypervisor, failing),
        Effect.provideService(References.MinimumLogLevel, "Error")
      )
      const conn = yield* rawConnect(server.address.url)
      yield* conn.readBanner()
      yield* conn.write(guestFrame(0n, "refused"))
      const e = yield* conn.next("ErrorFrame")
      assert.strictEqual(e.code, ErrorCodes.RFORK_FAILED)
      yield* conn.awaitClosed()
      assert.strictEqual(calls, 1, "one rfork for one handshake")

      refuse = false
      const { conn: ok, pid } = yield* rawGuest(server.address.url, "accepted")
      assert.strictEqual(calls, 2)
      refuse = true
      yield* ok.write(encode({ _tag: "PreforkRequest", reqno: 5n }))
      const pe = yield* ok.next("ErrorFrame")
      assert.deepStrictEqual([pe.reqno, pe.code], [5n, ErrorCodes.RFORK_FAILED])
      assert.strictEqual(calls, 3, "one rfork for one prefork")
      yield* ok.write(getpidFrame(6n))
      assert.strictEqual(Number((yield* ok.next("SyscallResponse")).retval0), pid, "the connection goes on")
      assert.strictEqual(calls, 3)
      assert.strictEqual(yield* kernel.processCount, 1)
      assert.strictEqual(server.stats().preforks, 0)
    }))
})
