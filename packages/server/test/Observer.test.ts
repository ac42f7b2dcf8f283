/**
 * What the server tells its observer: metrics after a real client session
 * (counted by name and errno, latency, handshakes, copy bytes, error
 * replies, undecodable frames), syscall spans when tracing is on, and log
 * lines that name the client once it has handshaken.
 */
import { assert, describe, it } from "@effect/vitest"
import { failure, success, TestSyscalls } from "@sysproxy/hypervisor/testing"
import { encodeFrameResult } from "@sysproxy/protocol"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { Effect, Logger, References, Result, type Tracer } from "effect"
import { makeServerMetrics } from "../src/index.ts"
import { guest, rawConnect, startServer, waitFor } from "./runtime-support.ts"

/** The sample lines of a Prometheus text, by series (name and labels as printed). */
const samples = (text: string): ReadonlyMap<string, number> =>
  new Map(
    text.split("\n").filter((l) => l.length > 0 && !l.startsWith("#")).map((l) => {
      const cut = l.lastIndexOf(" ")
      return [l.slice(0, cut), Number(l.slice(cut + 1))] as const
    })
  )

const OTHER_SYSCALL = 900

/** A getpid request whose header claims a length of 1 TiB. */
const oversized = (): Uint8Array => {
  const frame = encodeFrameResult({ _tag: "SyscallRequest", reqno: 1n, sysnum: SYS.getpid, args: new Uint8Array(0) })
  const bytes = Uint8Array.from(Result.getOrThrow(frame))
  new DataView(bytes.buffer).setBigUint64(0, 1n << 40n, true)
  return bytes
}

