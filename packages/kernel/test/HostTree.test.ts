/**
 * The host tree (vfs/host/HostTree.ts) on a real host directory: every
 * call reaches the host through the walker, asynchronously; names are
 * bytes; symlinks are never followed by the host; the host's own devices
 * and fifos are never opened; a host failure is the NetBSD errno at once;
 * a descriptor in use is not closed under a call.
 */
import { assert, describe, it } from "@effect/vitest"
import { Errno } from "@sysproxy/protocol/netbsd"
import { Deferred, Effect, Exit, Fiber, Layer } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { HostCalls, nodeHostCalls } from "../src/vfs/host/HostCalls.ts"
import { hostError, netbsdErrno } from "../src/vfs/host/HostError.ts"
import { HostFd } from "../src/vfs/host/HostFd.ts"
import { componentBytes, procPath } from "../src/vfs/host/HostPath.ts"
import { HostTree } from "../src/vfs/host/HostTree.ts"
import { tempTrees } from "./support/TempDirs.ts"

/** A fresh host directory `<tmp>/root` with a file beside it, outside the root. */
const hostDir = tempTrees("sysproxy-hosttree-")

const { O_RDONLY, O_RDWR, O_WRONLY } = Fs.constants

const errnoOf = <A, R>(effect: Effect.Effect<A, unknown, R>) =>
  Effect.map(Effect.flip(effect), (e) => (e as { readonly errno: number }).errno)

const openFds = (): number => Fs.readdirSync("/proc/self/fd").length

describe("host tree: the calls", () => {
  it.effect("create, write, read, truncate, fsync, link, rename, symlink, readlink, unlink, rmdir", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const tree = yield* HostTree.open(root)
      yield* tree.mkdir(tree.root, "d", 0o750)
      assert.isTrue(Fs.statSync(Path.join(root, "d")).isDirectory())
      const d = yield* tree.walk(["d"])

      const f = yield* tree.create(d, "f", O_RDWR, 0o640)
      yield* tree.write(f, new TextEncoder().encode("hello host"), 0)
      yield* tree.write(f, new TextEncoder().encode("!"), 10)
      yield* tree.fsync(f)
      yield* tree.fdatasync(f)
      assert.strictEqual(Fs.readFileSync(Path.join(root, "d", "f"), "utf8"), "hello host!")
      assert.strictEqual(new TextDecoder().decode(yield* tree.read(f, 100, 6)), "host!")
      yield* tree.truncate(f, 5)
      assert.strictEqual(Fs.readFileSync(Path.join(root, "d", "f"), "utf8"), "hello")
      assert.strictEqual((yield* tree.fstat(f)).size, 5n)
      // O_EXCL: an existing name is EEXIST
      assert.strictEqual(yield* errnoOf(tree.create(d, "f", O_RDWR, 0o600)), Errno.EEXIST)

      // a hard link is the same host inode
      yield* tree.link(d, "f", tree.root, "g")
      const st = yield* tree.lstat(tree.root, "g")
      assert.strictEqual(st.ino, (yield* tree.fstat(f)).ino)
      assert.strictEqual(st.nlink, 2n)
      yield* tree.rename(tree.root, "g", d, "h")
      assert.isFalse(Fs.existsSync(Path.join(root, "g")))
      assert.strictEqual(Fs.readFileSync(Path.join(root, "d", "h"), "utf8"), "hello")

      yield* tree.symlink("../nowhere", d, "l")
      assert.strictEqual(Fs.readlinkSync(Path.join(root, "d", "l")), "../nowhere")
      assert.strictEqual(yield* tree.readlink(d, "l"), "../nowhere")
      assert.isTrue((yield* tree.lstat(d, "l")).isSymbolicLink())

      yield* tree.unlink(d, "h")
      yield* tree.unlink(d, "l")
      assert.strictEqual(yield* errnoOf(tree.rmdir(tree.root, "d")), Errno.ENOTEMPTY)
      yield* tree.unlink(d, "f")
      assert.strictEqual(yield* errnoOf(tree.unlink(d, "f")), Errno.ENOENT)
      yield* tree.rmdir(tree.root, "d")
      assert.deepStrictEqual(Fs.readdirSync(root), [])
    }).pipe(Effect.provide(HostCalls.layer)))

  it.effect("attributes change through the node's descriptor: a symlink's own, never its target's", () =>
    Effect.gen(function*() {
      const { root, base } = hostDir()
      Fs.writeFileSync(Path.join(root, "f"), "x")
      Fs.symlinkSync(Path.join(base, "secret"), Path.join(root, "l"))
      const tree = yield* HostTree.open(root)
      const f = yield* tree.lookup(tree.root, "f")
      yield* tree.chmod(f, 0o604)
      yield* tree.utimes(f, 1000, 2000)
      assert.strictEqual(Fs.statSync(Path.join(root, "f")).mode & 0o7777, 0o604)
      assert.strictEqual(Fs.statSync(Path.join(root, "f")).mtimeMs, 2_000_000)

      const secretBefore = Fs.statSync(Path.join(base, "secret"))
      const l = yield* tree.lookup(tree.root, "l")
      assert.isTrue((yield* tree.fstat(l)).isSymbolicLink())
      assert.strictEqual(yield* errnoOf(tree.chmod(l, 0o777)), Errno.EOPNOTSUPP)
      yield* tree.utimes(l, 3000, 4000)
      assert.strictEqual(Fs.lstatSync(Path.join(root, "l")).mtimeMs, 4_000_000)
      const secretAfter = Fs.statSync(Path.join(base, "secret"))
      assert.strictEqual(secretAfter.mode, secretBefore.mode)
      assert.strictEqual(secretAfter.mtimeMs, secretBefore.mtimeMs)
      if (process.getuid?.() === 0) {
        yield* tree.chown(l, 4321, 4321)
        assert.strictEqual(Fs.lstatSync(Path.join(root, "l")).uid, 4321)
        assert.strictEqual(Fs.statSync(Path.join(base, "secret")).uid, secretBefore.uid)
      }
      // reopening follows nothing: a symlink's descriptor is not opened for I/O
      assert.strictEqual(yield* errnoOf(tree.reopen(l, O_RDONLY)), Errno.EOPNOTSUPP)
    }).pipe(Effect.provide(HostCalls.layer)))

  it.effect("the file a lookup found is the one opened, whatever its name became", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      Fs.writeFileSync(Path.join(root, "f"), "first")
      const tree = yield* HostTree.open(root)
      const node = yield* tree.lookup(tree.root, "f")
      Fs.renameSync(Path.join(root, "f"), Path.join(root, "moved"))
      Fs.writeFileSync(Path.join(root, "f"), "second")
      const file = yield* tree.reopen(node, O_RDONLY)
      assert.strictEqual(new TextDecoder().decode(yield* tree.read(file, 100, 0)), "first")
      assert.strictEqual(yield* errnoOf(tree.reopen(yield* tree.walk([]), O_WRONLY)), Errno.EISDIR)
    }).pipe(Effect.provide(HostCalls.layer)))
})

