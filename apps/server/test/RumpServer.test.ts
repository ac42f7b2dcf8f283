/**
 * The rump_server compat command: its NetBSD command line (in-process), and
 * as a process: detaching only once the socket accepts clients, the kernel
 * it boots (-c, -r, -d), the foreground mode, and failures that exit 1.
 */
import { assert, describe, it } from "@effect/vitest"
import { makeClient } from "@sysproxy/client"
import { Effect, Schedule } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { componentWarning } from "../src/rump/Components.ts"
import { DETACHED_ENV } from "../src/rump/Detach.ts"
import { parseDriveSpec } from "../src/rump/DriveSpec.ts"
import { parseRumpServerArgs, RUMP_USAGE } from "../src/rump/RumpServerArgs.ts"
import { parseSize } from "../src/rump/Sizes.ts"
import { spawnApp, tempDir } from "./ChildApp.ts"

const MiB = 1024 * 1024

const alive = (pid: number) => {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Kills the daemon when the scope closes if the test has not stopped it. */
const reapLater = (pid: number) =>
  Effect.addFinalizer(() => Effect.sync(() => alive(pid) && process.kill(pid, "SIGKILL")))

/** Waits (polling, at most a minute) until `done` holds. */
const eventually = (what: string, done: () => boolean) =>
  Effect.sync(done).pipe(
    Effect.repeat({ until: (ok) => ok, schedule: Schedule.spaced("50 millis"), times: 1200 }),
    Effect.flatMap((ok) => (ok ? Effect.void : Effect.die(new Error(`timed out waiting for ${what}`))))
  )

describe("rump_server command line", () => {
  it("sizes take k, m, g and t", () => {
    assert.strictEqual(parseSize("512"), 512)
    assert.strictEqual(parseSize("64m"), 64 * MiB)
    assert.strictEqual(parseSize("2K"), 2048)
    assert.strictEqual(parseSize("1g"), 1024 * MiB)
    for (const bad of ["", "m", "1.5m", "-1", "10x", "1 m"]) assert.isUndefined(parseSize(bad), bad)
  })

  it("options group and attach as getopt's do; the first non-option is the URL", () => {
    const parsed = parseRumpServerArgs([
      "-sv",
      "-c2",
      "-d",
      "key=/dev/wd0,hostpath=/tmp/disk,size=1m",
      "-l",
      "rumpvfs",
      "-llibrumpfs_ffs.so",
      "-m",
      "/stand/amd64/7.0/modules/tmpfs/tmpfs.kmod",
      "-r",
      "64m",
      "unix:///tmp/s"
    ])
    assert.deepStrictEqual(parsed, {
      foreground: true,
      verbose: true,
      ncpu: 2,
      memory: 64 * MiB,
      hostFiles: [{ key: "/dev/wd0", type: "blk", spec: { hostPath: "/tmp/disk", size: MiB, offset: 0 } }],
      warnings: ["-l librumpfs_ffs.so: not part of this kernel; ignored"],
      url: "unix:///tmp/s"
    })
    assert.deepStrictEqual(parseRumpServerArgs(["-c"]), { error: "option requires an argument -- c" })
    assert.deepStrictEqual(parseRumpServerArgs(["-x", "u"]), { error: "unknown option -- x" })
    assert.deepStrictEqual(parseRumpServerArgs([]), { error: "no url given" })
    assert.deepStrictEqual(parseRumpServerArgs(["a", "b"]), { error: "one url expected, got a b" })
    assert.deepStrictEqual(parseRumpServerArgs(["-c", "0", "u"]), { error: "-c 0: the CPU count must be 1 to 1024" })
    assert.match((parseRumpServerArgs(["-r", "100k", "u"]) as { error: string }).error, /^-r 100k: expected at least 1m/)
    assert.strictEqual((parseRumpServerArgs(["--", "-u"]) as { url: string }).url, "-u")
  })

  it("drive specs: key, hostpath and size are needed; type defaults to blk; size=host and offsets", () => {
    assert.deepStrictEqual(parseDriveSpec("key=/img,hostpath=f,size=host,type=reg,offset=4k"), {
      key: "/img",
      type: "reg",
      spec: { hostPath: "f", size: "host", offset: 4096 }
    })
    assert.strictEqual(parseDriveSpec("key=/img,hostpath=f"), "key, hostpath and size are needed")
    assert.strictEqual(parseDriveSpec("key=img,hostpath=f,size=1"), "key img: an absolute path below / is needed")
    assert.strictEqual(parseDriveSpec("key=/i,hostpath=f,size=1,type=fifo"), "type fifo: expected one of reg, blk, chr")
    assert.match(parseDriveSpec("key=/i,hostpath=f,size=1,colour=red") as string, /^unknown field "colour"/)
    assert.match(parseDriveSpec("key=/i,hostpath=f,disklabel=a") as string, /^disklabel partitions are not supported/)
    assert.strictEqual(parseDriveSpec("key=/i,hostpath=f,size=lots"), `size lots: expected bytes with an optional k, m, g or t, or "host"`)
  })

  it("components and modules the kernel has are accepted silently, others warned about", () => {
    for (const l of ["rumpvfs", "librumpnet_netinet6.so.0", "/usr/lib/librumpfs_tmpfs.so", "rumpkern"]) {
      assert.isUndefined(componentWarning("-l", l), l)
    }
    assert.isUndefined(componentWarning("-m", "tmpfs"))
    assert.strictEqual(componentWarning("-l", "rumpdev_audio"), "-l rumpdev_audio: not part of this kernel; ignored")
    assert.strictEqual(componentWarning("-m", "ffs.kmod"), "-m ffs.kmod: not part of this kernel; ignored")
  })
})

describe.concurrent("rump_server as a process", () => {
  it.live("detaches once the socket accepts clients: -c, -r and -d shape the kernel; a halt stops the daemon", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const sock = Path.join(dir, "rump.sock")
      const host = Path.join(dir, "data")
      Fs.writeFileSync(host, "mapped from the host")
      const url = `unix://${sock}`
      const parent = yield* spawnApp(
        ["-v", "-c", "2", "-r", "64m", "-d", `key=/img/data,hostpath=${host},size=host,type=reg`, "-l", "rumpfs_ffs", url],
        {},
        { program: "rump_server" }
      )
      assert.deepStrictEqual(yield* parent.ended(), { code: 0, signal: null })
      const pid = Number(/pid (\d+) serving /.exec(parent.stderr())?.[1])
      assert.isTrue(Number.isInteger(pid) && pid !== parent.pid, parent.stderr())
      yield* reapLater(pid)
      assert.match(parent.stderr(), /^rump_server: -l rumpfs_ffs: not part of this kernel; ignored$/m)

      // right after the parent's exit, with no retry: the socket must already accept
      yield* Effect.scoped(Effect.gen(function*() {
        const p = yield* makeClient({ url, comm: "rumpclient" })
        assert.strictEqual(yield* p.sysctl("hw.ncpu"), 2)
        assert.strictEqual(yield* p.sysctl("hw.physmem64"), BigInt(64 * MiB))
        assert.strictEqual(new TextDecoder().decode(yield* p.readFile("/img/data")), "mapped from the host")
        yield* p.reboot()
      }))
      yield* eventually("the daemon to exit", () => !alive(pid))
      assert.isFalse(Fs.existsSync(sock))
    }))

  it.live("-s stays in the foreground; SIGTERM stops it with exit 0", () =>
    Effect.gen(function*() {
      const sock = Path.join(yield* tempDir, "rump.sock")
      const app = yield* spawnApp(["-s", `unix://${sock}`], { SYSPROXY_LOG_FORMAT: "json" }, { program: "rump_server" })
      yield* app.waitForStdout(/listening on unix:/)
      assert.isTrue(Fs.lstatSync(sock).isSocket())
      yield* app.kill("SIGTERM")
      assert.deepStrictEqual(yield* app.ended(), { code: 0, signal: null })
      assert.isFalse(Fs.existsSync(sock))
    }))

  it.live("a daemon that cannot start makes the command exit 1 with the daemon's reason", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir, "not-a-socket")
      Fs.writeFileSync(path, "keep me")
      const parent = yield* spawnApp([`unix://${path}`], {}, { program: "rump_server" })
      assert.strictEqual((yield* parent.ended()).code, 1)
      assert.strictEqual(parent.stderr(), `rump_server: cannot listen on unix://${path}: ${path} exists and is not a socket\n`)
    }))

  it.live("no temporary directory for the daemon's stderr: exit 1 with one line", () =>
    Effect.gen(function*() {
      const missing = Path.join(yield* tempDir, "gone")
      const parent = yield* spawnApp(["unix:///tmp/never.sock"], { TMPDIR: missing }, { program: "rump_server" })
      assert.strictEqual((yield* parent.ended()).code, 1)
      assert.match(parent.stderr(), /^rump_server: cannot start the server: ENOENT: [^\n]*\n$/)
    }))

  it.live("the daemon does not repeat the warnings its parent printed; the parent prints them once", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir, "not-a-socket")
      Fs.writeFileSync(path, "keep me")
      const args = ["-l", "rumpfs_ffs", `unix://${path}`]
      const reason = `rump_server: cannot listen on unix://${path}: ${path} exists and is not a socket\n`
      const warning = "rump_server: -l rumpfs_ffs: not part of this kernel; ignored\n"
      const daemon = yield* spawnApp(["-s", ...args], { [DETACHED_ENV]: "1" }, { program: "rump_server" })
      assert.strictEqual((yield* daemon.ended()).code, 1)
      assert.strictEqual(daemon.stderr(), reason)
      const parent = yield* spawnApp(args, {}, { program: "rump_server" })
      assert.strictEqual((yield* parent.ended()).code, 1)
      assert.strictEqual(parent.stderr(), warning + reason)
    }))

  it.live("a bad command line exits 1 with the reason and the usage", () =>
    Effect.gen(function*() {
      const app = yield* spawnApp(["-c", "many", "unix:///tmp/never.sock"], {}, { program: "rump_server" })
      assert.strictEqual((yield* app.ended()).code, 1)
      assert.strictEqual(app.stderr(), `rump_server: -c many: the CPU count must be 1 to 1024\n${RUMP_USAGE}\n`)
    }))
})
