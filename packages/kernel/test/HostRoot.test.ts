import { afterAll, assert, describe, it } from "@effect/vitest"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { Effect, Logger } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { type HostCallsService, nodeHostCalls } from "../src/vfs/host/HostCalls.ts"
import { hostError } from "../src/vfs/host/HostError.ts"
import { type Guest, makeGuest, O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY } from "./VfsGuest.ts"

const S_IFMT = 0o170000
const S_IFLNK = 0o120000
const S_IFCHR = 0o020000

const made: Array<string> = []
afterAll(() => {
  for (const base of made) Fs.rmSync(base, { recursive: true, force: true })
})

/** A fresh host directory `<tmp>/root` with a secret beside it (outside the root). */
const hostDir = () => {
  const base = Fs.mkdtempSync(Path.join(Os.tmpdir(), "sysproxy-hostroot-"))
  made.push(base)
  const root = Path.join(base, "root")
  Fs.mkdirSync(root)
  Fs.writeFileSync(Path.join(base, "secret"), "outside")
  return { base, root }
}

const names = (g: Guest, path: string) =>
  Effect.gen(function*() {
    const fd = yield* g.open(path, O_RDONLY)
    const b = g.buf(8192)
    const n = Number(yield* g.ok(SYS.__getdents30, fd, b, 8192))
    yield* g.close(fd)
    const bytes = g.bytes(b, n)
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    const out: Array<string> = []
    for (let at = 0; at < bytes.length;) {
      const reclen = v.getUint16(at + 8, true)
      const namlen = v.getUint16(at + 10, true)
      out.push(new TextDecoder().decode(bytes.subarray(at + 13, at + 13 + namlen)))
      if (reclen === 0) break
      at += reclen
    }
    return out.sort()
  })

const readlink = (g: Guest, path: string) =>
  Effect.gen(function*() {
    const b = g.buf(1024)
    const n = Number(yield* g.ok(SYS.readlink, g.str(path), b, 1024))
    return new TextDecoder().decode(g.bytes(b, n))
  })

