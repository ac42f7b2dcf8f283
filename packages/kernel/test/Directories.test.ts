import { assert, describe, it } from "@effect/vitest"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { AT_FDCWD, type Guest, makeGuest, O_RDONLY, O_RDWR, O_WRONLY } from "./VfsGuest.ts"

const S_IFDIR = 0o040000
const AT_REMOVEDIR = 0x800
const DT_CHR = 2
const DT_DIR = 4
const DT_REG = 8
const DT_LNK = 10

interface Dirent {
  readonly fileno: bigint
  readonly reclen: number
  readonly namlen: number
  readonly type: number
  readonly name: string
  /** The bytes after the name: its NUL and the padding. */
  readonly tail: ReadonlyArray<number>
}

/** Decodes getdents records by hand: d_fileno u64 @0, d_reclen u16 @8, d_namlen u16 @10, d_type u8 @12, d_name @13. */
const decodeDirents = (bytes: Uint8Array): Array<Dirent> => {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out: Array<Dirent> = []
  for (let at = 0; at < bytes.length;) {
    const reclen = v.getUint16(at + 8, true)
    const namlen = v.getUint16(at + 10, true)
    out.push({
      fileno: v.getBigUint64(at, true),
      reclen,
      namlen,
      type: v.getUint8(at + 12),
      name: new TextDecoder().decode(bytes.subarray(at + 13, at + 13 + namlen)),
      tail: [...bytes.subarray(at + 13 + namlen, at + reclen)]
    })
    if (reclen === 0) break
    at += reclen
  }
  return out
}

const getdents = (g: Guest, fd: number, size: number) =>
  Effect.gen(function*() {
    const b = g.buf(size)
    const n = Number(yield* g.ok(SYS.__getdents30, fd, b, size))
    return decodeDirents(g.bytes(b, n))
  })

const cwdOf = (g: Guest) =>
  Effect.gen(function*() {
    const b = g.buf(1024)
    yield* g.ok(SYS.__getcwd, b, 1024)
    return g.mem.readString(b, 1024)
  })

describe("mkdir", () => {
  it.effect("mkdir and mkdirat make a directory with mode & 0777 & ~umask", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.ok(SYS.mkdir, g.str("/tmp/d"), 0o1777)
      const st = yield* g.stat("/tmp/d")
      assert.strictEqual(st.mode, S_IFDIR | 0o755)
      assert.strictEqual(st.nlink, 2)
      assert.strictEqual(st.size, 0n)
      const dir = yield* g.open("/tmp/d", O_RDONLY)
      yield* g.ok(SYS.mkdirat, dir, g.str("sub/"), 0o700)
      assert.strictEqual((yield* g.stat("/tmp/d/sub")).mode, S_IFDIR | 0o700)
      assert.strictEqual((yield* g.stat("/tmp/d")).nlink, 3)
    }))

  it.effect("EEXIST for any existing name (a dangling symlink too), ENOENT without a parent", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.symlink, g.str("nothing"), g.str("/tmp/l"))
      yield* g.fails(Errno.EEXIST, SYS.mkdir, g.str("/tmp"), 0o755)
      yield* g.fails(Errno.EEXIST, SYS.mkdir, g.str("/tmp/f"), 0o755)
      yield* g.fails(Errno.EEXIST, SYS.mkdir, g.str("/tmp/l"), 0o755)
      yield* g.fails(Errno.EEXIST, SYS.mkdir, g.str("/tmp/."), 0o755)
      yield* g.fails(Errno.EEXIST, SYS.mkdir, g.str("/"), 0o755)
      yield* g.fails(Errno.ENOENT, SYS.mkdir, g.str("/none/d"), 0o755)
      yield* g.fails(Errno.ENOTDIR, SYS.mkdir, g.str("/tmp/f/d"), 0o755)
    }))
})

