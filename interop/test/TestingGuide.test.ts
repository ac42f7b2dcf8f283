// The README's testing guide as a test, so the guide cannot rot: the part
// between the "guide" markers is what the README shows, and the last test
// here checks that the README still shows exactly that.
import { afterAll, describe } from "@effect/vitest"
import * as Fs from "node:fs"
import * as Path from "node:path"

// #region guide
import { assert, it } from "@effect/vitest"
import { withFaults } from "@sysproxy/hypervisor"
import { layer as kernel } from "@sysproxy/kernel"
import { SysproxyServer } from "@sysproxy/server"
import { Effect, Layer } from "effect"
import { execFile, execFileSync } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { promisify } from "node:util"

// the program under test, built on the interop client library
const dir = mkdtempSync(join(tmpdir(), "guide-"))
const sources = join(import.meta.dirname, "..", "c")
const program = join(dir, "faults")
execFileSync("gcc", ["-pthread", "-o", program, join(sources, "faults.c"), join(sources, "rumpsp.c")])

// our kernel, whose third write to a file named /tmp/log* fails with ENOSPC, served on a unix socket
const url = `unix://${join(dir, "rump.sock")}`
const Server = SysproxyServer.layer({ url }).pipe(
  Layer.provide(kernel().pipe(withFaults(["write:path=/tmp/log*:nth=3:errno=ENOSPC"])))
)

it.live("a full disk: the program skips the line it could not write and keeps the others", () =>
  Effect.gen(function*() {
    yield* Layer.build(Server) // serving until the test ends
    const { stdout } = yield* Effect.promise(() =>
      promisify(execFile)(program, ["log", "/tmp/log.txt", "5"], { env: { RUMP_SERVER: url } })
    )
    assert.include(stdout, "write 3: ENOSPC, line skipped")
    assert.include(stdout, "contents:\nline 1\nline 2\nline 4\nline 5\n")
  }))
// #endregion guide

afterAll(() => Fs.rmSync(dir, { recursive: true, force: true }))

describe("the README", () => {
  it("shows the guide's test as it is in this file", () => {
    const self = Fs.readFileSync(import.meta.filename, "utf8")
    const region = /\/\/ #region guide\n([\s\S]*?)\/\/ #endregion guide\n/.exec(self)?.[1]
    const readme = Fs.readFileSync(Path.join(import.meta.dirname, "..", "..", "README.md"), "utf8")
    const shown = /<!-- interop\/test\/TestingGuide\.test\.ts -->\n```ts\n([\s\S]*?)```\n/.exec(readme)?.[1]
    assert.isDefined(region)
    assert.strictEqual(shown, region)
  })
})