describe("host root at /", () => {
  it.effect("create, write, read, stat, rename, unlink, mkdir, getdents, symlink, readlink reach the host", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const g = yield* makeGuest({ mounts: [{ hostPath: root, at: "/" }] })
      yield* g.writeFile("/a.txt", "hello host")
      assert.strictEqual(yield* g.readFile("/a.txt"), "hello host")
      assert.strictEqual((yield* g.stat("/a.txt")).size, 10n)
      assert.strictEqual(Fs.readFileSync(Path.join(root, "a.txt"), "utf8"), "hello host")

      yield* g.mkdir("/d", 0o750)
      assert.isTrue(Fs.statSync(Path.join(root, "d")).isDirectory())
      assert.strictEqual(Fs.statSync(Path.join(root, "d")).mode & 0o777, 0o750 & ~0o022)
      yield* g.ok(SYS.rename, g.str("/a.txt"), g.str("/d/b.txt"))
      assert.isFalse(Fs.existsSync(Path.join(root, "a.txt")))
      assert.strictEqual(Fs.readFileSync(Path.join(root, "d", "b.txt"), "utf8"), "hello host")

      yield* g.ok(SYS.symlink, g.str("d/b.txt"), g.str("/l"))
      assert.strictEqual(yield* readlink(g, "/l"), "d/b.txt")
      assert.strictEqual((yield* g.lstat("/l")).mode & S_IFMT, S_IFLNK)
      assert.strictEqual(Fs.readlinkSync(Path.join(root, "l")), "d/b.txt")
      assert.strictEqual(yield* g.readFile("/l"), "hello host")

      assert.deepStrictEqual(yield* names(g, "/"), [".", "..", "d", "dev", "l", "tmp"])
      assert.deepStrictEqual(yield* names(g, "/d"), [".", "..", "b.txt"])

      // appending in place, then unlink and rmdir
      const fd = yield* g.open("/d/b.txt", O_WRONLY | O_APPEND)
      yield* g.write(fd, "!")
      yield* g.ok(SYS.fsync, fd)
      yield* g.close(fd)
      assert.strictEqual(Fs.readFileSync(Path.join(root, "d", "b.txt"), "utf8"), "hello host!")
      yield* g.ok(SYS.unlink, g.str("/d/b.txt"))
      assert.isFalse(Fs.existsSync(Path.join(root, "d", "b.txt")))
      yield* g.ok(SYS.rmdir, g.str("/d"))
      assert.isFalse(Fs.existsSync(Path.join(root, "d")))
    }))

  it.effect("/dev keeps its devices, which never reach the host", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const g = yield* makeGuest({ mounts: [{ hostPath: root, at: "/" }] })
      assert.strictEqual((yield* g.stat("/dev/null")).mode & S_IFMT, S_IFCHR)
      const fd = yield* g.open("/dev/null", O_WRONLY)
      assert.strictEqual(yield* g.write(fd, "gone"), 4)
      yield* g.close(fd)
      assert.deepStrictEqual(Fs.readdirSync(Path.join(root, "dev")), [])
    }))

  it.effect("a file written by one kernel is read by the next on the same host directory", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const first = yield* makeGuest({ mounts: [{ hostPath: root, at: "/" }] })
      yield* first.mkdir("/keep")
      yield* first.writeFile("/keep/x", "survives")
      yield* first.ok(SYS.chmod, first.str("/keep/x"), 0o640)
      yield* first.ok(SYS.symlink, first.str("/keep/x"), first.str("/keep/link"))

      const second = yield* makeGuest({ mounts: [{ hostPath: root, at: "/" }] })
      assert.strictEqual(yield* second.readFile("/keep/x"), "survives")
      assert.strictEqual((yield* second.stat("/keep/x")).mode & 0o7777, 0o640)
      assert.strictEqual(yield* readlink(second, "/keep/link"), "/keep/x")
      assert.strictEqual(yield* second.readFile("/keep/link"), "survives")
      assert.deepStrictEqual(yield* names(second, "/keep"), [".", "..", "link", "x"])
    }))

  it.effect("directory renames, hard links, truncation and sparse files reach the host", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const g = yield* makeGuest({ mounts: [{ hostPath: root, at: "/" }] })
      yield* g.mkdir("/a")
      yield* g.mkdir("/a/b")
      yield* g.writeFile("/a/b/f", "0123456789")
      yield* g.ok(SYS.rename, g.str("/a"), g.str("/z"))
      assert.deepStrictEqual(Fs.readdirSync(root).sort(), [".sysproxy", "dev", "tmp", "z"])
      assert.strictEqual(Fs.readFileSync(Path.join(root, "z", "b", "f"), "utf8"), "0123456789")

      yield* g.ok(SYS.truncate, g.str("/z/b/f"), 0, 4)
      assert.strictEqual(Fs.readFileSync(Path.join(root, "z", "b", "f"), "utf8"), "0123")
      // a hard link is a host hard link: one inode, the kernel's st_ino is the host's
      yield* g.ok(SYS.link, g.str("/z/b/f"), g.str("/z/g"))
      assert.strictEqual(Fs.statSync(Path.join(root, "z", "g")).ino, Fs.statSync(Path.join(root, "z", "b", "f")).ino)
      assert.strictEqual(Fs.statSync(Path.join(root, "z", "g")).nlink, 2)
      assert.strictEqual((yield* g.stat("/z/g")).ino, BigInt(Fs.statSync(Path.join(root, "z", "g")).ino))
      assert.strictEqual((yield* g.stat("/z/b/f")).nlink, 2)
      const fd = yield* g.open("/z/g", O_WRONLY | O_APPEND)
      yield* g.write(fd, "45")
      yield* g.close(fd)
      assert.strictEqual(Fs.readFileSync(Path.join(root, "z", "b", "f"), "utf8"), "012345")
      assert.strictEqual(Fs.readFileSync(Path.join(root, "z", "g"), "utf8"), "012345")

      // growing by truncate leaves a hole, read back as zeros after a restart
      yield* g.ok(SYS.truncate, g.str("/z/g"), 0, 3 * 1024 * 1024)
      assert.strictEqual(Fs.statSync(Path.join(root, "z", "g")).size, 3 * 1024 * 1024)
      const again = yield* makeGuest({ mounts: [{ hostPath: root, at: "/" }] })
      const st = yield* again.stat("/z/g")
      assert.strictEqual(st.size, 3n * 1024n * 1024n)
      assert.isTrue(st.blocks < 100n, `sparse after reload: ${st.blocks} blocks`)
      assert.strictEqual((yield* again.readFile("/z/b/f")).slice(0, 6), "012345")
    }))

  it.effect("the host's own fifos are neither served nor removed", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const fifo = Path.join(root, "pipe")
      const made = yield* Effect.sync(() => {
        try {
          ChildProcess.execFileSync("mkfifo", [fifo])
          return true
        } catch {
          return false
        }
      })
      if (!made) return
      const g = yield* makeGuest({ mounts: [{ hostPath: root, at: "/" }] })
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("/pipe"), O_RDONLY, 0)
      yield* g.writeFile("/other", "x")
      assert.notInclude(yield* names(g, "/"), "pipe")
      yield* g.ok(SYS.unlink, g.str("/other"))
      assert.isTrue(Fs.lstatSync(fifo).isFIFO())
    }))

  it.effect("no path or symlink reaches outside the host directory", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      Fs.symlinkSync("/etc/passwd", Path.join(root, "abs"))
      Fs.symlinkSync("../../..", Path.join(root, "up"))
      Fs.symlinkSync("../secret", Path.join(root, "sibling"))
      const g = yield* makeGuest({ mounts: [{ hostPath: root, at: "/" }] })
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("../../etc/passwd"), O_RDONLY, 0)
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("/../secret"), O_RDONLY, 0)
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("/abs"), O_RDONLY, 0)
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("/sibling"), O_RDONLY, 0)
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("/up/secret"), O_RDONLY, 0)
      assert.deepStrictEqual(yield* names(g, "/up"), yield* names(g, "/"))
      // an absolute target means the host root's own /etc/passwd
      yield* g.mkdir("/etc")
      yield* g.writeFile("/etc/passwd", "in the root")
      assert.strictEqual(yield* g.readFile("/abs"), "in the root")
      // a client's symlink out is written to the host as a link, never followed there
      yield* g.ok(SYS.symlink, g.str("../secret"), g.str("/mine"))
      assert.strictEqual(Fs.readlinkSync(Path.join(root, "mine")), "../secret")
      // writing through it creates /secret inside the root ("../" at the root is the root)
      const fd = yield* g.open("/mine", O_WRONLY | O_CREAT, 0o644)
      yield* g.write(fd, "overwritten?")
      yield* g.close(fd)
      assert.strictEqual(Fs.readFileSync(Path.join(root, "..", "secret"), "utf8"), "outside")
      assert.strictEqual(Fs.readFileSync(Path.join(root, "secret"), "utf8"), "overwritten?")
    }))
})

