/**
 * rump_server's detaching, in-process with stand-in daemons (small scripts
 * that end the way a daemon can): the parent's one line is the daemon's own
 * reason or how it ended, never whatever else its stderr holds; a daemon
 * that writes its URL to descriptor 3 is ready.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { DETACHED_ENV, detach } from "../src/rump/Detach.ts"
import { tempDir } from "./ChildApp.ts"

/** What `detach` gives for a stand-in daemon running `body` (plain JavaScript). */
const detachTo = (body: string) =>
  Effect.gen(function*() {
    const entry = Path.join(yield* tempDir, "daemon.mjs")
    Fs.writeFileSync(entry, `import * as Fs from "node:fs"\n${body}\n`)
    return yield* Effect.result(detach(entry, ["unix:///tmp/never.sock"]))
  })

const failure = (body: string) =>
  Effect.map(detachTo(body), (r) => (r._tag === "Failure" ? r.failure.message : `ready: ${JSON.stringify(r.success)}`))

describe("detach", () => {
  it.live("a daemon's own one-line reason becomes the parent's", () =>
    Effect.gen(function*() {
      const reason = yield* failure(`
        process.stderr.write("rump_server: cannot listen on unix:///x: in use\\n")
        process.exit(1)`)
      assert.strictEqual(reason, "cannot listen on unix:///x: in use")
    }))

  it.live("a crash report (Node's trailer last) is no reason: the exit status is given instead", () =>
    Effect.gen(function*() {
      const reason = yield* failure(`
        process.stderr.write("rump_server: -l x: not part of this kernel; ignored\\n")
        process.stderr.write("file:///d.mjs:3\\nTypeError: boom\\n    at file:///d.mjs:3:1\\n\\nNode.js v24.0.0\\n")
        process.exit(7)`)
      assert.strictEqual(reason, "the server ended (exit 7) before it was ready")
    }))

  it.live("a daemon killed by a signal: the signal is named", () =>
    Effect.gen(function*() {
      const reason = yield* failure(`
        process.stderr.write("some noise\\n")
        process.kill(process.pid, "SIGKILL")`)
      assert.strictEqual(reason, "the server ended (SIGKILL) before it was ready")
    }))

  it.live("a daemon runs with -s and the detached marker, and is ready once its URL is on descriptor 3", () =>
    Effect.gen(function*() {
      const result = yield* detachTo(`
        const ok = process.argv[2] === "-s" && process.env.${DETACHED_ENV} === "1" && process.env.SYSPROXY_READY_FD === "3"
        Fs.writeSync(3, ok ? "unix:///tmp/never.sock\\n" : "wrong\\n")`)
      assert.strictEqual(result._tag, "Success")
      if (result._tag === "Success") {
        assert.strictEqual(result.success.url, "unix:///tmp/never.sock")
        assert.isTrue(result.success.pid > 0)
      }
    }))
})
