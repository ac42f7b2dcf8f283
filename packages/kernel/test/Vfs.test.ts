import { assert, describe, it } from "@effect/vitest"
import { Errno, mountFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { Cred } from "../src/kauth/Cred.ts"
import { FileData, PAGE_SIZE, type Space } from "../src/vfs/FileData.ts"
import { AT_FDCWD, makeGuest, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY, tmpfsArgs } from "./VfsGuest.ts"

const S_IFDIR = 0o040000
const S_IFCHR = 0o020000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000

const counting = (limit: number): Space & { used: number } => {
  const s = {
    used: 0,
    take: (n: number) => {
      if (s.used + n > limit) return false
      s.used += n
      return true
    },
    give: (n: number) => {
      s.used -= n
    }
  }
  return s
}

describe("FileData", () => {
  it("a write far out takes one page and leaves a hole of zeros", () => {
    const space = counting(100)
    const data = new FileData(space)
    assert.isTrue(data.write(2 ** 30, new Uint8Array([7, 8])))
    assert.strictEqual(data.size, 2 ** 30 + 2)
    assert.strictEqual(data.pageCount, 1)
    assert.strictEqual(space.used, 1)
    assert.deepStrictEqual([...data.read(2 ** 30 - 2, 4)], [0, 0, 7, 8])
    assert.deepStrictEqual([...data.read(2 ** 30 + 1, 100)], [8], "reads stop at the end")
  })

  it("a write across a page boundary takes both pages; out of space, nothing is written", () => {
    const space = counting(2)
    const data = new FileData(space)
    assert.isTrue(data.write(PAGE_SIZE - 1, new Uint8Array([1, 2])))
    assert.strictEqual(data.pageCount, 2)
    assert.isFalse(data.write(5 * PAGE_SIZE, new Uint8Array([3])))
    assert.strictEqual(data.size, PAGE_SIZE + 1, "a refused write does not grow the file")
    assert.strictEqual(space.used, 2)
  })

  it("shrinking frees pages and zeros the tail, so growing again reads zeros", () => {
    const space = counting(10)
    const data = new FileData(space)
    data.write(0, new Uint8Array(3 * PAGE_SIZE).fill(9))
    data.resize(10)
    assert.strictEqual(data.pageCount, 1)
    assert.strictEqual(space.used, 1)
    data.resize(20)
    assert.deepStrictEqual([...data.read(8, 4)], [9, 9, 0, 0])
    data.clear()
    assert.strictEqual(space.used, 0)
    assert.strictEqual(data.size, 0)
  })
})

describe("FileData extents", () => {
  const EXTENT = 16 * PAGE_SIZE
  const pattern = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)

  it("a write that covers aligned 64 KiB runs whole counts their pages exactly, single pages inside included", () => {
    const space = counting(100)
    const data = new FileData(space)
    data.write(3 * PAGE_SIZE + 5, new Uint8Array([1]))
    const bytes = pattern(2 * EXTENT + 100, 3)
    assert.isTrue(data.write(0, bytes))
    assert.strictEqual(data.pageCount, 33)
    assert.strictEqual(space.used, 33)
    assert.deepStrictEqual(data.read(0, bytes.length), bytes)
  })

  it("out of space, an extent-sized write takes nothing", () => {
    const space = counting(20)
    const data = new FileData(space)
    assert.isTrue(data.write(0, pattern(EXTENT, 1)))
    assert.isFalse(data.write(EXTENT, pattern(EXTENT, 2)))
    assert.strictEqual(space.used, 16)
    assert.strictEqual(data.size, EXTENT)
  })

  it("truncating inside an extent keeps the pages before the end, gives back the rest and zeros the tail", () => {
    const space = counting(100)
    const data = new FileData(space)
    const bytes = pattern(2 * EXTENT, 7)
    data.write(0, bytes)
    data.resize(EXTENT + 3 * PAGE_SIZE + 10)
    assert.strictEqual(data.pageCount, 20)
    assert.strictEqual(space.used, 20)
    data.resize(2 * EXTENT)
    const back = data.read(0, 2 * EXTENT)
    assert.deepStrictEqual(back.subarray(0, EXTENT + 3 * PAGE_SIZE + 10), bytes.subarray(0, EXTENT + 3 * PAGE_SIZE + 10))
    assert.isTrue(back.subarray(EXTENT + 3 * PAGE_SIZE + 10).every((b) => b === 0), "what was cut reads as zeros")
    data.resize(0)
    assert.strictEqual(space.used, 0)
    assert.strictEqual(data.pageCount, 0)
  })

  it("any mix of writes, truncations and reads matches a flat copy of the file, page for page (seeded, 400 steps)", () => {
    let seed = 12345
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff
      return seed % n
    }
    const LIMIT = 8 * EXTENT
    const space = counting(10_000)
    const data = new FileData(space)
    let flat = new Uint8Array(0)
    const present = new Set<number>()
    for (let step = 0; step < 400; step++) {
      const op = rand(10)
      if (op < 6) {
        const aligned = rand(2) === 0
        const offset = aligned ? rand(LIMIT / EXTENT) * EXTENT : rand(LIMIT)
        const len = rand(3) === 0 ? EXTENT * (1 + rand(3)) + rand(2) * rand(PAGE_SIZE) : 1 + rand(2 * PAGE_SIZE)
        const bytes = pattern(len, step)
        assert.isTrue(data.write(offset, bytes))
        if (offset + len > flat.length) {
          const grown = new Uint8Array(offset + len)
          grown.set(flat)
          flat = grown
        }
        flat.set(bytes, offset)
        for (let i = Math.floor(offset / PAGE_SIZE); i <= Math.floor((offset + len - 1) / PAGE_SIZE); i++) present.add(i)
      } else if (op < 8) {
        const size = rand(flat.length + 1)
        data.resize(size)
        flat = flat.slice(0, size)
        for (const i of [...present]) if (i >= Math.ceil(size / PAGE_SIZE)) present.delete(i)
      } else {
        const offset = rand(flat.length + 1)
        const len = rand(3 * EXTENT)
        assert.deepStrictEqual(data.read(offset, len), flat.slice(offset, offset + len), `step ${step}`)
      }
      assert.strictEqual(data.size, flat.length)
      assert.strictEqual(data.pageCount, present.size, `pages at step ${step}`)
      assert.strictEqual(space.used, present.size)
    }
    assert.deepStrictEqual(data.read(0, flat.length), flat)
  })
})

