/**
 * The copying tools against a real server: cp between kernel paths and
 * across to the host (host:PATH), with cp(1)'s refusals (onto itself, a
 * directory without -R, several sources onto a file), -R, -p and -f;
 * mv by rename, across mounts and to and from the host; put and get with
 * the progress bar on a terminal only, silenced by -q.
 */
import { assert, describe, it } from "@effect/vitest"
import { makeClient } from "@sysproxy/client"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { setTimes } from "../src/Calls.ts"
import { PROGRESS_MIN } from "../src/Progress.ts"
import { hostDir, on, run, type Server, startServer } from "./support/Harness.ts"
import { mountTmpfs } from "./support/Kernel.ts"

const peer = (server: Server) => makeClient({ url: server.url, comm: "peer" })
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)
const TERMINAL = { stdoutColumns: 80, stderrColumns: 80 }

describe("cp", () => {
  it.live("copies a file, into a directory under its name, several into a directory", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.writeFile("/a", "alpha", 0o640)
      yield* c.writeFile("/b", "beta")
      yield* c.mkdir("/d")
      assert.deepInclude(yield* on(server, "cp", "/a", "/a2"), { code: 0, stdout: "", stderr: "" })
      assert.strictEqual(text(yield* c.readFile("/a2")), "alpha")
      assert.strictEqual((yield* c.stat("/a2")).mode & 0o777, 0o640, "the source's permission bits")
      assert.deepInclude(yield* on(server, "cp", "/a", "/b", "/d"), { code: 0, stderr: "" })
      assert.deepStrictEqual((yield* c.readdir("/d")).map((e) => e.name).sort(), [".", "..", "a", "b"])
      // an existing file is overwritten, truncated first
      yield* c.writeFile("/long", "a much longer text")
      assert.deepInclude(yield* on(server, "cp", "/a", "/long"), { code: 0 })
      assert.strictEqual(text(yield* c.readFile("/long")), "alpha")
    }))

  it.live("refuses as cp(1) does: onto itself, a directory without -R, several onto a file, a missing source", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.writeFile("/f", "keep")
      yield* c.symlink("/f", "/link")
      yield* c.mkdir("/dir")
      assert.deepInclude(yield* on(server, "cp", "/f", "/f"), {
        code: 1,
        stderr: "cp: /f and /f are identical (not copied).\n"
      })
      assert.deepInclude(yield* on(server, "cp", "/f", "/link"), {
        code: 1,
        stderr: "cp: /link and /f are identical (not copied).\n"
      })
      assert.strictEqual(text(yield* c.readFile("/f")), "keep", "not truncated by copying onto itself")
      assert.deepInclude(yield* on(server, "cp", "/dir", "/dir2"), { code: 1, stderr: "cp: /dir is a directory (not copied).\n" })
      assert.deepInclude(yield* on(server, "cp", "/f", "/f", "/f"), { code: 1, stderr: "cp: /f: Not a directory\n" })
      assert.deepInclude(yield* on(server, "cp", "/nope", "/f", "/dir"), {
        code: 1,
        stderr: "cp: /nope: No such file or directory\n"
      })
      assert.strictEqual(text(yield* c.readFile("/dir/f")), "keep", "the other source was copied")
    }))

  it.live("-R copies a tree with its links as links; -p keeps mode and times; -f replaces what will not open", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.mkdir("/src")
      yield* c.mkdir("/src/sub", 0o750)
      yield* c.writeFile("/src/sub/deep", "deep", 0o600)
      yield* c.symlink("sub/deep", "/src/ln")
      assert.deepInclude(yield* on(server, "cp", "-R", "/src", "/dst"), { code: 0, stderr: "" })
      assert.strictEqual(text(yield* c.readFile("/dst/sub/deep")), "deep")
      assert.strictEqual(yield* c.readlink("/dst/ln"), "sub/deep")
      assert.strictEqual((yield* c.stat("/dst/sub")).mode & 0o777, 0o750)
      // into itself: the copy it makes is not copied again, so it ends
      const inside = yield* on(server, "cp", "-R", "/src", "/src/sub")
      assert.deepInclude(inside, { code: 1, stderr: "cp: /src/sub/src is a directory this copy made (not copied again).\n" })
      assert.strictEqual(text(yield* c.readFile("/src/sub/src/sub/deep")), "deep")

      yield* c.writeFile("/old", "old", 0o604)
      const before = yield* c.stat("/old")
      yield* Effect.sleep("20 millis")
      assert.deepInclude(yield* on(server, "cp", "-p", "/old", "/kept"), { code: 0, stderr: "" })
      const kept = yield* c.stat("/kept")
      assert.strictEqual(kept.mode & 0o7777, 0o604)
      assert.deepStrictEqual(kept.mtime.sec, before.mtime.sec)
      assert.strictEqual(Math.floor(kept.mtime.nsec / 1000), Math.floor(before.mtime.nsec / 1000))

      // a link to nowhere will not open for writing: -f removes it and makes a file
      yield* c.symlink("/no/such/dir/x", "/dangling")
      assert.deepInclude(yield* on(server, "cp", "/old", "/dangling"), {
        code: 1,
        stderr: "cp: /dangling: No such file or directory\n"
      })
      assert.deepInclude(yield* on(server, "cp", "-f", "/old", "/dangling"), { code: 0, stderr: "" })
      assert.strictEqual(text(yield* c.readFile("/dangling")), "old")
      assert.isFalse(((yield* c.lstat("/dangling")).mode & 0o170000) === 0o120000, "a file now, not the link")
    }))

  it.live("host:PATH on either side, host:- for stdin and stdout, a host directory with -R", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      const dir = yield* hostDir
      const local = Path.join(dir, "notes.txt")
      Fs.writeFileSync(local, "from the host\n")
      assert.deepInclude(yield* on(server, "cp", `host:${local}`, "/tmp/"), { code: 0, stderr: "" })
      assert.strictEqual(text(yield* c.readFile("/tmp/notes.txt")), "from the host\n")
      assert.deepInclude(yield* on(server, "cp", "/tmp/notes.txt", `host:${dir}/back.txt`), { code: 0, stderr: "" })
      assert.strictEqual(Fs.readFileSync(Path.join(dir, "back.txt"), "utf8"), "from the host\n")
      assert.strictEqual((yield* on(server, "cp", "/tmp/notes.txt", "host:-")).stdout, "from the host\n")
      const piped = yield* run(["cp", "host:-", "/piped"], { env: { RUMP_SERVER: server.url }, stdin: "stdin bytes" })
      assert.strictEqual(piped.code, 0)
      assert.strictEqual(text(yield* c.readFile("/piped")), "stdin bytes")
      Fs.mkdirSync(Path.join(dir, "tree", "inner"), { recursive: true })
      Fs.writeFileSync(Path.join(dir, "tree", "inner", "leaf"), "leaf")
      assert.deepInclude(yield* on(server, "cp", "-R", `host:${dir}/tree`, "/tree"), { code: 0, stderr: "" })
      assert.strictEqual(text(yield* c.readFile("/tree/inner/leaf")), "leaf")
      assert.deepInclude(yield* on(server, "cp", `host:${dir}/missing`, "/x"), {
        code: 1,
        stderr: `cp: host:${dir}/missing: No such file or directory\n`
      })
    }))
})