describe("rmdir and unlinkat", () => {
  it.effect("rmdir removes an empty directory; ENOTDIR for a file, ENOTEMPTY, ENOENT, EINVAL for `.`", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/tmp/d")
      yield* g.mkdir("/tmp/d/e")
      yield* g.writeFile("/tmp/f", "x")
      yield* g.fails(Errno.ENOTDIR, SYS.rmdir, g.str("/tmp/f"))
      yield* g.fails(Errno.ENOTEMPTY, SYS.rmdir, g.str("/tmp/d"))
      yield* g.fails(Errno.ENOENT, SYS.rmdir, g.str("/tmp/none"))
      yield* g.fails(Errno.EINVAL, SYS.rmdir, g.str("/tmp/d/e/."))
      yield* g.fails(Errno.ENOTEMPTY, SYS.rmdir, g.str("/tmp/d/e/.."))
      yield* g.ok(SYS.rmdir, g.str("/tmp/d/e"))
      assert.strictEqual((yield* g.stat("/tmp/d")).nlink, 2)
      yield* g.ok(SYS.rmdir, g.str("/tmp/d/"))
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str("/tmp/d"), g.buf(152))
    }))

  it.effect("unlinkat: AT_REMOVEDIR for directories, EPERM without it, ENOTDIR with it on a file, EINVAL for other flags", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/tmp/d")
      yield* g.writeFile("/tmp/f", "x")
      const tmp = yield* g.open("/tmp", O_RDONLY)
      yield* g.fails(Errno.EPERM, SYS.unlinkat, tmp, g.str("d"), 0)
      yield* g.fails(Errno.ENOTDIR, SYS.unlinkat, tmp, g.str("f"), AT_REMOVEDIR)
      yield* g.fails(Errno.EINVAL, SYS.unlinkat, tmp, g.str("f"), 0x200)
      yield* g.ok(SYS.unlinkat, tmp, g.str("d"), AT_REMOVEDIR)
      yield* g.ok(SYS.unlinkat, AT_FDCWD, g.str("/tmp/f"), 0)
      assert.deepStrictEqual((yield* getdents(g, tmp, 4096)).map((d) => d.name), [".", ".."])
    }))

  it.effect("a removed cwd: nothing can be made in it and getcwd is ENOENT", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/tmp/d")
      yield* g.ok(SYS.chdir, g.str("/tmp/d"))
      yield* g.ok(SYS.rmdir, g.str("/tmp/d"))
      yield* g.fails(Errno.ENOENT, SYS.mkdir, g.str("x"), 0o755)
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("f"), O_RDWR | 0x200, 0o644)
      yield* g.fails(Errno.ENOENT, SYS.__getcwd, g.buf(64), 64)
      assert.strictEqual((yield* g.stat(".")).nlink, 0)
    }))
})

