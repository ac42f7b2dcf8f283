/**
 * sysctl sysproxy.inject with the app as a process and a real client: the
 * rules as text, changed by root while the server runs (a fault armed at
 * the moment a test wants it), a bad set refused with EINVAL leaving the
 * rules as they were, EPERM for a guest that is not root, and no such node
 * at all without --inject (the tree stays the rump kernel's).
 */
import { assert, describe, it } from "@effect/vitest"
import { makeClient } from "@sysproxy/client"
import { CTL_SYSPROXY } from "@sysproxy/kernel"
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import * as Path from "node:path"
import { formatRuleList, parseRuleList } from "@sysproxy/hypervisor"
import { spawnApp, tempDir } from "./ChildApp.ts"

const NODE = "sysproxy.inject"

const start = (flags: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const url = `unix://${Path.join(yield* tempDir, "rump.sock")}`
    const app = yield* spawnApp(["--log-format", "json", ...flags, url])
    yield* app.waitForStdout(/listening on unix:/)
    return { app, url }
  })

const errnoOf = <A, E extends { readonly errno?: number }>(e: Effect.Effect<A, E>) =>
  Effect.map(Effect.flip(e), (x) => x.errno)

describe("the node's text", () => {
  it("rules separated by ; or one a line; blank ones and # comments are skipped; a ; in a rule escaped", () => {
    assert.deepStrictEqual(parseRuleList("a:errno=EIO\n\n  # note\n b:drop \n"), ["a:errno=EIO", "b:drop"])
    assert.deepStrictEqual(parseRuleList("a:errno=EIO; b:drop;"), ["a:errno=EIO", "b:drop"])
    assert.deepStrictEqual(parseRuleList(""), [])
    assert.strictEqual(formatRuleList(["a:errno=EIO", "write:path=/x;y:drop"]), "a:errno=EIO; write:path=/x\\;y:drop")
    assert.deepStrictEqual(parseRuleList("a:errno=EIO; write:path=/x\\;y:drop"), ["a:errno=EIO", "write:path=/x\\;y:drop"])
    assert.strictEqual(formatRuleList([]), "")
  })
})

describe.concurrent("sysctl sysproxy.inject", () => {
  it.live("root arms a fault while the server runs; a bad set is EINVAL and leaves the rules as they were", () =>
    Effect.gen(function*() {
      const { app, url } = yield* start(["--inject", ""])
      yield* app.waitForStdout(/fault injection on, no rule yet/)
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* makeClient({ url, comm: "armed" })
        assert.strictEqual(yield* c.sysctl(NODE), "")
        assert.strictEqual(yield* c.getpid().pipe(Effect.as(0)), 0)
        const old = yield* c.sysctlWrite(NODE, "getpid:comm=armed:nth=2:errno=EPERM\n")
        assert.strictEqual(old, "")
        assert.strictEqual(yield* c.sysctl(NODE), "getpid:comm=armed:nth=2:errno=EPERM")
        // counted from the moment it was set
        assert.isNumber(yield* c.getpid())
        assert.strictEqual(yield* errnoOf(c.getpid()), Errno.EPERM)
        assert.isNumber(yield* c.getpid())
        // one bad rule: the whole set is refused, and what was in force stays
        assert.strictEqual(yield* errnoOf(c.sysctlWrite(NODE, "getpid:errno=EIO\nwrte:errno=EIO\n")), Errno.EINVAL)
        assert.strictEqual(yield* c.sysctl(NODE), "getpid:comm=armed:nth=2:errno=EPERM")
        // two rules: one line, as sysctl -a prints one node a line
        yield* c.sysctlWrite(NODE, "getpid:comm=armed:nth=9:errno=EPERM; read:short=1")
        assert.strictEqual(yield* c.sysctl(NODE), "getpid:comm=armed:nth=9:errno=EPERM; read:short=1")
        yield* c.sysctlWrite(NODE, "")
        assert.strictEqual(yield* c.sysctl(NODE), "")
      }))
      yield* app.waitForStdout(/fault rules refused \(sysctl\): wrte:errno=EIO: unknown syscall \\"wrte\\"/)
      assert.match(app.stdout(), /fault rules set \(sysctl\): getpid:comm=armed:nth=2:errno=EPERM/)
      assert.match(app.stdout(), /fault rules cleared \(sysctl\)/)
      yield* app.kill("SIGTERM")
      assert.strictEqual((yield* app.ended()).code, 0)
    }))

  it.live("a guest that is not root may read the rules but not set them (EPERM)", () =>
    Effect.gen(function*() {
      const { app, url } = yield* start(["--inject", "getpid:nth=99:errno=EIO", "--guest-uid", "1000"])
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* makeClient({ url, comm: "user" })
        assert.strictEqual(yield* c.sysctl(NODE), "getpid:nth=99:errno=EIO")
        assert.strictEqual(yield* errnoOf(c.sysctlWrite(NODE, "")), Errno.EPERM)
        assert.strictEqual(yield* c.sysctl(NODE), "getpid:nth=99:errno=EIO")
      }))
      yield* app.kill("SIGTERM")
      assert.strictEqual((yield* app.ended()).code, 0)
    }))

  it.live("without --inject there is no such node: the top level is the rump kernel's", () =>
    Effect.gen(function*() {
      const { app, url } = yield* start([])
      yield* Effect.scoped(Effect.gen(function*() {
        const c = yield* makeClient({ url, comm: "plain" })
        assert.strictEqual(yield* errnoOf(c.sysctl(NODE)), Errno.ENOENT)
        const top = yield* c.sysctlQuery([])
        assert.notInclude(top.map((n) => n.num), CTL_SYSPROXY)
        assert.notInclude(top.map((n) => n.name), "sysproxy")
      }))
      yield* app.kill("SIGTERM")
      assert.strictEqual((yield* app.ended()).code, 0)
    }))
})
