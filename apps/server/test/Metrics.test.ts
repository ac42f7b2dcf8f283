/**
 * --metrics with the app as a process: Prometheus text scraped over HTTP
 * after a real client session, each series checked against what the
 * session did; and the connection's log lines naming the client.
 */
import { assert, describe, it } from "@effect/vitest"
import { connect, makeClient } from "@sysproxy/client"
import { FrameClasses, FrameTypes, type Header, HEADER_SIZE, writeHeaderFields } from "@sysproxy/protocol"
import { Errno, openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect, Schedule } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { spawnApp, tempDir } from "./ChildApp.ts"

/** A number nothing implements (below 512, so the kernel counts it by itself). */
const UNIMPLEMENTED = 499

const scrape = (url: string) =>
  Effect.promise(async () => {
    const res = await fetch(url)
    return { status: res.status, type: res.headers.get("content-type"), text: await res.text() }
  })

/** Sample lines by series (name and labels as printed). */
const samples = (text: string): ReadonlyMap<string, number> =>
  new Map(
    text.split("\n").filter((l) => l.length > 0 && !l.startsWith("#")).map((l) => {
      const cut = l.lastIndexOf(" ")
      return [l.slice(0, cut), Number(l.slice(cut + 1))] as const
    })
  )

/** A frame of a header only: a SYSCALL request, but for the fields given. */
const bareHeader = (fields: Partial<Header>) => {
  const bytes = new Uint8Array(HEADER_SIZE)
  const base = { len: BigInt(HEADER_SIZE), reqno: 1n, class: FrameClasses.REQ, type: FrameTypes.SYSCALL, arg: 0 }
  writeHeaderFields(new DataView(bytes.buffer), { ...base, ...fields })
  return bytes
}