describe("rename", () => {
  it.effect("moves a file, replacing a file; an open descriptor follows the node", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/a", "A")
      yield* g.writeFile("/tmp/b", "B")
      const ino = (yield* g.stat("/tmp/a")).ino
      const fd = yield* g.open("/tmp/a", O_RDONLY)
      yield* g.ok(SYS.rename, g.str("/tmp/a"), g.str("/tmp/b"))
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str("/tmp/a"), g.buf(152))
      assert.strictEqual((yield* g.stat("/tmp/b")).ino, ino)
      assert.strictEqual(yield* g.readFile("/tmp/b"), "A")
      assert.strictEqual(new TextDecoder().decode(yield* g.read(fd, 4)), "A")
      yield* g.fails(Errno.ENOENT, SYS.rename, g.str("/tmp/a"), g.str("/tmp/c"))
    }))

  it.effect("EISDIR file over directory, ENOTDIR directory over file, ENOTEMPTY, EINVAL into its own subtree", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.mkdir("/tmp/d")
      yield* g.mkdir("/tmp/d/sub")
      yield* g.mkdir("/tmp/full")
      yield* g.writeFile("/tmp/full/x", "x")
      yield* g.fails(Errno.EISDIR, SYS.rename, g.str("/tmp/f"), g.str("/tmp/d"))
      yield* g.fails(Errno.ENOTDIR, SYS.rename, g.str("/tmp/d"), g.str("/tmp/f"))
      yield* g.fails(Errno.ENOTEMPTY, SYS.rename, g.str("/tmp/d"), g.str("/tmp/full"))
      yield* g.fails(Errno.EINVAL, SYS.rename, g.str("/tmp/d"), g.str("/tmp/d/sub/moved"))
      yield* g.fails(Errno.EINVAL, SYS.rename, g.str("/tmp/d"), g.str("/tmp/d/inside"))
      yield* g.fails(Errno.EINVAL, SYS.rename, g.str("/tmp/d/sub/."), g.str("/tmp/x"))
      yield* g.fails(Errno.ENOTDIR, SYS.rename, g.str("/tmp/f"), g.str("/tmp/g/"))
      // nothing moved
      assert.strictEqual((yield* g.stat("/tmp/d")).nlink, 3)
      assert.strictEqual(yield* g.readFile("/tmp/f"), "x")
    }))

  it.effect("a directory replaces an empty one and moves between parents with the link counts and `..` following", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/tmp/p")
      yield* g.mkdir("/tmp/q")
      yield* g.mkdir("/tmp/p/d")
      yield* g.mkdir("/tmp/q/empty")
      yield* g.writeFile("/tmp/p/d/f", "in d")
      yield* g.ok(SYS.rename, g.str("/tmp/p/d"), g.str("/tmp/q/empty"))
      assert.strictEqual((yield* g.stat("/tmp/p")).nlink, 2)
      assert.strictEqual((yield* g.stat("/tmp/q")).nlink, 3)
      assert.strictEqual(yield* g.readFile("/tmp/q/empty/f"), "in d")
      assert.strictEqual((yield* g.stat("/tmp/q/empty/..")).ino, (yield* g.stat("/tmp/q")).ino)
      yield* g.ok(SYS.chdir, g.str("/tmp/q/empty"))
      assert.strictEqual(yield* cwdOf(g), "/tmp/q/empty")
    }))

  it.effect("renaming onto itself does nothing; onto another link of the file, rename removes the source, __posix_rename neither", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.link, g.str("/tmp/f"), g.str("/tmp/g"))
      yield* g.ok(SYS.rename, g.str("/tmp/f"), g.str("/tmp/f"))
      assert.strictEqual((yield* g.stat("/tmp/f")).nlink, 2)
      yield* g.ok(SYS.__posix_rename, g.str("/tmp/f"), g.str("/tmp/g"))
      assert.strictEqual((yield* g.stat("/tmp/f")).nlink, 2)
      assert.strictEqual((yield* g.stat("/tmp/g")).nlink, 2)
      yield* g.ok(SYS.rename, g.str("/tmp/f"), g.str("/tmp/g"))
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str("/tmp/f"), g.buf(152))
      assert.strictEqual((yield* g.stat("/tmp/g")).nlink, 1)
      assert.strictEqual(yield* g.readFile("/tmp/g"), "x")
    }))

  it.effect("renameat resolves each name against its own dirfd", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/tmp/a")
      yield* g.mkdir("/tmp/b")
      yield* g.writeFile("/tmp/a/f", "moved")
      const a = yield* g.open("/tmp/a", O_RDONLY)
      const b = yield* g.open("/tmp/b", O_RDONLY)
      yield* g.ok(SYS.renameat, a, g.str("f"), b, g.str("g"))
      assert.strictEqual(yield* g.readFile("/tmp/b/g"), "moved")
      yield* g.fails(Errno.EBADF, SYS.renameat, 77, g.str("f"), b, g.str("h"))
    }))
})

describe("chdir and getcwd", () => {
  it.effect("chdir changes where relative paths start; getcwd returns the path and its length with the NUL", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const b = g.buf(64)
      assert.strictEqual(yield* g.ok(SYS.__getcwd, b, 64), 2n)
      assert.strictEqual(g.mem.readString(b, 64), "/")
      yield* g.mkdir("/tmp/deep")
      yield* g.ok(SYS.chdir, g.str("/tmp/deep"))
      assert.strictEqual(yield* g.ok(SYS.__getcwd, b, 64), 10n)
      assert.strictEqual(g.mem.readString(b, 64), "/tmp/deep")
      yield* g.writeFile("rel", "r")
      assert.strictEqual(yield* g.readFile("/tmp/deep/rel"), "r")
      yield* g.ok(SYS.chdir, g.str(".."))
      assert.strictEqual(yield* cwdOf(g), "/tmp")
    }))

  it.effect("chdir: ENOTDIR for a file, ENOENT when missing; getcwd: ERANGE when the buffer is short", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.fails(Errno.ENOTDIR, SYS.chdir, g.str("/tmp/f"))
      yield* g.fails(Errno.ENOENT, SYS.chdir, g.str("/tmp/none"))
      yield* g.ok(SYS.chdir, g.str("/tmp"))
      yield* g.fails(Errno.ERANGE, SYS.__getcwd, g.buf(64), 4)
      yield* g.fails(Errno.ERANGE, SYS.__getcwd, g.buf(64), 1)
      assert.strictEqual(yield* g.ok(SYS.__getcwd, g.buf(5), 5), 5n)
    }))
})