describe("boot tree", () => {
  it.effect("/, /dev with console, null and zero, and /tmp", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const root = yield* g.stat("/")
      assert.strictEqual(root.mode, S_IFDIR | 0o755)
      assert.strictEqual(root.nlink, 4, "2 plus /dev and /tmp")
      assert.strictEqual(root.ino, 2n)
      assert.strictEqual(root.blksize, 4096)
      const dev = yield* g.stat("/dev")
      assert.strictEqual(dev.mode, S_IFDIR | 0o755)
      assert.strictEqual(dev.nlink, 2)
      const tmp = yield* g.stat("/tmp")
      assert.strictEqual(tmp.mode, S_IFDIR | 0o1777)
      const console = yield* g.stat("/dev/console")
      assert.strictEqual(console.mode, S_IFCHR | 0o600)
      assert.strictEqual(console.nlink, 0, "as the reference shows it")
      const nul = yield* g.stat("/dev/null")
      const zero = yield* g.stat("/dev/zero")
      assert.strictEqual(nul.mode, S_IFCHR | 0o666)
      assert.strictEqual(zero.mode, S_IFCHR | 0o666)
      assert.notStrictEqual(nul.rdev, zero.rdev)
      const inos = [root, dev, tmp, console, nul, zero].map((s) => s.ino)
      assert.strictEqual(new Set(inos).size, inos.length, "inode numbers are unique")
      assert.isTrue([root, dev, tmp, console, nul, zero].every((s) => s.dev === root.dev))
    }))

  it.effect("fds 0-2 are the console: fstat shows it, writes reach the console with the pid, reads are EBADF", () =>
    Effect.gen(function*() {
      const seen: Array<[number, string]> = []
      const g = yield* makeGuest({ console: (pid, bytes) => seen.push([pid, new TextDecoder().decode(bytes)]) })
      const st = yield* g.fstat(1)
      assert.strictEqual(st.mode, S_IFCHR | 0o600)
      assert.strictEqual(st.nlink, 0)
      assert.strictEqual(st.ino, (yield* g.stat("/dev/console")).ino)
      assert.strictEqual(yield* g.write(2, "boo\n"), 4)
      assert.deepStrictEqual(seen, [[g.process.pid, "boo\n"]])
      yield* g.fails(Errno.EBADF, SYS.read, 0, g.buf(8), 8)
    }))

  it.effect("/dev/null reads end at once and swallows writes; /dev/zero reads zeros", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const nul = yield* g.open("/dev/null", O_RDWR)
      assert.strictEqual(yield* g.write(nul, "gone"), 4)
      assert.strictEqual((yield* g.read(nul, 16)).length, 0)
      const zero = yield* g.open("/dev/zero", O_RDWR)
      const b = g.mem.alloc(new Uint8Array(64).fill(0xaa))
      assert.strictEqual(yield* g.ok(SYS.read, zero, b, 64), 64n)
      assert.isTrue(g.bytes(b, 64).every((x) => x === 0))
      assert.strictEqual(yield* g.write(zero, "x"), 1)
    }))

  it.effect("/dev/null and /dev/zero take a write without reading the buffer (a bad one succeeds); a file does not", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      // an address no region covers: any copyin from it is EFAULT
      const bad = 0x7fff_0000_0000n
      for (const path of ["/dev/null", "/dev/zero"]) {
        const fd = yield* g.open(path, O_WRONLY)
        assert.strictEqual(yield* g.ok(SYS.write, fd, bad, 1 << 20), 1n << 20n, `${path} write`)
        assert.strictEqual(yield* g.ok(SYS.pwrite, fd, bad, 4096, 0, 0), 4096n, `${path} pwrite`)
        // the iovec array itself is still read (NetBSD copies it into the uio); its buffers are not
        const iov = new Uint8Array(32)
        const v = new DataView(iov.buffer)
        v.setBigUint64(0, bad, true)
        v.setBigUint64(8, 100n, true)
        v.setBigUint64(16, bad + 4096n, true)
        v.setBigUint64(24, 28n, true)
        assert.strictEqual(yield* g.ok(SYS.writev, fd, g.mem.alloc(iov), 2), 128n, `${path} writev`)
        yield* g.fails(Errno.EFAULT, SYS.writev, fd, bad, 2)
      }
      const file = yield* g.open("/tmp/f", O_RDWR | O_CREAT)
      yield* g.fails(Errno.EFAULT, SYS.write, file, bad, 16)
    }))
})