describe("host directory mounted at /host", () => {
  it.effect("lives beside the tmpfs root, persists, and stays a file system of its own", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      Fs.writeFileSync(Path.join(root, "old"), "from before")
      const g = yield* makeGuest({ mounts: [{ hostPath: root, at: "/host" }] })
      assert.strictEqual(yield* g.readFile("/host/old"), "from before")
      yield* g.writeFile("/host/new", "kept")
      yield* g.writeFile("/tmp/scratch", "not kept")
      assert.strictEqual(Fs.readFileSync(Path.join(root, "new"), "utf8"), "kept")
      assert.deepStrictEqual(Fs.readdirSync(root).sort(), [".sysproxy", "new", "old"])
      assert.notStrictEqual((yield* g.stat("/host")).dev, (yield* g.stat("/")).dev)
      yield* g.fails(Errno.EXDEV, SYS.rename, g.str("/tmp/scratch"), g.str("/host/scratch"))
      assert.strictEqual((yield* g.stat("/dev/null")).mode & S_IFMT, S_IFCHR)
      // ".." from the mount leads to the tmpfs root, not to the host's parent
      assert.strictEqual(yield* g.readFile("/host/../tmp/scratch"), "not kept")
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("/host/../secret"), O_RDONLY, 0)

      const again = yield* makeGuest({ mounts: [{ hostPath: root, at: "/host/" }] })
      assert.strictEqual(yield* again.readFile("/host/new"), "kept")
      yield* again.fails(Errno.ENOENT, SYS.open, again.str("/tmp/scratch"), O_RDONLY, 0)
    }))
})