describe("getdents", () => {
  it.effect("records: `.`, `..`, then entries in creation order, laid out as struct dirent", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/tmp/d")
      yield* g.writeFile("/tmp/d/a", "")
      yield* g.writeFile("/tmp/d/bcd", "")
      yield* g.mkdir("/tmp/d/s")
      yield* g.ok(SYS.symlink, g.str("a"), g.str("/tmp/d/sixteen_chars_ab"))
      const fd = yield* g.open("/tmp/d", O_RDONLY)
      const list = yield* getdents(g, fd, 4096)
      assert.deepStrictEqual(list.map((d) => d.name), [".", "..", "a", "bcd", "s", "sixteen_chars_ab"])
      assert.deepStrictEqual(list.map((d) => d.reclen), [16, 16, 16, 24, 16, 32])
      assert.deepStrictEqual(list.map((d) => d.namlen), [1, 2, 1, 3, 1, 16])
      assert.deepStrictEqual(list.map((d) => d.type), [DT_DIR, DT_DIR, DT_REG, DT_REG, DT_DIR, DT_LNK])
      for (const d of list) assert.isTrue(d.tail.every((x) => x === 0) && d.tail.length >= 1, `NUL and zero padding after ${d.name}`)
      const inos = yield* Effect.forEach(["/tmp/d", "/tmp", "/tmp/d/a", "/tmp/d/bcd", "/tmp/d/s"], g.stat)
      assert.deepStrictEqual(list.slice(0, 5).map((d) => d.fileno), inos.map((s) => s.ino))
      assert.strictEqual(list[5]?.fileno, (yield* g.lstat("/tmp/d/sixteen_chars_ab")).ino)
      assert.strictEqual((yield* getdents(g, fd, 4096)).length, 0, "then the end")
    }))

  it.effect("a small buffer takes whole records and the offset resumes; too small for one is EINVAL", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/tmp/d")
      for (const n of ["a", "b", "c"]) yield* g.writeFile(`/tmp/d/${n}`, "")
      const fd = yield* g.open("/tmp/d", O_RDONLY)
      assert.deepStrictEqual((yield* getdents(g, fd, 40)).map((d) => d.name), [".", ".."])
      yield* g.fails(Errno.EINVAL, SYS.__getdents30, fd, g.buf(8), 8)
      // an entry removed between calls does not disturb the rest
      yield* g.ok(SYS.unlink, g.str("/tmp/d/b"))
      assert.deepStrictEqual((yield* getdents(g, fd, 4096)).map((d) => d.name), ["a", "c"])
      yield* g.ok(SYS.lseek, fd, 0, 0, 0)
      assert.strictEqual((yield* getdents(g, fd, 4096)).length, 4)
    }))

  it.effect("the root's `..` is itself; /dev lists character devices", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const root = yield* g.open("/", O_RDONLY)
      const list = yield* getdents(g, root, 4096)
      assert.deepStrictEqual(list.map((d) => d.name), [".", "..", "dev", "tmp"])
      assert.strictEqual(list[0]?.fileno, 2n)
      assert.strictEqual(list[1]?.fileno, 2n)
      const dev = yield* g.open("/dev", O_RDONLY)
      const devs = yield* getdents(g, dev, 4096)
      assert.deepStrictEqual(devs.slice(2).map((d) => [d.name, d.type]), [["console", DT_CHR], ["null", DT_CHR], ["zero", DT_CHR]])
    }))

  it.effect("EINVAL on a file, EBADF for a closed descriptor or one not open for reading", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      const file = yield* g.open("/tmp/f", O_RDONLY)
      yield* g.fails(Errno.EINVAL, SYS.__getdents30, file, g.buf(64), 64)
      const wo = yield* g.open("/tmp/f", O_WRONLY)
      yield* g.fails(Errno.EBADF, SYS.__getdents30, wo, g.buf(64), 64)
      yield* g.fails(Errno.EBADF, SYS.__getdents30, 55, g.buf(64), 64)
      yield* g.fails(Errno.EBADF, SYS.__getdents30, 1, g.buf(64), 64)
    }))
})
