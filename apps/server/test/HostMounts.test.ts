/**
 * Host directories in the server (`--root`, `--mount DIR:/path[:ro]`, their
 * variables and config keys), `--vnodes` and `--io-threads`: the rules
 * in-process, the whole path with the app as a process. Then the crash
 * test: 100 clients writing and fsyncing to a host root when the server is
 * killed with SIGKILL; after a restart every write whose fsync was answered
 * is on the host, and the tree is whole.
 */
import { assert, describe, it } from "@effect/vitest"
import { makeClient, type SysproxyProcess } from "@sysproxy/client"
import { Errno, openFlags } from "@sysproxy/protocol/netbsd"
import { ConfigProvider, Effect, Fiber, Option } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { mergeOptions, NO_FLAGS } from "../src/AppOptions.ts"
import { decodeConfig } from "../src/ConfigFile.ts"
import { withEnvironment } from "../src/Environment.ts"
import { checkMountPoints, DESCRIPTOR_RESERVE, vnodeCacheSize } from "../src/HostMounts.ts"
import { parseMount } from "../src/OptionRules.ts"
import { spawnApp, tempDir } from "./ChildApp.ts"

const LISTENING = /listening on unix:\/\//

describe("host mount options", () => {
  it.effect("DIR:/path[:ro]: the kernel path after the last ':/', read-only with :ro; anything else refused", () =>
    Effect.gen(function*() {
      assert.deepStrictEqual(parseMount("/srv/data:/data"), { hostPath: "/srv/data", at: "/data", readOnly: false })
      assert.deepStrictEqual(parseMount("/srv/ref:/ref:ro"), { hostPath: "/srv/ref", at: "/ref", readOnly: true })
      assert.deepStrictEqual(parseMount("/srv/a:b:/x:rw"), { hostPath: "/srv/a:b", at: "/x", readOnly: false })
      assert.deepStrictEqual(parseMount("rel:/"), { hostPath: "rel", at: "/", readOnly: false })
      for (const bad of ["/srv/data", "/srv:data", ":/x", "/srv:/../etc", "/srv:/a/../b"]) assert.isUndefined(parseMount(bad), bad)
      // the config file takes objects too
      const decoded = yield* decodeConfig("c.json", { mounts: ["/a:/x", { hostPath: "/b", at: "/y", readOnly: true }], vnodes: 100, ioThreads: 8 })
      assert.deepStrictEqual(decoded.mounts, [{ hostPath: "/a", at: "/x", readOnly: false }, { hostPath: "/b", at: "/y", readOnly: true }])
      assert.strictEqual(decoded.ioThreads, 8)
      const bad = yield* Effect.flip(decodeConfig("c.json", { mounts: [{ hostPath: "/b", at: "y" }] }))
      assert.match(bad.message, /mounts: expected host mounts such as/)
      assert.match((yield* Effect.flip(decodeConfig("c.json", { ioThreads: 2000 }))).message, /an integer from 1 to 1024/)
      // a variable, its paths separated by spaces (an escaped space is part of one)
      const env = yield* withEnvironment(NO_FLAGS).pipe(
        Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: { SYSPROXY_MOUNTS: "/a\\ b:/x /c:/y:ro", SYSPROXY_VNODES: "64" } })))
      )
      assert.deepStrictEqual(env.mounts, Option.some([{ hostPath: "/a b", at: "/x", readOnly: false }, { hostPath: "/c", at: "/y", readOnly: true }]))
      assert.deepStrictEqual(mergeOptions(env, { mounts: [{ hostPath: "/f", at: "/f", readOnly: false }] }).vnodes, Option.some(64))
    }))

  it.effect("two directories on one path are a usage error; the vnode caches must fit the descriptor limit", () =>
    Effect.gen(function*() {
      const twice = yield* Effect.flip(checkMountPoints([{ hostPath: "/a", at: "/", readOnly: false }, { hostPath: "/b", at: "//", readOnly: false }]))
      assert.match(twice.message, /two host directories mounted on \//)
      // the default is cut down to what fits; one given that does not fit is refused
      assert.strictEqual(yield* vnodeCacheSize(Option.none(), 2, DESCRIPTOR_RESERVE + 2000), 1000)
      assert.strictEqual(yield* vnodeCacheSize(Option.none(), 1, 1_000_000), 8192)
      assert.strictEqual(yield* vnodeCacheSize(Option.some(500), 2, DESCRIPTOR_RESERVE + 2000), 500)
      const refused = yield* Effect.flip(vnodeCacheSize(Option.some(5000), 2, DESCRIPTOR_RESERVE + 2000))
      assert.match(refused.message, /--vnodes 5000 for 2 host mounts needs more descriptors than RLIMIT_NOFILE/)
    }))
})

