/**
 * The program as a process, as a shell runs it: exit statuses and the
 * exact lines on stdout and stderr.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { spawnCtl } from "./support/Child.ts"
import { startServer } from "./support/Harness.ts"

// Each run starts a Node process on the TypeScript sources: seconds on a loaded machine.
const SLOW = 60_000

describe("sysproxy as a process", () => {
  it("runs on Node 24", () => {
    assert.strictEqual(process.versions.node.split(".")[0], "24")
  })

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
})