describe.concurrent("sysproxy-server --metrics", () => {
  it.live("a scrape after a session shows what it did; lines after the handshake carry pid and comm", () =>
    Effect.gen(function*() {
      const url = `unix://${Path.join(yield* tempDir, "rump.sock")}`
      const app = yield* spawnApp(["--metrics", "127.0.0.1:0", "--log-format", "json", "--log-level", "debug", url])
      yield* app.waitForStdout(/listening on unix:/)
      const metricsUrl = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(app.stdout())?.[1]
      assert.isDefined(metricsUrl, app.stdout())

      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* connect(url)
        yield* c.handshakeGuest("scraped")
        for (let i = 0; i < 2; i++) assert.strictEqual((yield* c.syscall(SYS.getpid)).error, 0)
        assert.strictEqual((yield* c.syscall(SYS.open, [c.space.allocString("/nope"), 0, 0])).error, Errno.ENOENT)
        assert.strictEqual((yield* c.syscall(UNIMPLEMENTED)).error, Errno.ENOSYS)
        const flags = openFlags.O_RDWR | openFlags.O_CREAT
        const fd = yield* c.syscall(SYS.open, [c.space.allocString("/tmp/f"), flags, 0o644])
        assert.strictEqual(fd.error, 0)

        const before = samples((yield* scrape(metricsUrl!)).text)
        const w = yield* c.syscall(SYS.write, [fd.retval0, c.space.alloc(new Uint8Array(100).fill(1)), 100])
        assert.strictEqual(w.retval0, 100n)
        const r = yield* c.syscall(SYS.pread, [fd.retval0, c.space.alloc(64), 64, 0, 10])
        assert.strictEqual(r.retval0, 64n)
        const page = yield* scrape(metricsUrl!)
        assert.strictEqual(page.status, 200)
        assert.match(page.type ?? "", /^text\/plain; version=0\.0\.4/)
        const after = samples(page.text)
        const delta = (series: string) => (after.get(series) ?? Number.NaN) - (before.get(series) ?? 0)

        assert.strictEqual(delta("sysproxy_copyin_bytes_total"), 100)
        assert.strictEqual(delta("sysproxy_copyout_bytes_total"), 64)
        assert.strictEqual(delta(`sysproxy_syscalls_total{syscall="write",errno="0"}`), 1)
        assert.strictEqual(after.get(`sysproxy_syscalls_total{syscall="getpid",errno="0"}`), 2)
        assert.strictEqual(after.get(`sysproxy_syscalls_total{syscall="open",errno="ENOENT"}`), 1)
        assert.strictEqual(after.get(`sysproxy_syscalls_total{syscall="unknown",errno="ENOSYS"}`), 1)
        assert.strictEqual(after.get(`sysproxy_unimplemented_syscalls_total{number="${UNIMPLEMENTED}",syscall="unknown"}`), 1)
        // 2 getpid, 2 open, the unimplemented one, write, pread
        assert.strictEqual(after.get("sysproxy_syscall_duration_seconds_count"), 7)
        assert.strictEqual(after.get(`sysproxy_handshakes_total{kind="guest"}`), 1)
        assert.strictEqual(after.get("sysproxy_clients"), 1)
        assert.strictEqual(after.get("sysproxy_kernel_processes"), 1)
        assert.strictEqual(after.get("sysproxy_kernel_open_files"), 2, "the console (one file on fds 0-2) and /tmp/f")
        assert.isTrue((after.get("sysproxy_worker_pool_size") ?? 0) >= 1)
        assert.strictEqual(after.get("sysproxy_prefork_registry_size"), 0)
      }))

      const other = yield* scrape(metricsUrl!.replace("/metrics", "/other"))
      assert.strictEqual(other.status, 404)

      const handshake = app.stdout().split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l))
        .find((l) => l.message === "handshake complete")
      assert.isDefined(handshake)
      assert.strictEqual(handshake.annotations.comm, "scraped")
      assert.isNumber(handshake.annotations.pid)
      assert.isNumber(handshake.annotations.connection)

      yield* app.kill("SIGTERM")
      assert.strictEqual((yield* app.ended()).code, 0)
    }))

  it.live("handshakes of every kind, undecodable frames by kind, and the pool's busy and queued workers", () =>
    Effect.gen(function*() {
      const url = `unix://${Path.join(yield* tempDir, "rump.sock")}`
      const app = yield* spawnApp([
        ...["--metrics", "127.0.0.1:0", "--max-workers", "1", "--idle-workers", "0", "--grace", "0", url]
      ])
      yield* app.waitForStdout(/listening on unix:/)
      const metricsUrl = /metrics on (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(app.stdout())![1]!
      const scraped = Effect.map(scrape(metricsUrl), (page) => samples(page.text))

      // guest, then prefork and fork (parent.fork() does both), then exec in the child
      const parent = yield* makeClient({ url, comm: "parent" })
      const child = yield* parent.fork()
      yield* child.exec("execd")

      // each bad frame (on a connection of its own, before a handshake) is counted by the field it broke at
      for (const fields of [{ class: 9 }, { type: 99 }, { len: 1n << 40n }]) {
        yield* Effect.flatMap(connect(url), (c) => c.writeRaw(bareHeader(fields)))
      }

      // one worker: a read of an empty pipe holds it, so the child's getpid waits in the queue
      const [readEnd] = yield* parent.pipe()
      yield* parent.read(readEnd, 1).pipe(Effect.forkChild)
      yield* child.getpid().pipe(Effect.forkChild)
      const expected: ReadonlyArray<readonly [string, number, string]> = [
        ["sysproxy_worker_pool_queued", 1, "the getpid behind the read"],
        ["sysproxy_worker_pool_busy", 1, "the read"],
        ["sysproxy_worker_pool_size", 1, "--max-workers 1"],
        ["sysproxy_inflight_jobs", 2, "the read and the getpid"],
        ...["guest", "prefork", "fork", "exec"].map((kind) => [`sysproxy_handshakes_total{kind="${kind}"}`, 1, kind] as const),
        ...["class", "type", "len"].map((kind) => [`sysproxy_protocol_errors_total{kind="${kind}"}`, 1, kind] as const),
        [`sysproxy_error_replies_total{code="MALFORMED_REQUEST"}`, 1, "the unknown class"],
        [`sysproxy_error_replies_total{code="AUTH"}`, 1, "a request of an unknown type before a handshake"]
      ]
      // polled: the frames and the queued getpid reach the server in their own time
      const s = yield* scraped.pipe(
        Effect.repeat({
          until: (m) => expected.every(([series, n]) => m.get(series) === n),
          schedule: Schedule.spaced("50 millis"),
          times: 1200
        })
      )
      for (const [series, n, why] of expected) assert.strictEqual(s.get(series), n, `${series} (${why})`)

      yield* app.kill("SIGTERM")
      assert.strictEqual((yield* app.ended()).code, 0)
    }))

  it.live("a metrics address that cannot be bound exits 1 with one line, before the socket exists", () =>
    Effect.gen(function*() {
      const sock = Path.join(yield* tempDir, "rump.sock")
      const app = yield* spawnApp(["--metrics", "192.0.2.1:9464", `unix://${sock}`])
      assert.strictEqual((yield* app.ended()).code, 1)
      assert.match(app.stderr(), /^sysproxy-server: cannot serve metrics on 192\.0\.2\.1:9464: .*\n$/)
      assert.isFalse(Fs.existsSync(sock))
    }))
})