/** Runs `session` as a client of a fresh server with `args` on `url`, then stops the server (SIGTERM, exit 0). */
const withServer = <A, E>(args: ReadonlyArray<string>, url: string, session: (p: SysproxyProcess) => Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const app = yield* spawnApp([...args, url])
    yield* app.waitForStdout(LISTENING)
    const out = yield* Effect.scoped(Effect.flatMap(makeClient({ url, comm: "mounts" }), session))
    yield* app.kill("SIGTERM")
    assert.strictEqual((yield* app.ended()).code, 0, app.stderr())
    return { out, app }
  })

describe.concurrent("host mounts in the server", () => {
  it.live("--root and --mount DIR:/path[:ro]: files persist on their host directories; a read-only one refuses changes", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const root = Path.join(dir, "root")
      const data = Path.join(dir, "data")
      const ref = Path.join(dir, "ref")
      for (const d of [root, data, ref]) Fs.mkdirSync(d)
      Fs.writeFileSync(Path.join(ref, "manual"), "read only")
      const url = `unix://${Path.join(dir, "rump.sock")}`
      const args = ["--root", root, "--mount", `${data}:/srv/data`, "--mount", `${ref}:/ref:ro`]
      yield* withServer(args, url, (p) =>
        Effect.gen(function*() {
          yield* p.writeFile("/top", "on the root")
          yield* p.writeFile("/srv/data/kept", "on data")
          assert.strictEqual(new TextDecoder().decode(yield* p.readFile("/ref/manual")), "read only")
          const refused = yield* Effect.flip(p.open("/ref/new", openFlags.O_WRONLY | openFlags.O_CREAT, 0o644))
          assert.strictEqual((refused as { readonly errno?: number }).errno, Errno.EROFS)
        }))
      assert.strictEqual(Fs.readFileSync(Path.join(root, "top"), "utf8"), "on the root")
      assert.strictEqual(Fs.readFileSync(Path.join(data, "kept"), "utf8"), "on data")
      assert.isTrue(Fs.statSync(Path.join(root, "srv", "data")).isDirectory(), "the mount point made on the root")
      assert.deepStrictEqual(Fs.readdirSync(ref), ["manual"])
      const { out } = yield* withServer(args, url, (p) => Effect.map(p.readFile("/srv/data/kept"), (b) => new TextDecoder().decode(b)))
      assert.strictEqual(out, "on data")
    }))

  it.live("a host directory that cannot be mounted is one line and exit 1; a bad --mount is a usage error, exit 2", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const missing = yield* spawnApp(["--root", Path.join(dir, "nope"), `unix://${Path.join(dir, "a.sock")}`])
      assert.strictEqual((yield* missing.ended()).code, 1)
      assert.match(missing.stderr(), /^sysproxy-server: cannot mount .*nope: cannot open it: open: ENOENT\n$/)
      const bad = yield* spawnApp(["--mount", "/tmp", `unix://${Path.join(dir, "b.sock")}`])
      assert.strictEqual((yield* bad.ended()).code, 2)
      assert.match(bad.stderr(), /host mounts such as/)
      const twice = yield* spawnApp(["--root", dir, "--mount", `${dir}:/`, `unix://${Path.join(dir, "c.sock")}`])
      assert.strictEqual((yield* twice.ended()).code, 2)
      assert.match(twice.stderr(), /two host directories mounted on \//)
    }))

  it.live("--io-threads N (or ioThreads in the config file, read before the pool starts): libuv's pool has N threads", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const root = Path.join(dir, "root")
      Fs.mkdirSync(root)
      const config = Path.join(dir, "config.json")
      Fs.writeFileSync(config, JSON.stringify({ ioThreads: 5 }))
      for (const [args, want] of [[["--io-threads", "7"], 7], [["--config", config], 5]] as const) {
        const url = `unix://${Path.join(dir, `rump${want}.sock`)}`
        const app = yield* spawnApp([...args, "--root", root, url])
        yield* app.waitForStdout(LISTENING)
        yield* Effect.scoped(Effect.flatMap(makeClient({ url, comm: "pool" }), (p) =>
          Effect.forEach(Array.from({ length: 32 }), (_, i) => p.writeFile(`/f${i}`, "x"), { concurrency: 16 })))
        const workers = Fs.readdirSync(`/proc/${app.pid}/task`).filter((t) => {
          try {
            return Fs.readFileSync(`/proc/${app.pid}/task/${t}/comm`, "latin1").startsWith("libuv-worker")
          } catch {
            return false
          }
        })
        assert.strictEqual(workers.length, want, args.join(" "))
        yield* app.kill("SIGTERM")
        assert.strictEqual((yield* app.ended()).code, 0)
      }
    }))
})

