/**
 * The config file: its keys and values are checked (a clear error, exit 2),
 * and it sits under flags and environment variables (flag > env > file >
 * default), in-process for the rules and with the app as a process for the
 * whole path.
 */
import { assert, describe, it } from "@effect/vitest"
import { makeClient } from "@sysproxy/client"
import { Effect, Option } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { mergeOptions, NO_FLAGS } from "../src/AppOptions.ts"
import { decodeConfig } from "../src/ConfigFile.ts"
import { spawnApp, tempDir } from "./ChildApp.ts"

const LISTENING = /listening on unix:\/\//

const failure = (json: unknown) => Effect.flip(decodeConfig("/etc/x.json", json)).pipe(Effect.map((e) => e.message))

describe("config file rules", () => {
  it.effect("every option's key decodes to the value the server gets", () =>
    Effect.gen(function*() {
      const decoded = yield* decodeConfig("c.json", {
        url: "unix:///run/rump.sock",
        maxClients: 8,
        idleWorkers: 0,
        preforkExpiry: 1.5,
        socketMode: "0640",
        logFormat: "json",
        logLevel: "debug",
        metrics: "9464",
        grace: 0,
        trace: true,
        inject: ["write:nth=3:errno=ENOSPC", { syscall: "read", short: 1 }],
        traceFile: "/var/log/sysproxy.trace",
        traceFormat: "text",
        guestUid: 1000,
        guestGid: 0
      })
      assert.deepStrictEqual(decoded, {
        url: "unix:///run/rump.sock",
        maxClients: 8,
        idleWorkers: 0,
        preforkExpiry: 1.5,
        socketMode: 0o640,
        logFormat: "json",
        logLevel: "Debug",
        metrics: { host: "127.0.0.1", port: 9464 },
        grace: 0,
        trace: true,
        inject: ["write:nth=3:errno=ENOSPC", { syscall: "read", short: 1 }],
        traceFile: "/var/log/sysproxy.trace",
        traceFormat: "text",
        guestUid: 1000,
        guestGid: 0
      })
    }))

  it.effect("an unknown key, a wrong value or a non-object is refused with the key and what was expected", () =>
    Effect.gen(function*() {
      assert.match(yield* failure({ maxClient: 3 }), /^config \/etc\/x\.json: unknown key "maxClient" \(known: url, /)
      assert.strictEqual(
        yield* failure({ maxClients: 0 }),
        "config /etc/x.json: maxClients: expected an integer of at least 1, got 0"
      )
      assert.strictEqual(
        yield* failure({ socketMode: 384 }),
        "config /etc/x.json: socketMode: expected an octal mode such as 0600, got 384"
      )
      assert.match(yield* failure({ metrics: "localhost:99999" }), /metrics: expected HOST:PORT/)
      assert.match(yield* failure({ logLevel: "loud" }), /logLevel: expected one of all, trace, debug/)
      assert.strictEqual(
        yield* failure({ guestUid: -1 }),
        "config /etc/x.json: guestUid: expected an id from 0 to 4294967294, got -1"
      )
      assert.match(yield* failure({ guestGid: 4294967295 }), /guestGid: expected an id from 0 to 4294967294/)
      assert.strictEqual(yield* failure([1]), "config /etc/x.json: expected a JSON object")
      assert.match(yield* failure({ inject: "write:errno=EIO" }), /^config \/etc\/x\.json: inject: expected fault rules \(text such as/)
      assert.match(yield* failure({ traceFormat: "xml" }), /traceFormat: expected one of json, text, got "xml"/)
    }))

  it("a flag (or its env variable) wins over the file, the file over the default", () => {
    const file = { maxClients: 9, grace: 1, socketMode: 0o640, hostname: "from-file" }
    const merged = mergeOptions({ ...NO_FLAGS, maxClients: Option.some(3) }, file)
    assert.deepStrictEqual(merged.maxClients, Option.some(3))
    assert.deepStrictEqual(merged.hostname, Option.some("from-file"))
    assert.strictEqual(merged.grace, 1)
    assert.strictEqual(merged.socketMode, 0o640)
    const defaults = mergeOptions(NO_FLAGS, {})
    assert.strictEqual(defaults.grace, 5)
    assert.strictEqual(defaults.socketMode, 0o600)
    assert.strictEqual(defaults.logLevel, "Info")
  })
})

describe.concurrent("sysproxy-server --config", () => {
  it.live("the file gives the URL, hostname and socket mode; env and flags override it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const sock = Path.join(dir, "rump.sock")
      const config = Path.join(dir, "sysproxy.json")
      Fs.writeFileSync(config, JSON.stringify({ url: `unix://${sock}`, hostname: "configured", socketMode: "0640" }))

      const fromFile = yield* spawnApp(["--config", config])
      yield* fromFile.waitForStdout(LISTENING)
      assert.strictEqual(Fs.lstatSync(sock).mode & 0o777, 0o640)
      const hostname = yield* Effect.scoped(
        Effect.flatMap(makeClient({ url: `unix://${sock}`, comm: "cfg" }), (p) => p.sysctl("kern.hostname"))
      )
      assert.strictEqual(hostname, "configured")
      yield* fromFile.kill("SIGTERM")
      assert.strictEqual((yield* fromFile.ended()).code, 0)

      // SYSPROXY_CONFIG names the file; the variable beats the file, the flag beats both
      const overridden = yield* spawnApp(["--socket-mode", "0660"], {
        SYSPROXY_CONFIG: config,
        SYSPROXY_SOCKET_MODE: "0644"
      })
      yield* overridden.waitForStdout(LISTENING)
      assert.strictEqual(Fs.lstatSync(sock).mode & 0o777, 0o660)
      yield* overridden.kill("SIGTERM")
      assert.strictEqual((yield* overridden.ended()).code, 0)

      const envOnly = yield* spawnApp(["--config", config], { SYSPROXY_SOCKET_MODE: "0644" })
      yield* envOnly.waitForStdout(LISTENING)
      assert.strictEqual(Fs.lstatSync(sock).mode & 0o777, 0o644)
      yield* envOnly.kill("SIGTERM")
      assert.strictEqual((yield* envOnly.ended()).code, 0)
    }))

  it.live("a bad key exits 2 with one line naming it; so do a missing file and a file that is not JSON", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const config = Path.join(dir, "bad.json")
      Fs.writeFileSync(config, JSON.stringify({ grace: -1 }))
      const bad = yield* spawnApp(["--config", config, "unix:///tmp/never.sock"])
      assert.strictEqual((yield* bad.ended()).code, 2)
      assert.strictEqual(bad.stderr(), `sysproxy-server: config ${config}: grace: expected a number of seconds, 0 or more, got -1\n`)

      const missing = yield* spawnApp(["--config", Path.join(dir, "nope.json"), "unix:///tmp/never.sock"])
      assert.strictEqual((yield* missing.ended()).code, 2)
      assert.match(missing.stderr(), /^sysproxy-server: config .*nope\.json: cannot read it: .*\n$/)

      Fs.writeFileSync(config, "{ nope")
      const garbled = yield* spawnApp(["--config", config, "unix:///tmp/never.sock"])
      assert.strictEqual((yield* garbled.ended()).code, 2)
      assert.match(garbled.stderr(), /^sysproxy-server: config .*bad\.json: not JSON: .*\n$/)
    }))
})