describe("path lookup", () => {
  it.effect("relative to the cwd and to a dirfd; `.` and `..`", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/a")
      yield* g.mkdir("/a/b")
      yield* g.writeFile("/a/b/f", "x")
      yield* g.ok(SYS.chdir, g.str("/a"))
      assert.strictEqual((yield* g.stat("b/f")).size, 1n)
      assert.strictEqual((yield* g.stat("./b/../b/./f")).size, 1n)
      assert.strictEqual((yield* g.stat("../../..")).ino, 2n, "`..` at the root stays there")
      const dir = yield* g.open("/a/b", O_RDONLY)
      const b = g.buf(152)
      yield* g.ok(SYS.fstatat, dir, g.str("f"), b, 0)
      yield* g.fails(Errno.ENOENT, SYS.fstatat, AT_FDCWD, g.str("f"), b, 0)
    }))

  it.effect("ENOENT, ENOTDIR, and a trailing slash on a file", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      const b = g.buf(152)
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str("/nope"), b)
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str("/nope/f"), b)
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str(""), b)
      yield* g.fails(Errno.ENOTDIR, SYS.__stat50, g.str("/tmp/f/x"), b)
      yield* g.fails(Errno.ENOTDIR, SYS.__stat50, g.str("/tmp/f/"), b)
      yield* g.ok(SYS.__stat50, g.str("/tmp/"), b)
      yield* g.fails(Errno.EFAULT, SYS.__stat50, 0, b)
    }))

  it.effect("ENAMETOOLONG: a component over NAME_MAX (511), a path of PATH_MAX (1024) bytes with no NUL", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const b = g.buf(152)
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str("/tmp/" + "n".repeat(511)), b)
      yield* g.fails(Errno.ENAMETOOLONG, SYS.__stat50, g.str("/tmp/" + "n".repeat(512)), b)
      // 1023 bytes and the NUL fit in PATH_MAX
      const fits = "/" + "d/".repeat(510) + "xx"
      assert.strictEqual(fits.length, 1023)
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str(fits), b)
      yield* g.fails(Errno.ENAMETOOLONG, SYS.__stat50, g.str(fits + "x"), b)
      yield* g.fails(Errno.ENAMETOOLONG, SYS.open, g.str("/" + "a".repeat(2000)), O_RDONLY, 0)
    }))

  it.effect("symlinks are followed up to 32 hops; 33 is ELOOP, and so is a loop", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/target", "t")
      // l0 -> target, l1 -> l0, ... l32 -> l31
      yield* g.ok(SYS.symlink, g.str("target"), g.str("/tmp/l0"))
      for (let i = 1; i <= 32; i++) yield* g.ok(SYS.symlink, g.str(`l${i - 1}`), g.str(`/tmp/l${i}`))
      assert.strictEqual((yield* g.stat("/tmp/l31")).size, 1n, "32 hops")
      const b = g.buf(152)
      yield* g.fails(Errno.ELOOP, SYS.__stat50, g.str("/tmp/l32"), b)
      yield* g.ok(SYS.symlink, g.str("loopb"), g.str("/tmp/loopa"))
      yield* g.ok(SYS.symlink, g.str("loopa"), g.str("/tmp/loopb"))
      yield* g.fails(Errno.ELOOP, SYS.__stat50, g.str("/tmp/loopa"), b)
      yield* g.fails(Errno.ELOOP, SYS.open, g.str("/tmp/loopa"), O_RDONLY, 0)
      assert.strictEqual((yield* g.lstat("/tmp/loopa")).mode & 0o170000, S_IFLNK)
    }))

  it.effect("symlinks in the middle, absolute targets, and a dangling link", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/tmp/d")
      yield* g.writeFile("/tmp/d/f", "abc")
      yield* g.ok(SYS.symlink, g.str("/tmp/d"), g.str("/tmp/abs"))
      yield* g.ok(SYS.symlink, g.str("d/"), g.str("/tmp/rel"))
      assert.strictEqual((yield* g.stat("/tmp/abs/f")).size, 3n)
      assert.strictEqual((yield* g.stat("/tmp/rel/f")).size, 3n)
      assert.strictEqual((yield* g.stat("/tmp/rel")).mode & 0o170000, S_IFDIR)
      yield* g.ok(SYS.symlink, g.str("/nowhere"), g.str("/tmp/dangling"))
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str("/tmp/dangling"), g.buf(152))
      assert.strictEqual((yield* g.lstat("/tmp/dangling")).size, 8n)
    }))

  it.effect("the superuser may not execute a file without execute bits (EACCES), but searches any directory", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.chmod, g.str("/tmp/f"), 0o644)
      yield* g.fails(Errno.EACCES, SYS.access, g.str("/tmp/f"), 1)
      yield* g.ok(SYS.access, g.str("/tmp/f"), 6)
      yield* g.ok(SYS.chmod, g.str("/tmp/f"), 0o100)
      yield* g.ok(SYS.access, g.str("/tmp/f"), 1)
      yield* g.mkdir("/tmp/closed", 0)
      yield* g.writeFile("/tmp/closed/g", "y")
      yield* g.ok(SYS.access, g.str("/tmp/closed/g"), 0)
    }))
})