describe("times kept on the host", () => {
  it.live("cp -p and mv to host:PATH give the host file the source's times (host to kernel too)", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      const dir = yield* hostDir
      // 2020-01-02T03:04:05.678Z and a second later
      const atime = { sec: 1577934245n, nsec: 678_000_000 }
      const mtime = { sec: 1577934246n, nsec: 678_000_000 }
      for (const p of ["/k1", "/k2"]) {
        yield* c.writeFile(p, "timed")
        yield* setTimes(c, p, atime, mtime)
      }
      assert.deepInclude(yield* on(server, "cp", "-p", "/k1", `host:${dir}/c`), { code: 0, stderr: "" })
      assert.deepInclude(yield* on(server, "mv", "/k2", `host:${dir}/m`), { code: 0, stderr: "" })
      // the host's utimes takes seconds as a double: exact to well under a microsecond
      const near = (ns: bigint, want: bigint, within: bigint, what: string) =>
        assert.isTrue(ns - want <= within && want - ns <= within, `${what}: ${ns} is not ${want}`)
      for (const name of ["c", "m"]) {
        const st = Fs.statSync(Path.join(dir, name), { bigint: true })
        near(st.mtimeNs, 1577934246_678_000_000n, 1000n, `${name}: mtime`)
        near(st.atimeNs, 1577934245_678_000_000n, 1000n, `${name}: atime`)
      }
      // and back: the kernel file gets the host file's times (to the millisecond a host stat gives)
      assert.deepInclude(yield* on(server, "cp", "-p", `host:${dir}/c`, "/back"), { code: 0, stderr: "" })
      const back = yield* c.stat("/back")
      near(back.mtime.sec * 1_000_000_000n + BigInt(back.mtime.nsec), 1577934246_678_000_000n, 1_000_000n, "back: mtime")
    }))
})