describe("host tree: confinement", () => {
  it.effect("no step follows a symlink; names that are not one component are refused", () =>
    Effect.gen(function*() {
      const { root, base } = hostDir()
      Fs.symlinkSync(base, Path.join(root, "up"))
      Fs.symlinkSync("/", Path.join(root, "slash"))
      const tree = yield* HostTree.open(root)
      assert.strictEqual(yield* errnoOf(tree.walk(["up"])), Errno.ENOTDIR)
      assert.strictEqual(yield* errnoOf(tree.walk(["slash", "etc"])), Errno.ENOTDIR)
      // creating through a symlink's name: the name exists, nothing is made where it points
      assert.strictEqual(yield* errnoOf(tree.create(tree.root, "up", O_WRONLY, 0o644)), Errno.EEXIST)
      for (const name of ["..", ".", "", "a/b", "a\0b"]) {
        assert.strictEqual(yield* errnoOf(tree.lstat(tree.root, name)), Errno.EINVAL, JSON.stringify(name))
      }
      assert.throws(() => procPath(3, Buffer.from("..")))
      assert.throws(() => procPath(3, Buffer.from("a/b")))
      assert.isUndefined(componentBytes(".."))
      assert.deepStrictEqual(Fs.readdirSync(base).sort(), ["root", "secret"])
    }).pipe(Effect.provide(HostCalls.layer)))

  it.effect("the host's own fifo is looked up but never opened (no block, no effect)", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      ChildProcess.execFileSync("mkfifo", [Path.join(root, "pipe")])
      const tree = yield* HostTree.open(root)
      const node = yield* tree.lookup(tree.root, "pipe")
      assert.isTrue((yield* tree.fstat(node)).isFIFO())
      assert.strictEqual(yield* errnoOf(tree.reopen(node, O_RDONLY)), Errno.EOPNOTSUPP)
    }).pipe(Effect.provide(HostCalls.layer)))

  it.effect("a root that is not a directory is refused", () =>
    Effect.gen(function*() {
      const { base } = hostDir()
      assert.strictEqual(yield* errnoOf(Effect.scoped(HostTree.open(Path.join(base, "secret")))), Errno.ENOTDIR)
      assert.strictEqual(yield* errnoOf(Effect.scoped(HostTree.open(Path.join(base, "missing")))), Errno.ENOENT)
    }).pipe(Effect.provide(HostCalls.layer)))
})

