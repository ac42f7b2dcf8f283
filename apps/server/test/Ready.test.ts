/**
 * Ready signals for supervisors: --ready-fd (the URL on a descriptor,
 * which the client can use at once) and systemd's NOTIFY_SOCKET (READY=1
 * on a real unix datagram socket, received by a small C program that, as
 * systemd does, stays for the barrier systemd-notify sends after it); a
 * systemd-notify still running at shutdown is stopped quietly.
 */
import { assert, describe, it } from "@effect/vitest"
import { connect } from "@sysproxy/client"
import { SYS } from "@sysproxy/protocol/netbsd"
import { Effect, Schedule } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { spawnApp, tempDir } from "./ChildApp.ts"

const onPath = (command: string) => ChildProcess.spawnSync("sh", ["-c", `command -v ${command}`]).status === 0

/** Compiles and starts the notification socket stand-in; its stdout lines as they come. */
const notifyReceiver = (dir: string, socketPath: string) =>
  Effect.gen(function*() {
    const binary = Path.join(dir, "notify-receiver")
    const source = Path.join(import.meta.dirname, "c", "notify-receiver.c")
    const cc = ChildProcess.spawnSync("gcc", ["-Wall", "-Werror", "-o", binary, source], { encoding: "utf8" })
    assert.strictEqual(cc.status, 0, cc.stderr)
    let out = ""
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => {
        const c = ChildProcess.spawn(binary, [socketPath], { stdio: ["ignore", "pipe", "inherit"] })
        c.stdout.setEncoding("utf8").on("data", (s: string) => (out += s))
        return c
      }),
      (c) => Effect.sync(() => c.exitCode === null && c.kill("SIGKILL"))
    )
    const until = (pattern: RegExp) =>
      Effect.callback<string>((resume) => {
        const check = () => {
          const m = pattern.exec(out)
          if (m !== null) {
            child.stdout.off("data", check)
            resume(Effect.succeed(m[0]))
          }
        }
        child.stdout.on("data", check)
        check()
        return Effect.sync(() => child.stdout.off("data", check))
      }).pipe(Effect.timeout("60 seconds"), Effect.orDie)
    yield* until(/^bound$/m)
    return { until }
  })

describe.concurrent("sysproxy-server ready signals", () => {
  it.live("--ready-fd 3: the URL arrives on descriptor 3, and a client can use it at once", () =>
    Effect.gen(function*() {
      const url = `unix://${Path.join(yield* tempDir, "rump.sock")}`
      const app = yield* spawnApp(["--ready-fd", "3", url], {}, { readyPipe: true })
      assert.strictEqual(yield* app.readyLine(), url)
      yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* connect(url)
        yield* client.handshakeGuest("ready")
        assert.strictEqual((yield* client.syscall(SYS.getpid)).error, 0)
      }))
      yield* app.kill("SIGTERM")
      assert.strictEqual((yield* app.ended()).code, 0)
    }))

  it.live("--ready-fd naming a descriptor that is not open exits 2", () =>
    Effect.gen(function*() {
      const app = yield* spawnApp(["--ready-fd", "77", `unix://${Path.join(yield* tempDir, "rump.sock")}`])
      assert.strictEqual((yield* app.ended()).code, 2)
      assert.strictEqual(app.stderr(), "sysproxy-server: --ready-fd 77: not an open file descriptor\n")
    }))

  it.live("NOTIFY_SOCKET without systemd-notify on PATH: a warning saying so, and the server serves", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const url = `unix://${Path.join(dir, "rump.sock")}`
      // an empty directory as the whole PATH: no systemd-notify (the app itself is started by absolute path)
      const app = yield* spawnApp(["--log-format", "json", url], { NOTIFY_SOCKET: Path.join(dir, "notify"), PATH: dir })
      yield* app.waitForStdout(/systemd-notify is not on PATH/)
      const warning = app.stdout().split("\n").find((l) => l.includes("systemd-notify is not on PATH"))
      assert.strictEqual(JSON.parse(warning ?? "{}").level, "WARN")
      assert.match(warning ?? "", /use Type=exec/)
      yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* connect(url)
        yield* client.handshakeGuest("unnotified")
        assert.strictEqual((yield* client.syscall(SYS.getpid)).error, 0)
      }))
      yield* app.kill("SIGTERM")
      assert.strictEqual((yield* app.ended()).code, 0)
    }))

  it.live("a systemd-notify still running at shutdown is stopped with the server, and that is not a failure", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const pidFile = Path.join(dir, "notify.pid")
      // a stand-in that never finishes: it is still waiting for systemd when the server stops
      Fs.writeFileSync(Path.join(dir, "systemd-notify"), `#!/bin/sh\necho $$ > ${pidFile}\nexec /bin/sleep 60\n`, { mode: 0o755 })
      const url = `unix://${Path.join(dir, "rump.sock")}`
      const app = yield* spawnApp(["--log-format", "json", "--log-level", "debug", url], {
        NOTIFY_SOCKET: Path.join(dir, "notify"),
        PATH: dir
      })
      yield* app.waitForStdout(/listening on/)
      const pid = yield* Effect.sync(() => Fs.existsSync(pidFile) ? Number(Fs.readFileSync(pidFile, "utf8")) : 0).pipe(
        Effect.repeat({ until: (n) => n > 0, schedule: Schedule.spaced("10 millis") }),
        Effect.timeout("30 seconds"),
        Effect.orDie
      )
      yield* app.kill("SIGTERM")
      assert.strictEqual((yield* app.ended()).code, 0)
      assert.notMatch(app.stdout(), /systemd-notify/)
      // the helper was stopped with the server (and, orphaned, is reaped by init soon after)
      const alive = () => {
        try {
          process.kill(pid, 0)
          return true
        } catch {
          return false
        }
      }
      const gone = yield* Effect.sync(alive).pipe(
        Effect.repeat({ while: (a) => a, schedule: Schedule.spaced("20 millis") }),
        Effect.timeoutOption("10 seconds")
      )
      assert.isTrue(gone._tag === "Some", "the helper outlived the server")
    }))

  it.live.runIf(onPath("systemd-notify") && onPath("gcc"))(
    "NOTIFY_SOCKET: READY=1 with the status and our pid reaches a real unix datagram socket",
    () =>
      Effect.gen(function*() {
        const dir = yield* tempDir
        const notifySocket = Path.join(dir, "notify")
        const receiver = yield* notifyReceiver(dir, notifySocket)
        const url = `unix://${Path.join(dir, "rump.sock")}`
        const app = yield* spawnApp([url], { NOTIFY_SOCKET: notifySocket })
        const message = yield* receiver.until(/^.*READY=1.*$/m)
        const fields = message.split("|")
        assert.include(fields, "READY=1")
        assert.include(fields, `STATUS=listening on ${url}`)
        assert.include(fields, `MAINPID=${app.pid}`)
        yield* app.kill("SIGTERM")
        assert.strictEqual((yield* app.ended()).code, 0)
        assert.notMatch(app.stdout(), /systemd-notify failed/)
      })
  )
})
