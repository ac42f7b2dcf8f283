/**
 * The installed commands: after `npm ci` and a build, node_modules/.bin has
 * sysproxy-server, rump_server and sysproxy (two-line bins npm links at
 * install time, all running @sysproxy/launch) and they run the bundled
 * programs, `npx` included; run as commands, sh starts the pinned Node on
 * them directly. Under a Node too old for Effect (the system's
 * Node 20, when there is one) the launcher reruns them on the pinned Node,
 * passing signals on and keeping the exit status.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { BIN_PRELUDE } from "@sysproxy/launch"
import { RUMP_USAGE } from "../src/rump/RumpServerArgs.ts"
import { VERSION } from "../src/Version.ts"

const ROOT = Path.join(import.meta.dirname, "..", "..", "..")
const BIN = Path.join(ROOT, "node_modules", ".bin")
const BINS = {
  "sysproxy-server": Path.join(ROOT, "apps", "server", "bin", "sysproxy-server.js"),
  rump_server: Path.join(ROOT, "apps", "server", "bin", "rump_server.js"),
  sysproxy: Path.join(ROOT, "apps", "ctl", "bin", "sysproxy.js")
}
const CTL_VERSION: string = JSON.parse(Fs.readFileSync(Path.join(ROOT, "apps", "ctl", "package.json"), "utf8")).version

/** A Node older than 22.19 on this machine, if there is one. */
const OLD_NODE = ["/usr/bin/node", "/usr/local/bin/node"].find((node) => {
  const v = ChildProcess.spawnSync(node, ["--version"], { encoding: "utf8" })
  const m = /^v(\d+)\.(\d+)/.exec(v.stdout ?? "")
  return m !== null && (Number(m[1]) < 22 || (Number(m[1]) === 22 && Number(m[2]) < 19))
})

const run = (command: string, args: ReadonlyArray<string>) =>
  ChildProcess.spawnSync(command, args, { cwd: ROOT, encoding: "utf8", timeout: 120_000 })

describe("installed bins", () => {
  it("node_modules/.bin/sysproxy-server, rump_server, sysproxy and npx run the built programs", () => {
    for (const [name, file] of Object.entries(BINS)) {
      assert.strictEqual(Fs.realpathSync(Path.join(BIN, name)), file, `${name} is linked (npm ci links the bins of workspace packages)`)
    }
    // the bundling half of `npm run build` (the other half, tsc -b, is the typecheck)
    const build = run(process.execPath, [Path.join(ROOT, "scripts", "bundle.mjs")])
    assert.strictEqual(build.status, 0, build.stdout + build.stderr)
    for (const file of Object.values(BINS)) {
      // run as a command, sh execs the pinned Node: no system Node starts first
      assert.deepStrictEqual(Fs.readFileSync(file, "utf8").split("\n").slice(0, 2), BIN_PRELUDE, file)
    }

    const version = run(Path.join(BIN, "sysproxy-server"), ["--version"])
    assert.strictEqual(version.status, 0, version.stderr)
    assert.strictEqual(version.stdout.trim(), `sysproxy-server v${VERSION}`)

    const ctl = run(Path.join(BIN, "sysproxy"), ["--version"])
    assert.strictEqual(ctl.status, 0, ctl.stderr)
    assert.strictEqual(ctl.stdout.trim(), `sysproxy v${CTL_VERSION}`)

    const usage = run(Path.join(BIN, "rump_server"), [])
    assert.strictEqual(usage.status, 1)
    assert.strictEqual(usage.stderr, `rump_server: no url given\n${RUMP_USAGE}\n`)

    const npx = run("npx", ["--no-install", "sysproxy-server", "--version"])
    assert.strictEqual(npx.status, 0, npx.stderr)
    assert.strictEqual(npx.stdout.trim(), `sysproxy-server v${VERSION}`)

    if (OLD_NODE === undefined) return
    // on the old Node: the same output and statuses, through the pinned Node
    const old = (name: keyof typeof BINS, args: ReadonlyArray<string>) => run(OLD_NODE, [BINS[name], ...args])
    assert.strictEqual(old("sysproxy-server", ["--version"]).stdout.trim(), `sysproxy-server v${VERSION}`)
    assert.strictEqual(old("sysproxy", ["--version"]).stdout.trim(), `sysproxy v${CTL_VERSION}`)
    const oldUsage = old("rump_server", [])
    assert.strictEqual(oldUsage.status, 1)
    assert.strictEqual(oldUsage.stderr, `rump_server: no url given\n${RUMP_USAGE}\n`)
  })

  it("a program that is not built: one line saying so, exit 1", () => {
    const missing = Path.join(Os.tmpdir(), "sysproxy-never-built", "main.js")
    const script = `import { launch } from "@sysproxy/launch"; await launch("x", new URL(${JSON.stringify(`file://${missing}`)}))`
    const r = run(process.execPath, ["--input-type=module", "-e", script])
    assert.strictEqual(r.status, 1)
    assert.strictEqual(r.stderr, `x: not built yet (no ${missing}); run npm run build\n`)
  })

  it.skipIf(OLD_NODE === undefined)("under an old Node, SIGTERM to the launcher reaches the server, which drains and exits 0", () =>
    new Promise<void>((resolve, reject) => {
      const dir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sp-bins-"))
      const sock = Path.join(dir, "rump.sock")
      const launcher = ChildProcess.spawn(OLD_NODE!, [BINS["sysproxy-server"], "--log-format", "json", `unix://${sock}`], {
        stdio: ["ignore", "pipe", "pipe"]
      })
      let out = ""
      let signalled = false
      launcher.stdout.setEncoding("utf8").on("data", (s: string) => {
        out += s
        if (signalled || !out.includes("listening on")) return
        // once: a second signal is meant to cut the drain short
        signalled = true
        launcher.kill("SIGTERM")
      })
      launcher.once("error", reject)
      launcher.once("exit", (code, signal) => {
        try {
          assert.deepStrictEqual({ code, signal }, { code: 0, signal: null }, out)
          assert.match(out, /shutting down/, "the server itself had the signal")
          assert.isFalse(Fs.existsSync(sock))
          resolve()
        } catch (e) {
          reject(e)
        } finally {
          Fs.rmSync(dir, { recursive: true, force: true })
        }
      })
    }))
})