describe("tmpfs mounts", () => {
  it.effect("__mount50 mounts a fresh, empty tmpfs on a directory; `..` leads back out", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/mnt")
      yield* g.writeFile("/mnt/hidden", "h")
      const before = yield* g.stat("/mnt")
      yield* g.ok(SYS.__mount50, g.str("tmpfs"), g.str("/mnt"), 0, g.mem.alloc(tmpfsArgs({ mode: 0o700, uid: 5, gid: 6 })), 40)
      const root = yield* g.stat("/mnt")
      assert.notStrictEqual(root.dev, before.dev, "a file system of its own")
      assert.strictEqual(root.ino, 2n)
      assert.strictEqual(root.mode, S_IFDIR | 0o700)
      assert.strictEqual(root.uid, 5)
      assert.strictEqual(root.gid, 6)
      assert.strictEqual(root.nlink, 2)
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str("/mnt/hidden"), g.buf(152))
      yield* g.writeFile("/mnt/f", "new")
      assert.strictEqual((yield* g.stat("/mnt/f")).dev, root.dev)
      assert.strictEqual((yield* g.stat("/mnt/..")).ino, 2n)
      assert.strictEqual((yield* g.stat("/mnt/..")).dev, before.dev, "`..` of the mounted root is the parent of /mnt")
      yield* g.ok(SYS.chdir, g.str("/mnt"))
      const cwd = g.buf(64)
      yield* g.ok(SYS.__getcwd, cwd, 64)
      assert.strictEqual(g.mem.readString(cwd, 64), "/mnt")
      assert.strictEqual(yield* g.readFile("f"), "new")
    }))

  it.effect("names stay on their file system (EXDEV); a mount point cannot be removed or renamed (EBUSY)", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/mnt")
      yield* g.ok(SYS.__mount50, g.str("tmpfs"), g.str("/mnt"), 0, g.mem.alloc(tmpfsArgs()), 40)
      yield* g.writeFile("/tmp/f", "x")
      yield* g.fails(Errno.EXDEV, SYS.rename, g.str("/tmp/f"), g.str("/mnt/f"))
      yield* g.fails(Errno.EXDEV, SYS.link, g.str("/tmp/f"), g.str("/mnt/f"))
      yield* g.fails(Errno.EBUSY, SYS.rmdir, g.str("/mnt"))
      yield* g.fails(Errno.EBUSY, SYS.unlink, g.str("/mnt"))
      yield* g.fails(Errno.EBUSY, SYS.rename, g.str("/mnt"), g.str("/mnt2"))
      yield* g.fails(Errno.EBUSY, SYS.rmdir, g.str("/"))
    }))

  it.effect("other types are ENODEV; bad arguments EINVAL; a file is ENOTDIR", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/mnt")
      yield* g.writeFile("/tmp/f", "x")
      const args = g.mem.alloc(tmpfsArgs())
      yield* g.fails(Errno.ENODEV, SYS.__mount50, g.str("ffs"), g.str("/mnt"), 0, args, 40)
      // mount_get_vfsops: a name that does not fit (or cannot be read) is no file system either
      yield* g.fails(Errno.ENODEV, SYS.__mount50, g.str("t".repeat(40)), g.str("/mnt"), 0, args, 40)
      yield* g.fails(Errno.ENODEV, SYS.__mount50, 0x10n, g.str("/mnt"), 0, args, 40)
      yield* g.fails(Errno.EINVAL, SYS.__mount50, g.str("tmpfs"), g.str("/mnt"), 0, g.mem.alloc(tmpfsArgs({ version: 2 })), 40)
      yield* g.fails(Errno.EINVAL, SYS.__mount50, g.str("tmpfs"), g.str("/mnt"), 0, args, 39)
      yield* g.fails(Errno.EINVAL, SYS.__mount50, g.str("tmpfs"), g.str("/mnt"), 0, 0, 40)
      yield* g.fails(Errno.ENOTDIR, SYS.__mount50, g.str("tmpfs"), g.str("/tmp/f"), 0, args, 40)
      yield* g.fails(Errno.ENOENT, SYS.__mount50, g.str("tmpfs"), g.str("/nope"), 0, args, 40)
    }))

  it.effect("do_sys_mount's order: the path, then the type, then the data, then root only, then a directory; data_len 0 is tmpfs_args' size", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/mnt")
      yield* g.writeFile("/tmp/f", "x")
      const args = g.mem.alloc(tmpfsArgs())
      yield* g.fails(Errno.ENOENT, SYS.__mount50, g.str("nosuchfs"), g.str("/nonexistent"), 0, args, 40)
      yield* g.fails(Errno.ENOENT, SYS.__mount50, g.str("tmpfs"), g.str("/nonexistent"), 0, 0x10n, 9000)
      yield* g.fails(Errno.ENODEV, SYS.__mount50, g.str("nosuchfs"), g.str("/mnt"), 0, 0x10n, 40)
      yield* g.fails(Errno.EINVAL, SYS.__mount50, g.str("tmpfs"), g.str("/mnt"), 0, args, 8193)
      yield* g.fails(Errno.EFAULT, SYS.__mount50, g.str("tmpfs"), g.str("/tmp/f"), 0, 0x10n, 40)
      yield* g.fails(Errno.EINVAL, SYS.__mount50, g.str("tmpfs"), g.str("/mnt"), mountFlags.MNT_EXPORTED, args, 40)
      yield* g.fails(Errno.EINVAL, SYS.__mount50, g.str("tmpfs"), g.str("/mnt"), 0, g.mem.alloc(tmpfsArgs({ uid: 0xffffffff })), 40)
      // as an unprivileged process: the lookup and the type still come first
      g.kernel.kernel.state.procs.get(g.process.pid)!.cred = Cred.of(1000, 1000)
      yield* g.fails(Errno.ENOENT, SYS.__mount50, g.str("tmpfs"), g.str("/nonexistent"), 0, args, 40)
      yield* g.fails(Errno.ENODEV, SYS.__mount50, g.str("nosuchfs"), g.str("/mnt"), 0, args, 40)
      yield* g.fails(Errno.EPERM, SYS.__mount50, g.str("tmpfs"), g.str("/tmp/f"), 0, args, 40)
      g.kernel.kernel.state.procs.get(g.process.pid)!.cred = Cred.of(0, 0)
      // data_len 0: vfs_min_mount_data, the whole struct tmpfs_args
      yield* g.ok(SYS.__mount50, g.str("tmpfs"), g.str("/mnt"), 0, args, 0)
      assert.strictEqual((yield* g.stat("/mnt")).dev !== (yield* g.stat("/")).dev, true, "mounted")
    }))

  it.effect("MNT_UPDATE: the root of a mount (EINVAL elsewhere), no downgrade to read-only, root only; changing a tmpfs is not supported", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/mnt")
      yield* g.mkdir("/tmp/d")
      const args = g.mem.alloc(tmpfsArgs())
      yield* g.ok(SYS.__mount50, g.str("tmpfs"), g.str("/mnt"), 0, args, 40)
      const { MNT_UPDATE, MNT_RDONLY } = mountFlags
      yield* g.fails(Errno.EINVAL, SYS.__mount50, g.str("whatever"), g.str("/tmp/d"), MNT_UPDATE, args, 40)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.__mount50, g.str("whatever"), g.str("/mnt"), MNT_UPDATE | MNT_RDONLY, args, 40)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.__mount50, g.str("whatever"), g.str("/mnt"), MNT_UPDATE, args, 40)
      g.kernel.kernel.state.procs.get(g.process.pid)!.cred = Cred.of(1000, 1000)
      yield* g.fails(Errno.EPERM, SYS.__mount50, g.str("whatever"), g.str("/mnt"), MNT_UPDATE, args, 40)
    }))

  it.effect("MNT_GETARGS reads a tmpfs's arguments back, for anyone: its limits as asked and its root's owner and mode now", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/mnt")
      yield* g.mkdir("/big")
      const { MNT_GETARGS, MNT_RDONLY } = mountFlags
      yield* g.ok(SYS.__mount50, g.str("tmpfs"), g.str("/mnt"), 0, g.mem.alloc(tmpfsArgs({ sizeMax: 163_841n, nodesMax: 100n, mode: 0o1777, uid: 5, gid: 6 })), 40)
      yield* g.ok(SYS.__mount50, g.str("tmpfs"), g.str("/big"), 0, g.mem.alloc(tmpfsArgs({ sizeMax: 100n })), 40)
      yield* g.ok(SYS.chmod, g.str("/mnt"), 0o700)
      const getargs = (path: string, len = 40, flags = MNT_GETARGS) =>
        Effect.gen(function*() {
          const buf = g.mem.alloc(tmpfsArgs({ version: 1, mode: 0, sizeMax: 0n }))
          const n = yield* g.ok(SYS.__mount50, g.str("ignored"), g.str(path), flags, buf, len)
          const v = new DataView(g.bytes(buf, 40).buffer)
          return {
            n,
            version: v.getInt32(0, true),
            nodes: v.getBigUint64(8, true),
            size: v.getBigInt64(16, true),
            uid: v.getUint32(24, true),
            gid: v.getUint32(28, true),
            mode: v.getUint32(32, true)
          }
        })
      assert.deepStrictEqual(yield* getargs("/mnt"), { n: 40n, version: 1, nodes: 100n, size: 163_841n, uid: 5, gid: 6, mode: 0o700 })
      // under a page is no limit: tm_mem_limit UINT64_MAX, and nodes_max INT_MAX
      assert.deepStrictEqual(yield* getargs("/big", 0), { n: 40n, version: 1, nodes: 0x7fffffffn, size: -1n, uid: 0, gid: 0, mode: 0o755 })
      assert.strictEqual((yield* getargs("/")).mode, 0o755, "the root tmpfs too")
      g.kernel.kernel.state.procs.get(g.process.pid)!.cred = Cred.of(1000, 1000)
      assert.strictEqual((yield* getargs("/mnt/")).nodes, 100n, "KAUTH_REQ_SYSTEM_MOUNT_GET is anyone's")
      yield* g.fails(Errno.EINVAL, SYS.__mount50, 0, g.str("/mnt"), MNT_GETARGS | MNT_RDONLY, g.mem.alloc(tmpfsArgs()), 40)
      yield* g.fails(Errno.EINVAL, SYS.__mount50, 0, g.str("/tmp"), MNT_GETARGS, g.mem.alloc(tmpfsArgs()), 40)
      yield* g.fails(Errno.EINVAL, SYS.__mount50, 0, g.str("/mnt"), MNT_GETARGS, g.mem.alloc(tmpfsArgs({ version: 2 })), 40)
      yield* g.fails(Errno.EINVAL, SYS.__mount50, 0, g.str("/mnt"), MNT_GETARGS, g.mem.alloc(tmpfsArgs()), 39)
      yield* g.fails(Errno.EINVAL, SYS.__mount50, 0, g.str("/mnt"), MNT_GETARGS, 0, 0)
      yield* g.fails(Errno.EINVAL, SYS.__mount50, 0, g.str("/mnt"), MNT_GETARGS, 0, 40)
      yield* g.fails(Errno.EFAULT, SYS.__mount50, 0, g.str("/mnt"), MNT_GETARGS, 0x10n, 40)
    }))

  it.effect("MNT_RDONLY: reading works; making names, changing attributes or flags and writing access are EROFS", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/ro")
      yield* g.ok(SYS.__mount50, g.str("tmpfs"), g.str("/ro"), mountFlags.MNT_RDONLY, g.mem.alloc(tmpfsArgs({ mode: 0o777 })), 40)
      yield* g.close(yield* g.open("/ro", O_RDONLY))
      yield* g.ok(SYS.access, g.str("/ro"), 4)
      yield* g.fails(Errno.EROFS, SYS.access, g.str("/ro"), 2)
      yield* g.fails(Errno.EROFS, SYS.mkdir, g.str("/ro/d"), 0o755)
      yield* g.fails(Errno.EROFS, SYS.open, g.str("/ro/f"), O_WRONLY | O_CREAT, 0o644)
      yield* g.fails(Errno.EROFS, SYS.symlink, g.str("x"), g.str("/ro/l"))
      yield* g.fails(Errno.EROFS, SYS.mkfifo, g.str("/ro/p"), 0o644)
      yield* g.writeFile("/tmp/f", "x")
      // the lookup for the new name fails before the cross-mount check
      yield* g.fails(Errno.EROFS, SYS.link, g.str("/tmp/f"), g.str("/ro/f"))
      yield* g.fails(Errno.EROFS, SYS.chmod, g.str("/ro"), 0o700)
      yield* g.fails(Errno.EROFS, SYS.chown, g.str("/ro"), 1, 1)
      yield* g.fails(Errno.EROFS, SYS.__utimes50, g.str("/ro"), 0)
      yield* g.fails(Errno.EROFS, SYS.chflags, g.str("/ro"), 1)
      const st = yield* g.stat("/ro")
      assert.strictEqual(st.mode & 0o7777, 0o777, "nothing changed")
      // on the file system it covers, everything goes on as before
      yield* g.ok(SYS.mkdir, g.str("/tmp/d"), 0o755)
    }))

  it.effect("ta_size_max and ta_nodes_max limit the mounted file system (ENOSPC); nodes_max counts the root and one spare", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/mnt")
      yield* g.ok(
        SYS.__mount50,
        g.str("tmpfs"),
        g.str("/mnt"),
        0,
        g.mem.alloc(tmpfsArgs({ sizeMax: 8192n, nodesMax: 4n })),
        40
      )
      const fd = yield* g.open("/mnt/a", O_WRONLY | O_CREAT)
      yield* g.fails(Errno.ENOSPC, SYS.write, fd, g.buf(3 * 4096), 3 * 4096)
      assert.strictEqual(yield* g.write(fd, new Uint8Array(8192)), 8192)
      yield* g.open("/mnt/b", O_WRONLY | O_CREAT)
      yield* g.fails(Errno.ENOSPC, SYS.open, g.str("/mnt/c"), O_WRONLY | O_CREAT, 0o644)
      yield* g.fails(Errno.ENOSPC, SYS.mkdir, g.str("/mnt/d"), 0o755)
    }))
})