describe("server observer", () => {
  it.live("metrics count a session's syscalls, handshakes, copies, error replies and bad frames", () =>
    Effect.gen(function*() {
      const metrics = makeServerMetrics()
      const rt = yield* startServer({ observer: metrics.observer })
      metrics.watchServer(rt.server.stats)
      yield* rt.kernel.setHandler(OTHER_SYSCALL, () => Effect.succeed(failure(Errno.ENOENT)))

      const { client } = yield* guest(rt, "metered")
      for (let i = 0; i < 3; i++) assert.strictEqual((yield* client.syscall(SYS.getpid)).error, 0)
      assert.strictEqual((yield* client.syscall(OTHER_SYSCALL)).error, Errno.ENOENT)
      const src = client.space.alloc(new Uint8Array(100).fill(7))
      const dst = client.space.alloc(100)
      assert.strictEqual((yield* client.syscall(TestSyscalls.echo, [src, 100, dst])).error, 0)

      // a syscall before any handshake: ERROR AUTH
      const early = yield* rawConnect(rt.url)
      yield* early.banner
      yield* early.send({ _tag: "SyscallRequest", reqno: 5n, sysnum: SYS.getpid, args: new Uint8Array(0) })
      yield* early.nextOf("ErrorFrame")
      // a frame longer than the limit: undecodable at "len"
      const liar = yield* rawConnect(rt.url)
      yield* liar.banner
      liar.socket.write(oversized())
      yield* liar.closed

      const s = samples(metrics.format())
      assert.strictEqual(s.get(`sysproxy_syscalls_total{syscall="getpid",errno="0"}`), 3)
      assert.strictEqual(s.get(`sysproxy_syscalls_total{syscall="unknown",errno="ENOENT"}`), 1)
      assert.strictEqual(s.get(`sysproxy_syscalls_total{syscall="unknown",errno="0"}`), 1, "the echo syscall")
      assert.strictEqual(s.get("sysproxy_syscall_duration_seconds_count"), 5)
      assert.isTrue((s.get("sysproxy_syscall_duration_seconds_sum") ?? -1) > 0)
      assert.strictEqual(s.get(`sysproxy_syscall_duration_seconds_bucket{le="+Inf"}`), 5)
      assert.strictEqual(s.get(`sysproxy_handshakes_total{kind="guest"}`), 1)
      assert.strictEqual(s.get(`sysproxy_handshakes_total{kind="fork"}`), 0)
      assert.strictEqual(s.get("sysproxy_copyin_bytes_total"), 100)
      assert.strictEqual(s.get("sysproxy_copyout_bytes_total"), 100)
      assert.strictEqual(s.get(`sysproxy_error_replies_total{code="AUTH"}`), 1)
      assert.strictEqual(s.get(`sysproxy_protocol_errors_total{kind="len"}`), 1)
      assert.strictEqual(s.get("sysproxy_connections_accepted_total"), 3)
      assert.strictEqual(s.get("sysproxy_clients_bound"), 1)
      assert.strictEqual(s.get("sysproxy_prefork_registry_size"), 0)
      assert.isTrue(s.has("sysproxy_worker_pool_size"))

      // pull-style series follow the server: the guest leaves, the gauge drops
      yield* client.close
      yield* early.destroy
      yield* waitFor("no clients", Effect.sync(() => samples(metrics.format()).get("sysproxy_clients")), (n) => n === 0)
    }))

  it.live("with traceSyscalls each syscall runs in a span named after it, with the pid and the errno", () =>
    Effect.gen(function*() {
      const spans: Array<Tracer.Span> = []
      const rt = yield* startServer({ traceSyscalls: true })
      yield* rt.kernel.setHandler(SYS.getppid, () =>
        Effect.currentSpan.pipe(
          Effect.map((span) => {
            spans.push(span)
            return success(1n)
          }),
          Effect.orDie
        ))
      const { client, pid } = yield* guest(rt, "traced")
      assert.strictEqual((yield* client.syscall(SYS.getppid)).error, 0)
      assert.strictEqual(spans.length, 1)
      const span = spans[0]!
      assert.strictEqual(span.name, "syscall getppid")
      assert.strictEqual(span.attributes.get("pid"), pid)
      assert.strictEqual(span.attributes.get("syscall.number"), SYS.getppid)
      assert.strictEqual(span.attributes.get("errno"), 0)
      assert.strictEqual(span.status._tag, "Ended")
    }))

  it.live("without tracing a syscall runs in no span", () =>
    Effect.gen(function*() {
      let inSpan: boolean | undefined
      const rt = yield* startServer()
      yield* rt.kernel.setHandler(SYS.getppid, () =>
        Effect.currentSpan.pipe(
          Effect.match({ onFailure: () => false, onSuccess: () => true }),
          Effect.map((found) => {
            inSpan = found
            return success(1n)
          })
        ))
      const { client } = yield* guest(rt, "untraced")
      yield* client.syscall(SYS.getppid)
      assert.strictEqual(inSpan, false)
    }))

  it.live("after the handshake, the connection's log lines (its syscalls' too) carry the client's pid", () =>
    Effect.gen(function*() {
      const lines: Array<{ readonly message: unknown; readonly annotations: Readonly<Record<string, unknown>> }> = []
      const capture = Logger.make((o) => {
        lines.push({ message: o.message, annotations: o.fiber.getRef(References.CurrentLogAnnotations) })
      })
      const rt = yield* startServer().pipe(Effect.provideService(Logger.CurrentLoggers, new Set([capture])))
      yield* rt.kernel.setHandler(OTHER_SYSCALL, () => Effect.logWarning("inside a syscall").pipe(Effect.as(success())))
      const raw = yield* rawConnect(rt.url)
      yield* raw.banner
      yield* raw.handshake("annotated")
      yield* raw.send({ _tag: "SyscallRequest", reqno: 1n, sysnum: OTHER_SYSCALL, args: new Uint8Array(0) })
      yield* raw.nextOf("SyscallResponse")
      // a frame longer than the limit: a protocol error logged by the connection
      raw.socket.write(oversized())
      yield* waitFor("the protocol error line", Effect.sync(() => lines.length), (n) => n >= 2)
      const inside = lines.find((l) => String(l.message).includes("inside a syscall"))
      assert.isDefined(inside)
      assert.isNumber(inside!.annotations["pid"])
      assert.isNumber(inside!.annotations["connection"])
      const error = lines.find((l) => String(l.message).includes("protocol error"))
      assert.isDefined(error, JSON.stringify(lines))
      assert.strictEqual(error!.annotations["pid"], inside!.annotations["pid"])
    }))
})