describe("mv", () => {
  it.live("renames; a refused rename says so; a missing source is reported and the rest still moved", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* c.writeFile("/a", "a")
      yield* c.writeFile("/b", "b")
      yield* c.mkdir("/d")
      assert.deepInclude(yield* on(server, "mv", "/a", "/renamed"), { code: 0, stderr: "" })
      assert.strictEqual(text(yield* c.readFile("/renamed")), "a")
      assert.deepInclude(yield* Effect.flip(c.stat("/a")), { code: "ENOENT" })
      assert.deepInclude(yield* on(server, "mv", "/nope", "/b", "/d"), {
        code: 1,
        stderr: "mv: rename /nope to /d/nope: No such file or directory\n"
      })
      assert.strictEqual(text(yield* c.readFile("/d/b")), "b")
      assert.deepInclude(yield* on(server, "mv", "/d", "/d/inside"), {
        code: 1,
        stderr: "mv: rename /d to /d/inside: Invalid argument\n"
      })
    }))

  it.live("across mounts (EXDEV) by copying: contents, mode and times kept, the source gone", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      yield* mountTmpfs(c, "/mnt")
      yield* c.mkdir("/tree")
      yield* c.writeFile("/tree/f", "moved", 0o611)
      const before = yield* c.stat("/tree/f")
      assert.deepInclude(yield* Effect.flip(c.rename("/tree", "/mnt/tree")), { code: "EXDEV" }, "a rename cannot do it")
      assert.deepInclude(yield* on(server, "mv", "/tree", "/mnt/tree"), { code: 0, stderr: "" })
      assert.strictEqual(text(yield* c.readFile("/mnt/tree/f")), "moved")
      const after = yield* c.stat("/mnt/tree/f")
      assert.strictEqual(after.mode & 0o7777, 0o611)
      assert.strictEqual(after.mtime.sec, before.mtime.sec)
      assert.notStrictEqual(after.dev, before.dev, "on the other file system")
      assert.deepInclude(yield* Effect.flip(c.stat("/tree")), { code: "ENOENT" })
    }))

  it.live("a copy that fails leaves no partial target (the source kept), across mounts and from the host", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      const dir = yield* hostDir
      yield* mountTmpfs(c, "/small", 64 * 1024)
      yield* c.writeFile("/big", new Uint8Array(256 * 1024))
      const moved = yield* on(server, "mv", "/big", "/small/big")
      assert.deepInclude(moved, { code: 1, stderr: "mv: /small/big: No space left on device\n" })
      assert.deepInclude(yield* Effect.flip(c.stat("/small/big")), { code: "ENOENT" }, "no partial target")
      assert.strictEqual((yield* c.stat("/big")).size, 256 * 1024, "the source kept")
      Fs.writeFileSync(Path.join(dir, "big"), new Uint8Array(256 * 1024))
      assert.deepInclude(yield* on(server, "mv", `host:${dir}/big`, "/small/h"), {
        code: 1,
        stderr: "mv: /small/h: No space left on device\n"
      })
      assert.deepInclude(yield* Effect.flip(c.stat("/small/h")), { code: "ENOENT" })
      assert.isTrue(Fs.existsSync(Path.join(dir, "big")))
      // cp leaves what it made, as cp(1) does
      assert.strictEqual((yield* on(server, "cp", "/big", "/small/c")).code, 1)
      yield* c.stat("/small/c")
    }))

  it.live("to and from the host", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      const dir = yield* hostDir
      yield* c.writeFile("/out", "leaving")
      assert.deepInclude(yield* on(server, "mv", "/out", `host:${dir}/out`), { code: 0, stderr: "" })
      assert.strictEqual(Fs.readFileSync(Path.join(dir, "out"), "utf8"), "leaving")
      assert.deepInclude(yield* Effect.flip(c.stat("/out")), { code: "ENOENT" })
      assert.deepInclude(yield* on(server, "mv", `host:${dir}/out`, "/in"), { code: 0, stderr: "" })
      assert.strictEqual(text(yield* c.readFile("/in")), "leaving")
      assert.isFalse(Fs.existsSync(Path.join(dir, "out")))
    }))
})

describe("put and get: large files and the progress bar", () => {
  it.live("a file of many chunks both ways, byte for byte; a bar on a terminal's stderr only, none with -q", () =>
    Effect.gen(function*() {
      const server = yield* startServer
      const c = yield* peer(server)
      const dir = yield* hostDir
      const size = PROGRESS_MIN + 3 * 1024 * 1024 + 17
      const data = new Uint8Array(size).map((_, i) => (i * 7 + (i >> 12)) % 256)
      const local = Path.join(dir, "big")
      Fs.writeFileSync(local, data)
      const put = yield* run(["put", local, "/big"], { env: { RUMP_SERVER: server.url }, terminal: TERMINAL })
      assert.strictEqual(put.code, 0)
      assert.deepStrictEqual(new Uint8Array(yield* c.readFile("/big")), data)
      // redrawn in place with \r, ending at 100% and a newline
      assert.match(put.stderr, /^\r.*\[#+ *\]/)
      assert.match(put.stderr, /\[#+\] 100% 7\.0M \S+\/s\n$/)
      const quiet = yield* run(["put", "-q", local, "/big2"], { env: { RUMP_SERVER: server.url }, terminal: TERMINAL })
      assert.deepInclude(quiet, { code: 0, stderr: "" })
      const piped = yield* on(server, "get", "/big", Path.join(dir, "back"))
      assert.deepInclude(piped, { code: 0, stderr: "" }, "stderr not a terminal: no bar")
      assert.deepStrictEqual(new Uint8Array(Fs.readFileSync(Path.join(dir, "back"))), data)
      const small = yield* run(["put", Path.join(dir, "back"), "/s"], { env: { RUMP_SERVER: server.url }, terminal: TERMINAL })
      assert.strictEqual(small.code, 0)
      Fs.writeFileSync(Path.join(dir, "tiny"), "tiny")
      const tiny = yield* run(["put", Path.join(dir, "tiny"), "/t"], { env: { RUMP_SERVER: server.url }, terminal: TERMINAL })
      assert.deepInclude(tiny, { code: 0, stderr: "" }, "a small copy draws nothing")
    }))
})
