/**
 * Fault injection and the syscall trace as the app's options, with the app
 * as a process: --inject (and SYSPROXY_INJECT, and the config file's
 * inject) refusing bad rules with one line naming the rule and exit 2, a
 * rule doing what it says for a real client, and --trace-file in both
 * formats recording exactly the session's syscalls.
 */
import { assert, describe, it } from "@effect/vitest"
import { connect } from "@sysproxy/client"
import type { TraceRecord } from "@sysproxy/hypervisor"
import { Errno, openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect, Option } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { checkFaultRules } from "../src/App.ts"
import { spawnApp, tempDir } from "./ChildApp.ts"

const LISTENING = /listening on unix:\/\//

describe("fault rules at start", () => {
  it.effect("an empty rule turns injection on with no rule; none given is no injection", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(yield* checkFaultRules(Option.some(["", "  "])), [])
      assert.isUndefined(yield* checkFaultRules(Option.none()))
      const rules = ["write:nth=3:errno=ENOSPC", { syscall: "read", short: 1 }]
      assert.deepStrictEqual(yield* checkFaultRules(Option.some(rules)), rules)
    }))
})

describe.concurrent("sysproxy-server --inject", () => {
  it.live.each([
    [["--inject", "wrte:errno=EIO"], {}, 'bad fault rule "wrte:errno=EIO": unknown syscall "wrte"'],
    [["--inject", "getpid:nth=1:errno=EIO", "--inject", "write:errno=ENOSPX"], {}, 'bad fault rule "write:errno=ENOSPX": unknown errno "ENOSPX"'],
    [["--inject", "open:path=/tmp/[x:errno=EIO"], {}, 'bad fault rule "open:path=/tmp/[x:errno=EIO": path: bad glob: unclosed [ at 6'],
    [[], { SYSPROXY_INJECT: "getpid:errno=EIO  read:shrt=1" }, 'bad fault rule "read:shrt=1": unknown key "shrt" (known: pid, comm, path, nth, every, from, p, seed, delay, signal, errno, short, drop)']
  ] as const)("%j %j: exit 2, %s", ([flags, env, line]) =>
    Effect.gen(function*() {
      const sock = Path.join(yield* tempDir, "rump.sock")
      const app = yield* spawnApp([...flags, `unix://${sock}`], env)
      assert.strictEqual((yield* app.ended()).code, 2)
      assert.strictEqual(app.stderr(), `sysproxy-server: ${line}\n`)
      assert.isFalse(Fs.existsSync(sock))
    }))

  it.live("a bad rule in the config file is refused the same way; a good object rule is used", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const config = Path.join(dir, "c.json")
      Fs.writeFileSync(config, JSON.stringify({ inject: [{ syscall: "getpid", errno: "EBADRULE" }] }))
      const bad = yield* spawnApp(["--config", config, `unix://${Path.join(dir, "a.sock")}`])
      assert.strictEqual((yield* bad.ended()).code, 2)
      assert.strictEqual(bad.stderr(), 'sysproxy-server: bad fault rule {"syscall":"getpid","errno":"EBADRULE"}: unknown errno "EBADRULE"\n')
      Fs.writeFileSync(config, JSON.stringify({ inject: [{ syscall: "getpid", nth: 2, errno: "EPERM" }] }))
      const url = `unix://${Path.join(dir, "b.sock")}`
      const good = yield* spawnApp(["--config", config, "--log-format", "json", url])
      yield* good.waitForStdout(/fault injection: getpid:nth=2:errno=EPERM/)
      yield* good.waitForStdout(LISTENING)
      const errors = yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* connect(url)
        yield* c.handshakeGuest("configured")
        const out: Array<number> = []
        for (let i = 0; i < 3; i++) out.push((yield* c.syscall(SYS.getpid)).error)
        return out
      }))
      assert.deepStrictEqual(errors, [0, Errno.EPERM, 0])
      yield* good.kill("SIGTERM")
      assert.strictEqual((yield* good.ended()).code, 0)
    }))

  it.live("--trace-file: one record per syscall, exactly the session's, in JSON lines and in text", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      for (const format of ["json", "text"] as const) {
        const file = Path.join(dir, `trace.${format}`)
        const url = `unix://${Path.join(dir, `${format}.sock`)}`
        const app = yield* spawnApp([
          "--trace-file",
          file,
          "--trace-format",
          format,
          "--inject",
          "write:comm=traced:nth=2:errno=ENOSPC",
          url
        ])
        yield* app.waitForStdout(LISTENING)
        const pid = yield* Effect.scoped(Effect.gen(function*() {
          const c = yield* connect(url)
          yield* c.handshakeGuest("traced")
          const path = c.space.allocString("/tmp/t")
          const fd = (yield* c.syscall(SYS.open, [path, openFlags.O_RDWR | openFlags.O_CREAT, 0o600])).retval0
          const buf = c.space.alloc(new TextEncoder().encode("abc"))
          assert.strictEqual((yield* c.syscall(SYS.write, [fd, buf, 3])).retval0, 3n)
          assert.strictEqual((yield* c.syscall(SYS.write, [fd, buf, 3])).error, Errno.ENOSPC)
          yield* c.syscall(SYS.close, [fd])
          return Number((yield* c.syscall(SYS.getpid)).retval0)
        }))
        yield* app.kill("SIGTERM")
        assert.strictEqual((yield* app.ended()).code, 0)
        const lines = Fs.readFileSync(file, "utf8").trimEnd().split("\n")
        if (format === "json") {
          const records = lines.map((l) => JSON.parse(l) as TraceRecord)
          assert.deepStrictEqual(records.map((r) => [r.syscall, r.errno]), [
            ["open", null],
            ["write", null],
            ["write", "ENOSPC"],
            ["close", null],
            ["getpid", null]
          ])
          assert.deepStrictEqual(records[0]!.args[0], { name: "path", string: "/tmp/t" })
          assert.strictEqual(records[1]!.copyin, 3)
          for (const r of records) {
            assert.strictEqual(r.pid, pid)
            assert.strictEqual(r.comm, "traced")
          }
        } else {
          const shapes = lines.map((l) => l.replace(/ \d\d:\d\d:\d\d\.\d{6} /, " T ").replace(/<\d+\.\d{6}>$/, "<D>").replace(/0x[0-9a-f]+</, "ADDR<"))
          assert.deepStrictEqual(shapes, [
            `[pid ${pid}<traced>] T open("/tmp/t", ${openFlags.O_RDWR | openFlags.O_CREAT}, 0600) = 3 <D>`,
            `[pid ${pid}<traced>] T write(3, ADDR<3 bytes>, 3) = 3 <D>`,
            `[pid ${pid}<traced>] T write(3, ${/write\(3, (0x[0-9a-f]+),/.exec(lines[2]!)?.[1]}, 3) = -1 ENOSPC (No space left on device) <D>`,
            `[pid ${pid}<traced>] T close(3) = 0 <D>`,
            `[pid ${pid}<traced>] T getpid() = ${pid} <D>`
          ])
        }
      }
    }))

  it.live("--trace-file that cannot be written exits 1 with one line", () =>
    Effect.gen(function*() {
      const sock = Path.join(yield* tempDir, "rump.sock")
      const app = yield* spawnApp(["--trace-file", "/nonexistent-dir/t.json", `unix://${sock}`])
      assert.strictEqual((yield* app.ended()).code, 1)
      assert.match(app.stderr(), /^sysproxy-server: cannot write the trace to \/nonexistent-dir\/t\.json: ENOENT[^\n]*\n$/)
    }))
})