describe("host tree: directories are read in pieces", () => {
  it.effect("every entry once, by bytes, in pieces of the size asked for", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const expected = new Set<string>()
      for (let i = 0; i < 300; i++) {
        Fs.writeFileSync(Path.join(root, `f${i}`), "")
        expected.add(`f${i}`)
      }
      Fs.mkdirSync(Path.join(root, "sub"))
      expected.add("sub")
      // a name that is not UTF-8
      Fs.writeFileSync(Buffer.concat([Buffer.from(root + "/"), Buffer.from([0xff, 0x66])]), "")
      expected.add("\xff\x66")
      const tree = yield* HostTree.open(root)
      const reader = yield* tree.readdir(tree.root, 16)
      const seen: Array<string> = []
      const types = new Map<string, string | undefined>()
      let pieces = 0
      for (;;) {
        const piece = yield* reader.next(7)
        if (piece.length === 0) break
        assert.isAtMost(piece.length, 7)
        pieces++
        for (const e of piece) {
          seen.push(e.name)
          types.set(e.name, e.type)
        }
      }
      assert.isTrue(reader.ended)
      assert.strictEqual(seen.length, expected.size)
      assert.deepStrictEqual(new Set(seen), expected)
      assert.strictEqual(pieces, Math.ceil(expected.size / 7))
      assert.strictEqual(types.get("sub"), "dir")
      assert.strictEqual(types.get("f0"), "reg")
      // the odd name is reached by its bytes
      assert.isTrue((yield* tree.lstat(tree.root, "\xff\x66")).isFile())
    }).pipe(Effect.provide(HostCalls.layer)))
})

/** node:fs, with writes refused as `code` while `refuse.code` is set. */
const refusingCalls = () => {
  const refuse: { code: string | undefined } = { code: undefined }
  const layer = Layer.succeed(HostCalls, {
    ...nodeHostCalls,
    write: (fd, buffer, offset, length, position) =>
      refuse.code === undefined
        ? nodeHostCalls.write(fd, buffer, offset, length, position)
        : Effect.fail(hostError(refuse.code, "write"))
  })
  return { refuse, layer }
}

describe("host tree: host failures are NetBSD errnos, at once", () => {
  it("Linux codes map to NetBSD's numbers", () => {
    assert.strictEqual(netbsdErrno("ENOSPC"), Errno.ENOSPC)
    assert.strictEqual(netbsdErrno("EDQUOT"), Errno.EDQUOT)
    assert.strictEqual(netbsdErrno("EIO"), Errno.EIO)
    assert.strictEqual(netbsdErrno("ENOTEMPTY"), Errno.ENOTEMPTY)
    assert.strictEqual(netbsdErrno("ELOOP"), Errno.ELOOP)
    assert.strictEqual(netbsdErrno("ENOTSUP"), Errno.EOPNOTSUPP)
    assert.strictEqual(netbsdErrno("ENODATA"), Errno.ENOATTR)
    assert.strictEqual(netbsdErrno("EUCLEAN"), Errno.EIO)
    assert.strictEqual(netbsdErrno("ENOTANERRNO"), Errno.EIO)
    // the numbers differ between the two systems: a mapping, not a pass-through
    assert.notStrictEqual(Errno.EDQUOT, Os.constants.errno.EDQUOT)
  })

  it.effect("a write the host refuses (ENOSPC, EDQUOT, EIO) fails with that errno, and the file keeps what it had", () => {
    const { refuse, layer } = refusingCalls()
    return Effect.gen(function*() {
      const { root } = hostDir()
      const tree = yield* HostTree.open(root)
      const f = yield* tree.create(tree.root, "f", O_RDWR, 0o644)
      yield* tree.write(f, new TextEncoder().encode("kept"), 0)
      for (const [code, errno] of [["ENOSPC", Errno.ENOSPC], ["EDQUOT", Errno.EDQUOT], ["EIO", Errno.EIO]] as const) {
        refuse.code = code
        const e = yield* Effect.flip(tree.write(f, new TextEncoder().encode("lost"), 4))
        assert.strictEqual(e.errno, errno)
        assert.strictEqual(e.code, code)
        assert.strictEqual(e.sysErr.errno, errno)
      }
      refuse.code = undefined
      assert.strictEqual(Fs.readFileSync(Path.join(root, "f"), "utf8"), "kept")
    }).pipe(Effect.provide(layer))
  })

  it.effect("a real host refusal is mapped too: a name longer than the host's NAME_MAX", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const tree = yield* HostTree.open(root)
      // 300 bytes: within NetBSD's NAME_MAX (511), past Linux's (255)
      const e = yield* Effect.flip(tree.mkdir(tree.root, "n".repeat(300), 0o755))
      assert.strictEqual(e.code, "ENAMETOOLONG")
      assert.strictEqual(e.errno, Errno.ENAMETOOLONG)
      assert.notStrictEqual(Errno.ENAMETOOLONG, Os.constants.errno.ENAMETOOLONG)
    }).pipe(Effect.provide(HostCalls.layer)))
})

