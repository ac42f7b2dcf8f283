import { assert, describe, it } from "@effect/vitest"
import { connect, makeClient, type SysproxyProcess } from "@sysproxy/client"
import { Errno, openFlags, rebootFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { spawnApp, tempDir } from "./ChildApp.ts"

const LISTENING = /listening on unix:\/\//

/** A server (URL from RUMP_SERVER) a guest has sent reboot(howto) to, and had its answer; `mode`: its socket's before. */
const halted = (howto: number, args: ReadonlyArray<string> = []) =>
  Effect.gen(function*() {
    const sock = Path.join(yield* tempDir, "rump.sock")
    const app = yield* spawnApp(args, { RUMP_SERVER: `unix://${sock}` })
    yield* app.waitForStdout(LISTENING)
    const mode = Fs.lstatSync(sock).mode & 0o777
    yield* Effect.scoped(Effect.gen(function*() {
      const client = yield* connect(`unix://${sock}`)
      yield* client.handshakeGuest("halter")
      const r = yield* client.syscall(SYS.reboot, [howto])
      assert.strictEqual(r.error, 0, "the caller is answered before the server stops")
    }))
    return { app, sock, mode }
  })

describe.concurrent("sysproxy-server as a process", () => {
  it.live("serves a guest, then SIGTERM removes the socket and exits 0", () =>
    Effect.gen(function*() {
      const sock = Path.join(yield* tempDir, "rump.sock")
      const url = `unix://${sock}`
      const app = yield* spawnApp(["--log-format", "json", url])
      yield* app.waitForStdout(LISTENING)
      const line = app.stdout().split("\n").find((l) => LISTENING.test(l))
      assert.strictEqual(JSON.parse(line ?? "{}").message, `listening on ${url}`)
      assert.isTrue(Fs.lstatSync(sock).isSocket())
      assert.strictEqual(Fs.lstatSync(sock).mode & 0o777, 0o600)

      yield* Effect.scoped(Effect.gen(function*() {
        const client = yield* connect(url)
        yield* client.handshakeGuest("app-test")
        const r = yield* client.syscall(SYS.getpid)
        assert.strictEqual(r.error, 0)
        assert.isTrue(r.retval0 >= 2n)
        assert.strictEqual(r.retval1, 1n)
      }))

      yield* app.kill("SIGTERM")
      const ended = yield* app.ended()
      assert.deepStrictEqual(ended, { code: 0, signal: null })
      assert.isFalse(Fs.existsSync(sock))
      assert.match(app.stdout(), /shutting down/)
    }))

  it.live("RUMP_SERVER gives the URL; a client's reboot halts the server and it exits 0", () =>
    Effect.gen(function*() {
      const { app, mode, sock } = yield* halted(0, ["--socket-mode", "0660"])
      assert.strictEqual(mode, 0o660)
      assert.deepStrictEqual(yield* app.ended(), { code: 0, signal: null })
      assert.isFalse(Fs.existsSync(sock))
      assert.match(app.stdout(), /halted by a client \(howto 0\); exiting/)
    }))

  it.live("reboot with RB_HALT: the socket is removed but the process lingers until a signal, then exits 0", () =>
    Effect.gen(function*() {
      const { app, sock } = yield* halted(rebootFlags.RB_HALT)
      yield* app.waitForStdout(/lingering until a signal/)
      assert.isFalse(Fs.existsSync(sock))
      assert.doesNotThrow(() => process.kill(app.pid, 0), "still running")
      yield* app.kill("SIGTERM")
      assert.deepStrictEqual(yield* app.ended(), { code: 0, signal: null })
      assert.strictEqual(app.stderr(), "")
    }))

  it.live("reboot with RB_DUMP (even with RB_HALT) ends it as a panic: one line, exit 1, socket removed", () =>
    Effect.gen(function*() {
      const howto = rebootFlags.RB_DUMP | rebootFlags.RB_HALT
      const { app, sock } = yield* halted(howto)
      assert.deepStrictEqual(yield* app.ended(), { code: 1, signal: null })
      assert.isFalse(Fs.existsSync(sock))
      assert.strictEqual(
        app.stderr(),
        `sysproxy-server: panic: a client halted the kernel with RB_DUMP (howto ${howto})\n`
      )
    }))

  it.live("--help prints usage and exits 0", () =>
    Effect.gen(function*() {
      const app = yield* spawnApp(["--help"])
      const ended = yield* app.ended()
      assert.strictEqual(ended.code, 0)
      assert.match(app.stdout(), /USAGE\s+sysproxy-server \[flags\] \[<URL>\]/)
      assert.match(app.stdout(), /--max-clients/)
      assert.match(app.stdout(), /sysproxy-server unix:\/\/\/tmp\/rump\.sock/)
    }))

  it.live("a bad URL exits 2 with one line naming the problem", () =>
    Effect.gen(function*() {
      const app = yield* spawnApp(["ftp://example"])
      const ended = yield* app.ended()
      assert.strictEqual(ended.code, 2)
      assert.strictEqual(
        app.stderr(),
        `sysproxy-server: bad URL "ftp://example": unknown scheme "ftp", expected unix://, tcp:// or tcp6://\n`
      )
    }))

  it.live("no URL and no RUMP_SERVER exits 2", () =>
    Effect.gen(function*() {
      const app = yield* spawnApp([])
      const ended = yield* app.ended()
      assert.strictEqual(ended.code, 2)
      assert.match(app.stderr(), /^sysproxy-server: no server URL: .*RUMP_SERVER\n$/)
    }))

  it.live("a bad flag value exits 2: the usage on stdout, the flag and what it expects on stderr (as the README says)", () =>
    Effect.gen(function*() {
      const app = yield* spawnApp(["--max-clients", "0", "unix:///tmp/never.sock"])
      const ended = yield* app.ended()
      assert.strictEqual(ended.code, 2)
      assert.match(app.stdout(), /^DESCRIPTION\n[^]*\nUSAGE\n {2}sysproxy-server \[flags\] \[<URL>\]/)
      assert.strictEqual(app.stderr(), `\nERROR\n  Invalid value for flag --max-clients: "0". Expected: an integer of at least 1\n`)
    }))

  it.live("a bad environment variable exits 2 with one line naming it and its value", () =>
    Effect.gen(function*() {
      const app = yield* spawnApp(["unix:///tmp/never.sock"], { SYSPROXY_MAX_CLIENTS: "abc" })
      assert.strictEqual((yield* app.ended()).code, 2)
      assert.strictEqual(app.stderr(), `sysproxy-server: bad SYSPROXY_MAX_CLIENTS "abc": expected an integer of at least 1\n`)
      assert.strictEqual(app.stdout(), "")
    }))

  it.live("an address that cannot be used exits 1 with one line", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir, "not-a-socket")
      Fs.writeFileSync(path, "keep me")
      const app = yield* spawnApp([`unix://${path}`])
      const ended = yield* app.ended()
      assert.strictEqual(ended.code, 1)
      assert.strictEqual(app.stderr(), `sysproxy-server: cannot listen on unix://${path}: ${path} exists and is not a socket\n`)
      assert.strictEqual(Fs.readFileSync(path, "utf8"), "keep me")
    }))

  it.live("--guest-uid/--guest-gid: guests run as that user, so one cannot halt the server or open root's 0600 console", () =>
    Effect.gen(function*() {
      const sock = Path.join(yield* tempDir, "rump.sock")
      const url = `unix://${sock}`
      const app = yield* spawnApp(["--guest-uid", "1000", url], { SYSPROXY_GUEST_GID: "100" })
      yield* app.waitForStdout(LISTENING)
      yield* Effect.scoped(Effect.gen(function*() {
        const p = yield* makeClient({ url, comm: "unprivileged" })
        assert.deepStrictEqual(yield* p.syscall(SYS.getuid), { error: 0, retval0: 1000n, retval1: 1000n })
        assert.deepStrictEqual(yield* p.syscall(SYS.getgid), { error: 0, retval0: 100n, retval1: 100n })
        const errno = <A, E extends { readonly errno: number }>(e: Effect.Effect<A, E>) =>
          Effect.map(Effect.flip(e), (f) => f.errno)
        assert.strictEqual(yield* errno(p.syscall(SYS.reboot, [0, 0])), Errno.EPERM)
        // /dev/console is root's, mode 0600
        assert.strictEqual(yield* errno(p.open("/dev/console", openFlags.O_RDONLY)), Errno.EACCES)
      }))
      assert.doesNotThrow(() => process.kill(app.pid, 0), "not halted")
      yield* app.kill("SIGTERM")
      assert.deepStrictEqual(yield* app.ended(), { code: 0, signal: null })
    }))

  it.live("--guest-uid takes an id: a bad one is a usage error", () =>
    Effect.gen(function*() {
      const app = yield* spawnApp(["--guest-uid", "-5", "unix:///tmp/never.sock"])
      assert.strictEqual((yield* app.ended()).code, 2)
      assert.match(app.stderr(), /guest-uid/)
      assert.match(app.stderr(), /an id from 0 to 4294967294/)
    }))

  it.live("--root serves a host directory: a file written before a restart is read after it", () =>
    Effect.gen(function*() {
      const dir = yield* tempDir
      const root = Path.join(dir, "root")
      Fs.mkdirSync(root)
      const url = `unix://${Path.join(dir, "rump.sock")}`
      const run = <A, E>(session: (p: SysproxyProcess) => Effect.Effect<A, E>) =>
        Effect.gen(function*() {
          const app = yield* spawnApp(["--root", root, url])
          yield* app.waitForStdout(LISTENING)
          const out = yield* Effect.scoped(Effect.flatMap(makeClient({ url, comm: "persist" }), session))
          yield* app.kill("SIGTERM")
          assert.strictEqual((yield* app.ended()).code, 0)
          return out
        })
      yield* run((p) =>
        Effect.gen(function*() {
          const fd = yield* p.open("/kept", openFlags.O_WRONLY | openFlags.O_CREAT, 0o644)
          assert.strictEqual(yield* p.write(fd, "persisted"), 9)
          yield* p.close(fd)
        })
      )
      assert.strictEqual(Fs.readFileSync(Path.join(root, "kept"), "utf8"), "persisted")
      const text = yield* run((p) => Effect.map(p.readFile("/kept"), (bytes) => new TextDecoder().decode(bytes)))
      assert.strictEqual(text, "persisted")
    }))
})