/** One client's stream of records: each a fixed-size block naming the client and its number. */
const RECORD = 4096
const recordOf = (client: number, n: number): Uint8Array => {
  const b = new Uint8Array(RECORD).fill(0x20 + (client % 90))
  b.set(new TextEncoder().encode(`client ${client} record ${n}\n`))
  return b
}

describe("host root: SIGKILL in the middle of 100 clients writing and fsyncing", () => {
  it.live("after a restart every answered fsync is on the host, and the tree is whole", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const root = Path.join(dir, "root")
      Fs.mkdirSync(root)
      const url = `unix://${Path.join(dir, "rump.sock")}`
      const CLIENTS = 100
      // what each client has had fsync answer for: the records before that are on the host
      const synced = new Array<number>(CLIENTS).fill(0)
      const app = yield* spawnApp(["--root", root, "--max-clients", "256", url])
      yield* app.waitForStdout(LISTENING)
      const writer = (c: number) =>
        Effect.scoped(Effect.gen(function*() {
          const p = yield* makeClient({ url, comm: `w${c}` })
          yield* p.mkdir(`/c${c}`, 0o755)
          const fd = yield* p.open(`/c${c}/log`, openFlags.O_WRONLY | openFlags.O_CREAT, 0o644)
          for (let n = 0;; n++) {
            yield* p.write(fd, recordOf(c, n))
            if (n % 4 === 3) {
              yield* p.fsync(fd)
              synced[c] = n + 1
            }
          }
        })).pipe(Effect.ignore)
      const fibers = yield* Effect.forEach(Array.from({ length: CLIENTS }, (_, c) => c), (c) => Effect.forkDetach(writer(c)))
      // until most clients have had a few fsyncs answered
      for (let i = 0; i < 600 && synced.filter((n) => n >= 8).length < CLIENTS / 2; i++) yield* Effect.sleep("50 millis")
      yield* app.kill("SIGKILL")
      assert.deepStrictEqual(yield* app.ended(), { code: null, signal: "SIGKILL" })
      yield* Effect.forEach(fibers, Fiber.interrupt, { discard: true })
      const answered = [...synced]
      assert.isAbove(answered.filter((n) => n > 0).length, CLIENTS / 2, `fsyncs answered: ${answered.join(",")}`)

      // every record whose fsync was answered is on the host, whole and in order
      for (let c = 0; c < CLIENTS; c++) {
        if (answered[c] === 0) continue
        const bytes = Fs.readFileSync(Path.join(root, `c${c}`, "log"))
        assert.isAtLeast(bytes.length, answered[c]! * RECORD, `client ${c}`)
        for (const n of [0, answered[c]! - 1]) {
          assert.isTrue(Buffer.from(recordOf(c, n)).equals(bytes.subarray(n * RECORD, (n + 1) * RECORD)), `client ${c} record ${n}`)
        }
      }
      // the tree is whole: a restarted server serves it, lists every directory, and leaves no half-made file behind
      yield* withServer(["--root", root], url, (p) =>
        Effect.gen(function*() {
          const top = (yield* p.readdir("/")).map((e) => e.name)
          for (let c = 0; c < CLIENTS; c++) if (answered[c]! > 0) assert.include(top, `c${c}`)
          const one = answered.findIndex((n) => n > 0)
          const st = yield* p.stat(`/c${one}/log`)
          assert.strictEqual(BigInt(st.size), BigInt(Fs.statSync(Path.join(root, `c${one}`, "log")).size))
          yield* p.writeFile("/after", "the restarted server writes")
        }))
      const leftovers = Fs.readdirSync(root, { recursive: true }).map(String).filter((n) => Path.basename(n).startsWith(".sysproxy-"))
      assert.deepStrictEqual(leftovers, [])
      assert.strictEqual(Fs.readFileSync(Path.join(root, "after"), "utf8"), "the restarted server writes")
    }), 120_000)
})