describe("host root: names are bytes on both sides", () => {
  const bytesPath = (root: string, name: ReadonlyArray<number>) => Buffer.concat([Buffer.from(root + "/"), Buffer.from(name)])
  const E_ACUTE_UTF8 = [0xc3, 0xa9]

  it.effect("a host name that is not UTF-8 and a UTF-8 one open by their bytes; a client's bytes reach the host as they are", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      Fs.writeFileSync(bytesPath(root, [0xff, 0x66]), "not utf-8")
      Fs.writeFileSync(bytesPath(root, [...E_ACUTE_UTF8, 0x2e, 0x74]), "utf-8")
      const g = yield* makeGuest({ mounts: [{ hostPath: root, at: "/" }] })
      const path = (bytes: ReadonlyArray<number>) => g.mem.alloc(new Uint8Array([...bytes, 0]))
      const readBytes = (bytes: ReadonlyArray<number>) =>
        Effect.gen(function*() {
          const fd = Number(yield* g.ok(SYS.open, path(bytes), O_RDONLY, 0))
          const data = new TextDecoder().decode(yield* g.read(fd, 100))
          yield* g.close(fd)
          return data
        })
      assert.strictEqual(yield* readBytes([0x2f, 0xff, 0x66]), "not utf-8")
      assert.strictEqual(yield* readBytes([0x2f, ...E_ACUTE_UTF8, 0x2e, 0x74]), "utf-8")

      // é in latin1 (one byte, not UTF-8) and a symlink whose target is not UTF-8
      const fd = Number(yield* g.ok(SYS.open, path([0x2f, 0xe9, 0x2e, 0x78]), O_WRONLY | O_CREAT, 0o644))
      yield* g.write(fd, "latin1")
      yield* g.close(fd)
      yield* g.ok(SYS.symlink, path([0xfe, 0x2f, 0x61]), path([0x2f, 0x6c]))
      const onHost = Fs.readdirSync(root, { encoding: "buffer" }).map((b) => [...b])
      assert.deepInclude(onHost, [0xe9, 0x2e, 0x78])
      assert.deepInclude(onHost, [0xff, 0x66])
      assert.deepInclude(onHost, [...E_ACUTE_UTF8, 0x2e, 0x74])
      assert.strictEqual(Fs.readFileSync(bytesPath(root, [0xe9, 0x2e, 0x78]), "utf8"), "latin1")
      assert.deepStrictEqual([...Fs.readlinkSync(Path.join(root, "l"), { encoding: "buffer" })], [0xfe, 0x2f, 0x61])

      const again = yield* makeGuest({ mounts: [{ hostPath: root, at: "/" }] })
      const b = again.buf(16)
      const n = Number(yield* again.ok(SYS.readlink, again.str("/l"), b, 16))
      assert.deepStrictEqual([...again.bytes(b, n)], [0xfe, 0x2f, 0x61])
      const fd2 = Number(yield* again.ok(SYS.open, again.mem.alloc(new Uint8Array([0x2f, 0xe9, 0x2e, 0x78, 0])), O_RDONLY, 0))
      assert.strictEqual(new TextDecoder().decode(yield* again.read(fd2, 100)), "latin1")
    }))
})

