import { afterAll, assert, describe, it } from "@effect/vitest"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { Effect, Logger } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { type HostFs, MAX_ATTEMPTS } from "../src/vfs/host/HostMirror.ts"
import { type Guest, makeGuest, O_APPEND, O_CREAT, O_RDONLY, O_WRONLY } from "./VfsGuest.ts"

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
      const g = yield* makeGuest({ root: { hostPath: root } })
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
      const g = yield* makeGuest({ root: { hostPath: root } })
      assert.strictEqual((yield* g.stat("/dev/null")).mode & S_IFMT, S_IFCHR)
      const fd = yield* g.open("/dev/null", O_WRONLY)
      assert.strictEqual(yield* g.write(fd, "gone"), 4)
      yield* g.close(fd)
      assert.deepStrictEqual(Fs.readdirSync(Path.join(root, "dev")), [])
    }))

  it.effect("a file written by one kernel is read by the next on the same host directory", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const first = yield* makeGuest({ root: { hostPath: root } })
      yield* first.mkdir("/keep")
      yield* first.writeFile("/keep/x", "survives")
      yield* first.ok(SYS.chmod, first.str("/keep/x"), 0o640)
      yield* first.ok(SYS.symlink, first.str("/keep/x"), first.str("/keep/link"))

      const second = yield* makeGuest({ root: { hostPath: root } })
      assert.strictEqual(yield* second.readFile("/keep/x"), "survives")
      assert.strictEqual((yield* second.stat("/keep/x")).mode & 0o7777, 0o640)
      assert.strictEqual(yield* readlink(second, "/keep/link"), "/keep/x")
      assert.strictEqual(yield* second.readFile("/keep/link"), "survives")
      assert.deepStrictEqual(yield* names(second, "/keep"), [".", "..", "link", "x"])
    }))

  it.effect("directory renames, hard links, truncation and sparse files are written back", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const g = yield* makeGuest({ root: { hostPath: root } })
      yield* g.mkdir("/a")
      yield* g.mkdir("/a/b")
      yield* g.writeFile("/a/b/f", "0123456789")
      yield* g.ok(SYS.rename, g.str("/a"), g.str("/z"))
      assert.deepStrictEqual(Fs.readdirSync(root).sort(), ["dev", "tmp", "z"])
      assert.strictEqual(Fs.readFileSync(Path.join(root, "z", "b", "f"), "utf8"), "0123456789")

      yield* g.ok(SYS.truncate, g.str("/z/b/f"), 0, 4)
      assert.strictEqual(Fs.readFileSync(Path.join(root, "z", "b", "f"), "utf8"), "0123")
      // a hard link is kept as a second host file (a copy), both kept up to date
      yield* g.ok(SYS.link, g.str("/z/b/f"), g.str("/z/g"))
      const fd = yield* g.open("/z/g", O_WRONLY | O_APPEND)
      yield* g.write(fd, "45")
      yield* g.close(fd)
      assert.strictEqual(Fs.readFileSync(Path.join(root, "z", "b", "f"), "utf8"), "012345")
      assert.strictEqual(Fs.readFileSync(Path.join(root, "z", "g"), "utf8"), "012345")

      // growing by truncate leaves a hole, read back as zeros after a restart
      yield* g.ok(SYS.truncate, g.str("/z/g"), 0, 3 * 1024 * 1024)
      assert.strictEqual(Fs.statSync(Path.join(root, "z", "g")).size, 3 * 1024 * 1024)
      const again = yield* makeGuest({ root: { hostPath: root } })
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
      const g = yield* makeGuest({ root: { hostPath: root } })
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("/pipe"), O_RDONLY, 0)
      yield* g.writeFile("/other", "x") // the root changes: it is reconciled with the host
      assert.isTrue(Fs.lstatSync(fifo).isFIFO())
    }))

  it.effect("no path or symlink reaches outside the host directory", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      Fs.symlinkSync("/etc/passwd", Path.join(root, "abs"))
      Fs.symlinkSync("../../..", Path.join(root, "up"))
      Fs.symlinkSync("../secret", Path.join(root, "sibling"))
      const g = yield* makeGuest({ root: { hostPath: root } })
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

/** A host tree of `dirs` directories of `files` files each, plus a chain of `deep` nested directories with a file at the bottom. */
const bigTree = (root: string, dirs: number, files: number, deep: number) => {
  for (let d = 0; d < dirs; d++) {
    Fs.mkdirSync(Path.join(root, `d${d}`))
    for (let f = 0; f < files; f++) Fs.writeFileSync(Path.join(root, `d${d}`, `f${f}`), `file ${d}/${f}`)
  }
  const chain = Array.from({ length: deep }, (_, i) => `level${i}`)
  Fs.mkdirSync(Path.join(root, ...chain), { recursive: true })
  Fs.writeFileSync(Path.join(root, ...chain, "bottom"), "before")
  return "/" + chain.join("/") + "/bottom"
}

/** ino and ctime of every host file under `dir`: a file rewritten (or replaced) shows a new ctime. */
const hostFiles = (dir: string): Map<string, string> => {
  const out = new Map<string, string>()
  for (const entry of Fs.readdirSync(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile()) continue
    const path = Path.join(entry.parentPath, entry.name)
    const st = Fs.statSync(path, { bigint: true })
    out.set(Path.relative(dir, path), `${st.ino}:${st.ctimeNs}`)
  }
  return out
}

const mirrorOf = (g: Guest) => {
  const host = g.kernel.kernel.state.vfs.host
  assert.isDefined(host)
  return host as NonNullable<typeof host>
}

describe("host root: only what changed is written back", () => {
  it.effect("a change deep in a big tree writes that file alone; every other host file stays as it was", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const bottom = bigTree(root, 40, 25, 12)
      const g = yield* makeGuest({ root: { hostPath: root } })
      yield* g.stat("/d0/f0") // the first flush puts /dev and /tmp on the host
      const before = hostFiles(root)
      const stats = { ...mirrorOf(g).stats }

      const fd = yield* g.open(bottom, O_WRONLY)
      yield* g.write(fd, "after!")
      yield* g.close(fd)
      assert.strictEqual(Fs.readFileSync(Path.join(root, bottom), "utf8"), "after!")
      assert.deepStrictEqual(mirrorOf(g).stats, { ...stats, written: stats.written + 1 }, "one file written, no directory looked at")

      const after = hostFiles(root)
      assert.strictEqual(after.size, 40 * 25 + 1)
      const rewritten = [...after].filter(([path, id]) => before.get(path) !== id).map(([path]) => path)
      assert.deepStrictEqual(rewritten, [bottom.slice(1)])
      // reading changes nothing on the host
      assert.strictEqual(yield* g.readFile("/d7/f3"), "file 7/3")
      assert.deepStrictEqual(hostFiles(root), after)
    }))

  it.effect("a new file costs its directory, not the tree; a renamed directory is moved on the host, not copied", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      bigTree(root, 20, 25, 1)
      const g = yield* makeGuest({ root: { hostPath: root } })
      yield* g.stat("/d0/f0")
      const mirror = mirrorOf(g)
      const s0 = { ...mirror.stats }
      yield* g.writeFile("/d3/new", "fresh")
      assert.strictEqual(Fs.readFileSync(Path.join(root, "d3", "new"), "utf8"), "fresh")
      assert.strictEqual(mirror.stats.reconciled - s0.reconciled, 1, "only /d3 was reconciled")

      const before = hostFiles(Path.join(root, "d5"))
      const s1 = { ...mirror.stats }
      yield* g.ok(SYS.rename, g.str("/d5"), g.str("/level0/moved"))
      assert.isFalse(Fs.existsSync(Path.join(root, "d5")))
      assert.deepStrictEqual(hostFiles(Path.join(root, "level0", "moved")), before, "the same host files, by inode")
      assert.strictEqual(mirror.stats.moved - s1.moved, 1)
      assert.strictEqual(mirror.stats.written - s1.written, 0)
      // a file renamed across directories, onto an existing name: moved too
      const ino = Fs.statSync(Path.join(root, "d6", "f1")).ino
      yield* g.ok(SYS.rename, g.str("/d6/f1"), g.str("/d7/f2"))
      assert.strictEqual(Fs.statSync(Path.join(root, "d7", "f2")).ino, ino)
      assert.strictEqual(Fs.readFileSync(Path.join(root, "d7", "f2"), "utf8"), "file 6/1")
      assert.isFalse(Fs.existsSync(Path.join(root, "d6", "f1")))
      // and what moved is still written back where it is now
      yield* g.writeFile("/level0/moved/f4", "changed after the move")
      assert.strictEqual(Fs.readFileSync(Path.join(root, "level0", "moved", "f4"), "utf8"), "changed after the move")

      const again = yield* makeGuest({ root: { hostPath: root } })
      assert.strictEqual(yield* again.readFile("/level0/moved/f0"), "file 5/0")
      assert.strictEqual(yield* again.readFile("/level0/moved/f4"), "changed after the move")
      assert.strictEqual(yield* again.readFile("/d7/f2"), "file 6/1")
      assert.strictEqual(yield* again.readFile("/d3/new"), "fresh")
      yield* again.fails(Errno.ENOENT, SYS.open, again.str("/d5/f0"), O_RDONLY, 0)
    }))
})

