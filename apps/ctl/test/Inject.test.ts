/**
 * `sysproxy inject` against a real sysproxy-server process: rules added,
 * listed and cleared through sysctl sysproxy.inject while the server runs,
 * a fault armed this way reaching another client at once; bad rules and
 * command lines refused with exit 2 before the server is asked; a server
 * without fault injection, or a guest that is not root, exit 1 saying so.
 */
import { assert, describe, it } from "@effect/vitest"
import { makeClient } from "@sysproxy/client"
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import * as Path from "node:path"
import { spawnApp, tempDir } from "../../server/test/ChildApp.ts"
import { run } from "./support/Harness.ts"

const SLOW = 60_000

const startApp = (flags: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const url = `unix://${Path.join(yield* tempDir, "rump.sock")}`
    const app = yield* spawnApp([...flags, url])
    yield* app.waitForStdout(/listening on unix:/)
    return url
  })

describe("sysproxy inject", () => {
  it.live("adds rules after those in force, lists them, clears them; an armed fault reaches another client at once", () =>
    Effect.gen(function*() {
      const url = yield* startApp(["--inject", ""])
      const ctl = (...args: ReadonlyArray<string>) => run(["--server", url, "inject", ...args])
      assert.deepInclude(yield* ctl("getpid:comm=victim:nth=2:errno=EPERM"), { code: 0, stdout: "", stderr: "" })
      assert.deepInclude(yield* ctl("read:short=1", "open:delay=1ms"), { code: 0, stderr: "" })
      assert.deepInclude(yield* ctl("--list"), {
        code: 0,
        stdout: "getpid:comm=victim:nth=2:errno=EPERM\nread:short=1\nopen:delay=1ms\n"
      })
      // sysctl prints the node on one line, nothing after it
      assert.deepInclude(yield* run(["--server", url, "sysctl", "sysproxy.inject"]), {
        code: 0,
        stdout: "sysproxy.inject = getpid:comm=victim:nth=2:errno=EPERM; read:short=1; open:delay=1ms\n"
      })
      // three getpids by a client named victim: the errno of each (0 for none)
      const victimRuns = Effect.scoped(Effect.gen(function*() {
        const victim = yield* makeClient({ url, comm: "victim" })
        const out: Array<number> = []
        for (let i = 0; i < 3; i++) out.push(yield* victim.getpid().pipe(Effect.as(0), Effect.catch((e) => Effect.succeed(e.errno))))
        return out
      }))
      assert.deepStrictEqual(yield* victimRuns, [0, Errno.EPERM, 0])
      assert.deepStrictEqual(yield* victimRuns, [0, 0, 0], "fired once: a rule keeps its count")
      // --clear with the same rule: it fires again, counting from now
      assert.deepInclude(yield* ctl("--clear", "getpid:comm=victim:nth=2:errno=EPERM"), { code: 0, stderr: "" })
      assert.deepStrictEqual(yield* victimRuns, [0, Errno.EPERM, 0])
      assert.deepInclude(yield* ctl("--clear", "write:nth=1:errno=EIO"), { code: 0, stderr: "" })
      assert.deepInclude(yield* ctl("--list"), { code: 0, stdout: "write:nth=1:errno=EIO\n" })
      assert.deepInclude(yield* ctl("--clear"), { code: 0, stderr: "" })
      assert.deepInclude(yield* ctl("--list"), { code: 0, stdout: "" })
    }), SLOW)

  it.live("a server without fault injection, or a guest that is not root: exit 1 saying so", () =>
    Effect.gen(function*() {
      const plain = yield* startApp([])
      assert.deepInclude(yield* run(["--server", plain, "inject", "--list"]), {
        code: 1,
        stderr: "sysproxy inject: the server has no fault injection (start it with --inject; --inject '' for no rule yet)\n"
      })
      const user = yield* startApp(["--inject", "", "--guest-uid", "1000"])
      assert.deepInclude(yield* run(["--server", user, "inject", "getpid:errno=EIO"]), {
        code: 1,
        stderr: "sysproxy inject: sysproxy.inject: Operation not permitted (only root in the kernel may set rules)\n"
      })
      assert.deepInclude(yield* run(["--server", user, "inject", "--list"]), { code: 0, stdout: "" })
    }), SLOW)

  it.effect("a bad rule or command line: exit 2, the server not asked", () =>
    Effect.gen(function*() {
      // no server named anywhere: reaching for one would be exit 1
      assert.deepInclude(yield* run(["inject", "wrte:errno=EIO"]), {
        code: 2,
        stderr: 'sysproxy inject: bad rule "wrte:errno=EIO": unknown syscall "wrte"\n'
      })
      assert.deepInclude(yield* run(["inject", "write:path=[x:errno=EIO"]), {
        code: 2,
        stderr: 'sysproxy inject: bad rule "write:path=[x:errno=EIO": path: bad glob: unclosed [ at 1\n'
      })
      assert.deepInclude(yield* run(["inject"]), { code: 2, stderr: "sysproxy inject: give a RULE, --clear or --list\n" })
      assert.deepInclude(yield* run(["inject", "--list", "getpid:errno=EIO"]), { code: 2, stderr: "sysproxy inject: --list goes alone\n" })
    }))
})