describe("host tree: descriptors", () => {
  it.effect("a descriptor is closed only once the call using it ends; later uses are EBADF", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const fd = Fs.openSync(root, O_RDONLY)
      const closed: Array<number> = []
      const h = new HostFd(fd, "path", (n) => Effect.sync(() => {
        closed.push(n)
        Fs.closeSync(n)
      }))
      const gate = yield* Deferred.make<void>()
      const user = yield* Effect.forkChild(h.use("test", (n) => Effect.andThen(Deferred.await(gate), Effect.sync(() => Fs.fstatSync(n)))))
      yield* Effect.yieldNow
      assert.strictEqual(h.uses, 1)
      const closer = yield* Effect.forkChild(h.close)
      yield* Effect.yieldNow
      assert.deepStrictEqual(closed, [], "not closed while in use")
      assert.isFalse(h.isOpen)
      assert.strictEqual(yield* errnoOf(h.use("test", () => Effect.void)), Errno.EBADF)
      yield* Deferred.succeed(gate, undefined)
      assert.isTrue(Exit.isSuccess(yield* Fiber.await(user)), "the call ran on its own descriptor")
      yield* Fiber.join(closer)
      assert.deepStrictEqual(closed, [fd])
      yield* h.close
      assert.deepStrictEqual(closed, [fd], "closed once")
    }))

  it.effect("walks, lookups and listings leave no descriptor open behind them", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      Fs.mkdirSync(Path.join(root, "a", "b", "c"), { recursive: true })
      Fs.writeFileSync(Path.join(root, "a", "b", "c", "f"), "x")
      const tree = yield* HostTree.open(root)
      const before = openFds()
      for (let i = 0; i < 50; i++) {
        yield* Effect.scoped(Effect.gen(function*() {
          const c = yield* tree.walk(["a", "b", "c"])
          const f = yield* tree.reopen(yield* tree.lookup(c, "f"), O_RDONLY)
          yield* tree.read(f, 1, 0)
          const r = yield* tree.readdir(c)
          yield* r.next(10)
        }))
        // a walk refused halfway closes the steps it made
        yield* Effect.scoped(Effect.ignore(tree.walk(["a", "b", "missing", "d"])))
      }
      assert.strictEqual(openFds(), before)
    }).pipe(Effect.provide(HostCalls.layer)))

  it.live("opens interrupted halfway lose no descriptor", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      Fs.mkdirSync(Path.join(root, "a", "b"), { recursive: true })
      Fs.writeFileSync(Path.join(root, "a", "b", "f"), "x")
      const tree = yield* HostTree.open(root)
      const before = openFds()
      for (let round = 0; round < 5; round++) {
        const fiber = yield* Effect.forkChild(Effect.forEach(
          Array.from({ length: 400 }, (_, i) => i),
          () =>
            Effect.scoped(Effect.gen(function*() {
              const b = yield* tree.walk(["a", "b"])
              yield* tree.reopen(yield* tree.lookup(b, "f"), O_RDONLY)
            })),
          { concurrency: 32, discard: true }
        ))
        yield* Effect.sleep(`${2 + round} millis`)
        yield* Fiber.interrupt(fiber)
      }
      assert.strictEqual(openFds(), before)
    }).pipe(Effect.provide(HostCalls.layer)))
})