describe("host directory mounted at /host", () => {
  it.effect("lives beside the tmpfs root, persists, and stays a file system of its own", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      Fs.writeFileSync(Path.join(root, "old"), "from before")
      const g = yield* makeGuest({ root: { hostPath: root, mountAt: "/host" } })
      assert.strictEqual(yield* g.readFile("/host/old"), "from before")
      yield* g.writeFile("/host/new", "kept")
      yield* g.writeFile("/tmp/scratch", "not kept")
      assert.strictEqual(Fs.readFileSync(Path.join(root, "new"), "utf8"), "kept")
      assert.deepStrictEqual(Fs.readdirSync(root).sort(), ["new", "old"])
      assert.notStrictEqual((yield* g.stat("/host")).dev, (yield* g.stat("/")).dev)
      yield* g.fails(Errno.EXDEV, SYS.rename, g.str("/tmp/scratch"), g.str("/host/scratch"))
      assert.strictEqual((yield* g.stat("/dev/null")).mode & S_IFMT, S_IFCHR)
      // ".." from the mount leads to the tmpfs root, not to the host's parent
      assert.strictEqual(yield* g.readFile("/host/../tmp/scratch"), "not kept")
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("/host/../secret"), O_RDONLY, 0)

      const again = yield* makeGuest({ root: { hostPath: root, mountAt: "/host/" } })
      assert.strictEqual(yield* again.readFile("/host/new"), "kept")
      yield* again.fails(Errno.ENOENT, SYS.open, again.str("/tmp/scratch"), O_RDONLY, 0)
    }))
})

