/**
 * --metrics with the app as a process: Prometheus text scraped over HTTP
 * after a real client session, each series checked against what the
 * session did; and the connection's log lines naming the client.
 */
import { assert, describe, it } from "@effect/vitest"
import { connect } from "@sysproxy/client"
import { Errno, openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
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

  it.live("a metrics address that cannot be bound exits 1 with one line, before the socket exists", () =>
    Effect.gen(function*() {
      const sock = Path.join(yield* tempDir, "rump.sock")
      const app = yield* spawnApp(["--metrics", "192.0.2.1:9464", `unix://${sock}`])
      assert.strictEqual((yield* app.ended()).code, 1)
      assert.match(app.stderr(), /^sysproxy-server: cannot serve metrics on 192\.0\.2\.1:9464: .*\n$/)
      assert.isFalse(Fs.existsSync(sock))
    }))
})