describe("memory", () => {
  it.effect("file data is capped by physmem (ENOSPC) and freed by unlink", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest({ physmem: 16 * 4096 })
      const fd = yield* g.open("/tmp/big", O_RDWR | O_CREAT)
      yield* g.fails(Errno.ENOSPC, SYS.write, fd, g.buf(17 * 4096), 17 * 4096)
      assert.strictEqual(yield* g.write(fd, new Uint8Array(16 * 4096)), 16 * 4096)
      const other = yield* g.open("/tmp/other", O_RDWR | O_CREAT)
      yield* g.fails(Errno.ENOSPC, SYS.write, other, g.buf(1), 1)
      yield* g.close(fd)
      yield* g.ok(SYS.unlink, g.str("/tmp/big"))
      assert.strictEqual(g.kernel.kernel.state.vfs.memory.usedPages, 0)
      assert.strictEqual(yield* g.write(other, "fits again"), 10)
    }))

  it.effect("an unlinked file stays readable through an open descriptor, and its pages go at the last close", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "still here")
      const fd = yield* g.open("/tmp/f", O_RDWR)
      yield* g.ok(SYS.unlink, g.str("/tmp/f"))
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str("/tmp/f"), g.buf(152))
      const st = yield* g.fstat(fd)
      assert.strictEqual(st.nlink, 0)
      assert.strictEqual(st.mode, S_IFREG | 0o644)
      assert.strictEqual(new TextDecoder().decode(yield* g.read(fd, 64)), "still here")
      assert.strictEqual(yield* g.write(fd, "!"), 1)
      assert.strictEqual(g.kernel.kernel.state.vfs.memory.usedPages, 1)
      yield* g.close(fd)
      assert.strictEqual(g.kernel.kernel.state.vfs.memory.usedPages, 0)
    }))
})