/** node:fs with every write counted, and writes failing with ENOSPC while `full`. */
const countingFs = () => {
  const seen = { bytes: 0, writes: 0, refused: 0, full: false }
  const writeSync = (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => {
    seen.writes++
    if (seen.full) {
      seen.refused++
      throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" })
    }
    seen.bytes += length
    return Fs.writeSync(fd, buffer, offset, length, position)
  }
  const fs: HostFs = { ...Fs, writeSync: writeSync as typeof Fs.writeSync }
  return { fs, seen }
}

/** The messages logged while `effect` runs. */
const logsOf = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const lines: Array<{ readonly level: string; readonly text: string }> = []
    const collector = Logger.make((o) => {
      lines.push({ level: o.logLevel, text: Array.isArray(o.message) ? o.message.map(String).join(" ") : String(o.message) })
    })
    const result = yield* effect.pipe(Effect.provide(Logger.layer([collector])))
    return { result, lines }
  })

const PAGE = 4096

describe("host root: a change is written back in place, a failure keeps the old copy", () => {
  it.effect("appending to a large file writes the new part alone, into the same host file", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const { fs, seen } = countingFs()
      const g = yield* makeGuest({ root: { hostPath: root, fs } })
      const host = Path.join(root, "big")
      const first = new Uint8Array(1 << 20).fill(0x61)
      yield* g.writeFile("/big", first)
      const ino = Fs.statSync(host).ino
      const fd = yield* g.open("/big", O_WRONLY | O_APPEND)
      const expected = [Buffer.from(first)]
      for (let i = 0; i < 8; i++) {
        const chunk = new Uint8Array(65536).fill(0x30 + i)
        const before = seen.bytes
        assert.strictEqual(yield* g.write(fd, chunk), 65536)
        assert.strictEqual(seen.bytes - before, 65536, `append ${i}: only the appended bytes go to the host`)
        expected.push(Buffer.from(chunk))
      }
      assert.strictEqual(Fs.statSync(host).ino, ino, "the same host file, changed in place")
      assert.isTrue(Fs.readFileSync(host).equals(Buffer.concat(expected)))

      yield* g.close(fd)
      // a write in the middle goes out as the page it touched; a shrink as an ftruncate
      const rw = yield* g.open("/big", O_WRONLY)
      const before = seen.bytes
      yield* g.ok(SYS.pwrite, rw, g.str("0123456789"), 10, 0, 5000)
      assert.strictEqual(seen.bytes - before, PAGE)
      yield* g.ok(SYS.ftruncate, rw, 0, 100_000)
      assert.strictEqual(seen.bytes - before, PAGE)
      yield* g.close(rw)
      const now = Fs.readFileSync(host)
      assert.strictEqual(now.length, 100_000)
      assert.strictEqual(now.subarray(4990, 5020).toString(), "a".repeat(10) + "0123456789" + "a".repeat(10))
      assert.strictEqual(Fs.statSync(host).ino, ino)
      // and it is what the next kernel reads
      const again = yield* makeGuest({ root: { hostPath: root } })
      assert.strictEqual((yield* again.stat("/big")).size, 100_000n)
    }))

  it.effect("a failed write-back leaves the previous host copy, fsync answers EIO, it is logged once and retried a few times only", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const { fs, seen } = countingFs()
      const host = Path.join(root, "f")
      const { lines } = yield* logsOf(Effect.gen(function*() {
        const g = yield* makeGuest({ root: { hostPath: root, fs } })
        const old = "old content ".repeat(1000)
        yield* g.writeFile("/f", old)
        const ino = Fs.statSync(host).ino
        const fd = yield* g.open("/f", O_WRONLY | O_APPEND)

        seen.full = true
        assert.strictEqual(yield* g.write(fd, "new"), 3, "the client's write is in memory")
        assert.strictEqual(Fs.readFileSync(host, "utf8"), old, "the host copy is as it was")
        for (let i = 0; i < 10; i++) yield* g.stat("/")
        assert.strictEqual(seen.refused, MAX_ATTEMPTS, "retried a few times, not at every syscall")
        // the retries write it whole (to a temporary file): still the old copy, and nothing left beside it
        assert.strictEqual(Fs.readFileSync(host, "utf8"), old)
        assert.strictEqual(Fs.statSync(host).ino, ino)
        assert.deepStrictEqual(Fs.readdirSync(root).sort(), ["dev", "f", "tmp"])
        yield* g.fails(Errno.EIO, SYS.fsync, fd)
        assert.strictEqual(seen.refused, MAX_ATTEMPTS + 1, "fsync tries once more")
        yield* g.fails(Errno.EIO, SYS.fdatasync, fd)
        assert.strictEqual(yield* g.readFile("/f"), old + "new")

        seen.full = false
        yield* g.write(fd, "!")
        assert.strictEqual(Fs.readFileSync(host, "utf8"), old + "new!")
        yield* g.ok(SYS.fsync, fd)
        yield* g.close(fd)
      }))
      const errors = lines.filter((l) => l.level === "Error")
      assert.strictEqual(errors.length, 1, errors.map((l) => l.text).join("\n"))
      assert.match(errors[0]?.text ?? "", /host write-back of .*\/f failed.*ENOSPC/)
      assert.isTrue(lines.some((l) => l.level === "Info" && /host write-back of .*\/f works again/.test(l.text)))
    }))

  it.effect("a new file is written whole beside its name and renamed over it: a failure keeps what the name held", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const { fs, seen } = countingFs()
      const g = yield* makeGuest({ root: { hostPath: root, fs } })
      yield* g.writeFile("/kept", "the old file")
      yield* g.writeFile("/new", "a new file")
      seen.full = true
      // the new file takes the old one's name: its host copy must be written whole
      yield* g.ok(SYS.link, g.str("/new"), g.str("/other"))
      yield* g.ok(SYS.rename, g.str("/other"), g.str("/kept"))
      assert.strictEqual(Fs.readFileSync(Path.join(root, "kept"), "utf8"), "the old file")
      assert.deepStrictEqual(Fs.readdirSync(root).sort(), ["dev", "kept", "new", "tmp"])
      seen.full = false
      yield* g.ok(SYS.chmod, g.str("/kept"), 0o600)
      assert.strictEqual(Fs.readFileSync(Path.join(root, "kept"), "utf8"), "a new file")
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
      const g = yield* makeGuest({ root: { hostPath: root } })
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

      const again = yield* makeGuest({ root: { hostPath: root } })
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
      const g = yield* makeGuest({ root: { hostPath: root } })
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

  it.effect("a host directory swapped for a symlink behind the server's back is refused, not followed", () =>
    Effect.gen(function*() {
      const { base, root } = hostDir()
      const outside = Path.join(base, "outside")
      Fs.mkdirSync(outside)
      const g = yield* makeGuest({ root: { hostPath: root } })
      yield* g.mkdir("/d")
      yield* g.writeFile("/d/f", "before")
      // another host process replaces the directory with a symlink leading out of the root
      Fs.renameSync(Path.join(root, "d"), Path.join(base, "moved-away"))
      Fs.symlinkSync(outside, Path.join(root, "d"))
      const fd = yield* g.open("/d/f", O_WRONLY | O_APPEND)
      yield* g.write(fd, " and after")
      yield* g.fails(Errno.EIO, SYS.fsync, fd)
      yield* g.close(fd)
      yield* g.writeFile("/d/g", "new")
      yield* g.ok(SYS.chmod, g.str("/d"), 0o700)
      assert.deepStrictEqual(Fs.readdirSync(outside), [], "nothing written through the symlink")
      assert.strictEqual(Fs.statSync(outside).mode & 0o777, 0o755 & ~process.umask())
    }))
})
