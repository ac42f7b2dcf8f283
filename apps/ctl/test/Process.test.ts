/**
 * The program as a process, as a shell runs it: exit statuses and the
 * exact lines on stdout and stderr, a signal's exit status, and halt
 * stopping a real sysproxy-server process.
 */
import { assert, describe, it } from "@effect/vitest"
import { makeClient } from "@sysproxy/client"
import { Effect, Schedule } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { spawnApp } from "../../server/test/ChildApp.ts"
import { spawnCtl, startCtl } from "./support/Child.ts"
import { hostDir, startServer } from "./support/Harness.ts"

// Each run starts a Node process on the TypeScript sources: seconds on a loaded machine.
const SLOW = 60_000

/** Waits until the kernel at `url` has a process named `comm` (the tool has connected and is running). */
const processNamed = (url: string, comm: string) =>
  Effect.scoped(Effect.gen(function*() {
    const watcher = yield* makeClient({ url, comm: "watcher" })
    yield* watcher.processes().pipe(
      Effect.repeat({ until: (ps) => ps.some((p) => p.comm === comm), schedule: Schedule.spaced("20 millis") })
    )
  }))

describe("sysproxy as a process", () => {
  it.live("cat /nope: the message on stderr and exit 1; sysctl prints to stdout", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const env = { RUMP_SERVER: server.url }
      assert.deepStrictEqual(yield* spawnCtl(["cat", "/nope"], env), {
        code: 1,
        stdout: "",
        stderr: "cat: /nope: No such file or directory\n"
      })
      assert.deepStrictEqual(yield* spawnCtl(["sysctl", "kern.ostype"], env), {
        code: 0,
        stdout: "kern.ostype = NetBSD\n",
        stderr: ""
      })
    }), SLOW)

  it.live("a bad flag exits 2; halt exits 0 and halts the server", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const bad = yield* spawnCtl(["--server", server.url, "ls", "--bogus"])
      assert.strictEqual(bad.code, 2)
      assert.match(bad.stdout + bad.stderr, /Unrecognized flag: --bogus/)
      assert.deepInclude(yield* spawnCtl(["--server", server.url, "halt"]), { code: 0, stderr: "" })
      assert.deepInclude(yield* server.halted, { howto: 0 })
    }), SLOW)

  it.live("stopped by a signal mid-way, a tool exits 128 + the signal: 143 for SIGTERM, 130 for SIGINT", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      for (const [signal, code] of [["SIGTERM", 143], ["SIGINT", 130]] as const) {
        // put - waits for the end of stdin, which never comes
        const put = yield* startCtl(["--server", server.url, "put", "-", "/x"])
        put.stdin.write("partial")
        yield* processNamed(server.url, "sysproxy-put")
        yield* put.kill(signal)
        assert.deepStrictEqual(yield* put.exited, { code, stdout: "", stderr: "" }, signal)
      }
      // put streams as cp does: the file may not be made yet, or hold what had arrived, nothing else
      const peer = yield* makeClient({ url: server.url, comm: "peer" })
      const got = new TextDecoder().decode(
        yield* peer.readFile("/x").pipe(Effect.catchTag("SyscallError", (e) => e.code === "ENOENT" ? Effect.succeed(new Uint8Array(0)) : Effect.fail(e)))
      )
      assert.isTrue("partial".startsWith(got), got)
    }), SLOW)

  it.live("halt stops a real sysproxy-server process, which exits 0 and removes its socket", () =>
    Effect.gen(function*() {
      const sock = Path.join(yield* hostDir, "rump.sock")
      const url = `unix://${sock}`
      const app = yield* spawnApp([url])
      yield* app.waitForStdout(/listening on unix:\/\//)
      assert.deepStrictEqual(yield* spawnCtl(["--server", url, "halt"]), { code: 0, stdout: "", stderr: "" })
      assert.deepStrictEqual(yield* app.ended(), { code: 0, signal: null })
      assert.match(app.stdout(), /halted/)
      assert.isFalse(Fs.existsSync(sock))
    }), SLOW)
})