describe("time stamps", () => {
  const OLD = 1_000_000_000n
  /** Sets atime and mtime of `path` to OLD seconds. */
  const age = (g: Effect.Success<ReturnType<typeof makeGuest>>, path: string) => {
    const ts = new Uint8Array(32)
    const v = new DataView(ts.buffer)
    v.setBigInt64(0, OLD, true)
    v.setBigInt64(16, OLD, true)
    return g.ok(SYS.utimensat, AT_FDCWD, g.str(path), g.mem.alloc(ts), 0)
  }

  it.effect("write marks mtime and ctime, read marks atime, chmod marks only ctime", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* age(g, "/tmp/f")
      const aged = yield* g.stat("/tmp/f")
      assert.strictEqual(aged.mtime[0], OLD)
      assert.strictEqual(aged.atime[0], OLD)
      assert.isTrue(aged.ctime[0] > OLD, "setting times marks ctime")

      const fd = yield* g.open("/tmp/f", O_RDWR)
      yield* g.read(fd, 1)
      const read = yield* g.stat("/tmp/f")
      assert.isTrue(read.atime[0] > OLD)
      assert.strictEqual(read.mtime[0], OLD)

      yield* age(g, "/tmp/f")
      yield* g.write(fd, "y")
      const written = yield* g.stat("/tmp/f")
      assert.isTrue(written.mtime[0] > OLD)
      assert.strictEqual(written.atime[0], OLD)

      yield* age(g, "/tmp/f")
      yield* g.ok(SYS.chmod, g.str("/tmp/f"), 0o600)
      const chmodded = yield* g.stat("/tmp/f")
      assert.strictEqual(chmodded.mtime[0], OLD)
      assert.isTrue(chmodded.ctime[0] > OLD)
      assert.strictEqual(chmodded.birthtime[0], aged.birthtime[0], "birth time never moves")
    }))

  it.effect("creating and removing names marks the directory's mtime", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/tmp/d")
      yield* age(g, "/tmp/d")
      yield* g.writeFile("/tmp/d/f", "x")
      assert.isTrue((yield* g.stat("/tmp/d")).mtime[0] > OLD, "create")
      yield* age(g, "/tmp/d")
      yield* g.ok(SYS.rename, g.str("/tmp/d/f"), g.str("/tmp/d/g"))
      assert.isTrue((yield* g.stat("/tmp/d")).mtime[0] > OLD, "rename")
      yield* age(g, "/tmp/d")
      yield* age(g, "/tmp/d/g")
      yield* g.ok(SYS.link, g.str("/tmp/d/g"), g.str("/tmp/d/h"))
      assert.isTrue((yield* g.stat("/tmp/d")).mtime[0] > OLD, "link")
      assert.isTrue((yield* g.stat("/tmp/d/g")).ctime[0] > OLD, "link marks the file's ctime")
      assert.strictEqual((yield* g.stat("/tmp/d/g")).mtime[0], OLD, "but not its mtime")
      yield* age(g, "/tmp/d")
      yield* g.ok(SYS.unlink, g.str("/tmp/d/h"))
      assert.isTrue((yield* g.stat("/tmp/d")).mtime[0] > OLD, "unlink")
    }))
})

describe("inode numbers and link counts", () => {
  it.effect("each new node has a new inode number; a directory has 2 links plus one per subdirectory", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/tmp/d")
      yield* g.mkdir("/tmp/d/a")
      yield* g.mkdir("/tmp/d/b")
      yield* g.writeFile("/tmp/d/f", "")
      const st = yield* g.stat("/tmp/d")
      assert.strictEqual(st.nlink, 4)
      const inos = yield* Effect.forEach(["/tmp/d", "/tmp/d/a", "/tmp/d/b", "/tmp/d/f"], g.stat)
      assert.strictEqual(new Set(inos.map((s) => s.ino)).size, 4)
      yield* g.ok(SYS.rmdir, g.str("/tmp/d/a"))
      assert.strictEqual((yield* g.stat("/tmp/d")).nlink, 3)
      yield* g.writeFile("/tmp/d/later", "")
      assert.isTrue((yield* g.stat("/tmp/d/later")).ino > (yield* g.stat("/tmp/d/f")).ino, "numbers are not reused")
      assert.strictEqual((yield* g.stat("/tmp/d/f")).mode, S_IFREG | 0o644)
    }))
})
