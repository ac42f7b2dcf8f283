/**
 * The installed commands: after `npm ci` and a build, node_modules/.bin has
 * sysproxy-server and rump_server (JavaScript launchers npm links at
 * install time) and they run the compiled program, `npx` included.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { RUMP_USAGE } from "../src/rump/RumpServerArgs.ts"
import { VERSION } from "../src/Version.ts"

const ROOT = Path.join(import.meta.dirname, "..", "..", "..")
const BIN = Path.join(ROOT, "node_modules", ".bin")

const run = (command: string, args: ReadonlyArray<string>) =>
  ChildProcess.spawnSync(command, args, { cwd: ROOT, encoding: "utf8", timeout: 120_000 })

describe("installed bins", () => {
  it("node_modules/.bin/sysproxy-server, rump_server and npx run the built program", () => {
    for (const name of ["sysproxy-server", "rump_server"]) {
      assert.strictEqual(
        Fs.realpathSync(Path.join(BIN, name)),
        Path.join(ROOT, "apps", "server", "bin", `${name}.js`),
        `${name} is linked (npm ci links the bins of workspace packages)`
      )
    }
    // what `npm run build` does, for this package and what it needs
    const build = run(process.execPath, [Path.join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-b", "apps/server"])
    assert.strictEqual(build.status, 0, build.stdout + build.stderr)

    const version = run(Path.join(BIN, "sysproxy-server"), ["--version"])
    assert.strictEqual(version.status, 0, version.stderr)
    assert.strictEqual(version.stdout.trim(), `sysproxy-server v${VERSION}`)

    const usage = run(Path.join(BIN, "rump_server"), [])
    assert.strictEqual(usage.status, 1)
    assert.strictEqual(usage.stderr, `rump_server: no url given\n${RUMP_USAGE}\n`)

    const npx = run("npx", ["--no-install", "sysproxy-server", "--version"])
    assert.strictEqual(npx.status, 0, npx.stderr)
    assert.strictEqual(npx.stdout.trim(), `sysproxy-server v${VERSION}`)
  })
})