describe("host root: symlinks are moved, never followed", () => {
  it.effect("renaming a client's symlink, and a directory holding some, moves the links inside the root", () =>
    Effect.gen(function*() {
      const { base, root } = hostDir()
      Fs.mkdirSync(Path.join(base, "outside"))
      const g = yield* makeGuest({ mounts: [{ hostPath: root, at: "/" }] })
      yield* g.ok(SYS.symlink, g.str("../outside"), g.str("/l"))
      yield* g.ok(SYS.rename, g.str("/l"), g.str("/m"))
      assert.strictEqual(Fs.readlinkSync(Path.join(root, "m")), "../outside")
      assert.isFalse(Fs.existsSync(Path.join(root, "l")))

      yield* g.mkdir("/d")
      yield* g.ok(SYS.symlink, g.str("../../outside"), g.str("/d/up"))
      yield* g.ok(SYS.symlink, g.str("/etc"), g.str("/d/abs"))
      yield* g.ok(SYS.rename, g.str("/m"), g.str("/d/m"))
      yield* g.ok(SYS.rename, g.str("/d"), g.str("/e"))
      assert.deepStrictEqual(Fs.readdirSync(Path.join(root, "e")).sort(), ["abs", "m", "up"])
      for (const name of ["abs", "m", "up"]) assert.isTrue(Fs.lstatSync(Path.join(root, "e", name)).isSymbolicLink(), name)
      // writing through one lands inside the root ("../" at the root is the root)
      yield* g.mkdir("/outside")
      yield* g.writeFile("/e/up/x", "inside")
      assert.strictEqual(Fs.readFileSync(Path.join(root, "outside", "x"), "utf8"), "inside")
      assert.deepStrictEqual(Fs.readdirSync(Path.join(base, "outside")), [])
      assert.deepStrictEqual(Fs.readdirSync(base).sort(), ["outside", "root", "secret"])
    }))

  it.effect("a host directory swapped for a symlink behind the server's back is read as a symlink, never followed by the host", () =>
    Effect.gen(function*() {
      const { base, root } = hostDir()
      const outside = Path.join(base, "outside")
      Fs.mkdirSync(outside)
      const g = yield* makeGuest({ mounts: [{ hostPath: root, at: "/" }] })
      yield* g.mkdir("/d")
      yield* g.writeFile("/d/f", "before")
      const fd = yield* g.open("/d/f", O_WRONLY | O_APPEND)
      // another host process replaces the directory with a symlink leading out of the root
      Fs.renameSync(Path.join(root, "d"), Path.join(base, "moved-away"))
      Fs.symlinkSync(outside, Path.join(root, "d"))
      // the file open before is the file it was (its own descriptor), wherever it went
      yield* g.write(fd, " and after")
      yield* g.ok(SYS.fsync, fd)
      yield* g.close(fd)
      assert.strictEqual(Fs.readFileSync(Path.join(base, "moved-away", "f"), "utf8"), "before and after")
      // the name is a symlink now: the kernel resolves its target in its own namespace, where there is no such path
      assert.strictEqual((yield* g.lstat("/d")).mode & S_IFMT, S_IFLNK)
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("/d/g"), O_WRONLY | O_CREAT, 0o644)
      yield* g.fails(Errno.ENOENT, SYS.chmod, g.str("/d"), 0o700)
      assert.deepStrictEqual(Fs.readdirSync(outside), [], "nothing written through the symlink")
      assert.strictEqual(Fs.statSync(outside).mode & 0o777, 0o755 & ~process.umask())
    }))
})
