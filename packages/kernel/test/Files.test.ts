import { assert, describe, it } from "@effect/vitest"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import {
  AT_FDCWD,
  type Guest,
  makeGuest,
  O_APPEND,
  O_CLOEXEC,
  O_CREAT,
  O_DIRECTORY,
  O_EXCL,
  O_NOFOLLOW,
  O_RDONLY,
  O_RDWR,
  O_TRUNC,
  O_WRONLY
} from "./VfsGuest.ts"

const S_IFMT = 0o170000
const S_IFREG = 0o100000
const S_IFLNK = 0o120000
const AT_SYMLINK_NOFOLLOW = 0x200
const AT_SYMLINK_FOLLOW = 0x400
const AT_EACCESS = 0x100
const UTIME_NOW = 0x3fffffff
const UTIME_OMIT = 0x3ffffffe
const F_OK = 0
const R_OK = 4
const W_OK = 2

const descriptor = (g: Guest, fd: number) => g.kernel.kernel.state.procs.get(g.process.pid)?.fds.get(fd)
const decode = (b: Uint8Array) => new TextDecoder().decode(b)

/** struct timespec[2]. */
const timespecs = (g: Guest, a: readonly [bigint, bigint], m: readonly [bigint, bigint]) => {
  const bytes = new Uint8Array(32)
  const v = new DataView(bytes.buffer)
  v.setBigInt64(0, a[0], true)
  v.setBigInt64(8, a[1], true)
  v.setBigInt64(16, m[0], true)
  v.setBigInt64(24, m[1], true)
  return g.mem.alloc(bytes)
}

/** struct timeval[2] (tv_usec is an int32 followed by padding). */
const timevals = (g: Guest, a: readonly [bigint, number], m: readonly [bigint, number]) => {
  const bytes = new Uint8Array(32)
  const v = new DataView(bytes.buffer)
  v.setBigInt64(0, a[0], true)
  v.setInt32(8, a[1], true)
  v.setBigInt64(16, m[0], true)
  v.setInt32(24, m[1], true)
  return g.mem.alloc(bytes)
}

describe("open", () => {
  it.effect("a new guest's first open is fd 3; the lowest free descriptor is taken", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      assert.strictEqual(yield* g.open("/dev/null", O_RDONLY), 3)
      assert.strictEqual(yield* g.open("/dev/null", O_RDONLY), 4)
      yield* g.close(3)
      assert.strictEqual(yield* g.open("/dev/null", O_RDONLY), 3)
    }))

  it.effect("O_CREAT makes a regular file with mode & ~umask, owned by the caller; the sticky bit is dropped", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.open("/tmp/a", O_WRONLY | O_CREAT, 0o777)
      assert.strictEqual((yield* g.stat("/tmp/a")).mode, S_IFREG | 0o755)
      assert.strictEqual((yield* g.stat("/tmp/a")).nlink, 1)
      yield* g.ok(SYS.umask, 0)
      yield* g.open("/tmp/b", O_WRONLY | O_CREAT, 0o1777)
      assert.strictEqual((yield* g.stat("/tmp/b")).mode, S_IFREG | 0o777)
      // the creator may open it whatever its mode says
      yield* g.open("/tmp/c", O_RDWR | O_CREAT, 0)
      assert.strictEqual((yield* g.stat("/tmp/c")).mode, S_IFREG)
    }))

  it.effect("O_CREAT|O_EXCL: EEXIST for an existing name, a symlink (not followed) included", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.symlink, g.str("/tmp/nothing"), g.str("/tmp/dangling"))
      yield* g.fails(Errno.EEXIST, SYS.open, g.str("/tmp/f"), O_RDWR | O_CREAT | O_EXCL, 0o644)
      yield* g.fails(Errno.EEXIST, SYS.open, g.str("/tmp/dangling"), O_RDWR | O_CREAT | O_EXCL, 0o644)
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str("/tmp/nothing"), g.buf(152))
      // without O_EXCL a dangling symlink is followed and its target created
      yield* g.open("/tmp/dangling", O_RDWR | O_CREAT)
      assert.strictEqual((yield* g.stat("/tmp/nothing")).mode & S_IFMT, S_IFREG)
      // O_CREAT on an existing file just opens it
      const fd = yield* g.open("/tmp/f", O_RDONLY | O_CREAT)
      assert.strictEqual(decode(yield* g.read(fd, 8)), "x")
    }))

  it.effect("ENOENT without O_CREAT, EINVAL for access mode 3, EISDIR creating with a trailing slash", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("/tmp/none"), O_RDONLY, 0)
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("/none/x"), O_RDWR | O_CREAT, 0o644)
      yield* g.fails(Errno.EINVAL, SYS.open, g.str("/dev/null"), 3, 0)
      yield* g.fails(Errno.EISDIR, SYS.open, g.str("/tmp/new/"), O_RDWR | O_CREAT, 0o644)
    }))

  it.effect("O_TRUNC empties an existing file", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "long contents")
      const fd = yield* g.open("/tmp/f", O_RDWR | O_TRUNC)
      assert.strictEqual((yield* g.fstat(fd)).size, 0n)
      assert.strictEqual((yield* g.read(fd, 10)).length, 0)
    }))

  it.effect("O_APPEND: every write goes to the end, pwrite too; the flag is kept as FFLAGS", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "abc")
      const fd = yield* g.open("/tmp/f", O_RDWR | O_APPEND)
      assert.strictEqual(descriptor(g, fd)?.file.flag, (O_RDWR + 1) | O_APPEND)
      yield* g.ok(SYS.lseek, fd, 0, 0, 0)
      yield* g.write(fd, "de")
      const data = g.mem.alloc(new TextEncoder().encode("f"))
      yield* g.ok(SYS.pwrite, fd, data, 1, 0, 0)
      assert.strictEqual(yield* g.readFile("/tmp/f"), "abcdef")
    }))

  it.effect("O_DIRECTORY on a file is ENOTDIR; a directory opened for writing (or O_TRUNC) is EISDIR", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.fails(Errno.ENOTDIR, SYS.open, g.str("/tmp/f"), O_RDONLY | O_DIRECTORY, 0)
      assert.strictEqual(yield* g.open("/tmp", O_RDONLY | O_DIRECTORY), 3)
      yield* g.fails(Errno.EISDIR, SYS.open, g.str("/tmp"), O_WRONLY, 0)
      yield* g.fails(Errno.EISDIR, SYS.open, g.str("/tmp"), O_RDWR, 0)
      yield* g.fails(Errno.EISDIR, SYS.open, g.str("/tmp"), O_RDONLY | O_TRUNC, 0)
      yield* g.fails(Errno.EISDIR, SYS.read, 3, g.buf(8), 8)
    }))

  it.effect("O_NOFOLLOW on a symlink is EFTYPE (79), not ELOOP", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.symlink, g.str("f"), g.str("/tmp/l"))
      assert.strictEqual(Errno.EFTYPE, 79)
      yield* g.fails(Errno.EFTYPE, SYS.open, g.str("/tmp/l"), O_RDONLY | O_NOFOLLOW, 0)
      assert.strictEqual(yield* g.open("/tmp/f", O_RDONLY | O_NOFOLLOW), 3)
      // only the last component is not followed
      yield* g.ok(SYS.symlink, g.str("/tmp"), g.str("/tmp/dirlink"))
      assert.strictEqual(yield* g.open("/tmp/dirlink/f", O_RDONLY | O_NOFOLLOW), 4)
    }))

  it.effect("O_CLOEXEC marks the descriptor close-on-exec", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const a = yield* g.open("/dev/null", O_RDONLY | O_CLOEXEC)
      const b = yield* g.open("/dev/null", O_RDONLY)
      assert.isTrue(descriptor(g, a)?.cloexec)
      assert.isFalse(descriptor(g, b)?.cloexec)
    }))

  it.effect("openat: relative to a dirfd; a file dirfd is ENOTDIR, a closed one EBADF; absolute paths ignore it", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "in tmp")
      const dir = yield* g.open("/tmp", O_RDONLY)
      const fd = Number(yield* g.ok(SYS.openat, dir, g.str("f"), O_RDONLY, 0))
      assert.strictEqual(decode(yield* g.read(fd, 16)), "in tmp")
      yield* g.fails(Errno.ENOTDIR, SYS.openat, fd, g.str("f"), O_RDONLY, 0)
      yield* g.fails(Errno.EBADF, SYS.openat, 99, g.str("f"), O_RDONLY, 0)
      yield* g.ok(SYS.openat, 99, g.str("/tmp/f"), O_RDONLY, 0)
      yield* g.ok(SYS.openat, AT_FDCWD, g.str("tmp/f"), O_RDONLY, 0)
    }))

  it.effect("EMFILE when the table is full (RLIMIT_NOFILE: 128 for a new guest)", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      for (let i = 3; i < 128; i++) yield* g.open("/dev/null", O_RDONLY)
      yield* g.fails(Errno.EMFILE, SYS.open, g.str("/dev/null"), O_RDONLY, 0)
      yield* g.fails(Errno.EMFILE, SYS.open, g.str("/tmp/new"), O_RDWR | O_CREAT, 0o644)
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str("/tmp/new"), g.buf(152))
    }))
})

describe("data", () => {
  it.effect("1 MiB written and read back; st_size and st_blocks", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const size = 1024 * 1024
      const data = new Uint8Array(size)
      for (let i = 0; i < size; i++) data[i] = (i * 7 + (i >> 12)) & 0xff
      const fd = yield* g.open("/tmp/big", O_RDWR | O_CREAT)
      assert.strictEqual(yield* g.ok(SYS.write, fd, g.mem.alloc(data), size), BigInt(size))
      const st = yield* g.fstat(fd)
      assert.strictEqual(st.size, BigInt(size))
      assert.strictEqual(st.blocks, BigInt(size / 512))
      assert.strictEqual(st.blksize, 4096)
      yield* g.ok(SYS.lseek, fd, 0, 0, 0)
      const back = g.buf(size)
      assert.strictEqual(yield* g.ok(SYS.read, fd, back, size), BigInt(size))
      assert.deepStrictEqual(g.bytes(back, size), data)
    }))

  it.effect("a sparse file: one byte at 1 GiB is one page of blocks, and the hole reads zeros", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const fd = yield* g.open("/tmp/sparse", O_RDWR | O_CREAT)
      const gib = 1024 * 1024 * 1024
      yield* g.ok(SYS.pwrite, fd, g.mem.alloc(new Uint8Array([42])), 1, 0, gib)
      const st = yield* g.fstat(fd)
      assert.strictEqual(st.size, BigInt(gib + 1))
      assert.strictEqual(st.blocks, 8n, "one 4 KiB page")
      const b = g.mem.alloc(new Uint8Array(4).fill(0xff))
      assert.strictEqual(yield* g.ok(SYS.pread, fd, b, 4, 0, gib - 3), 4n)
      assert.deepStrictEqual([...g.bytes(b, 4)], [0, 0, 0, 42])
    }))
})

describe("stat", () => {
  it.effect("__stat50 follows a symlink, __lstat50 does not; fstatat with AT_SYMLINK_NOFOLLOW", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "four")
      yield* g.ok(SYS.symlink, g.str("f"), g.str("/tmp/l"))
      const st = yield* g.stat("/tmp/l")
      const lst = yield* g.lstat("/tmp/l")
      assert.strictEqual(st.mode, S_IFREG | 0o644)
      assert.strictEqual(st.size, 4n)
      assert.strictEqual(lst.mode, S_IFLNK | 0o755)
      assert.strictEqual(lst.size, 1n)
      assert.notStrictEqual(st.ino, lst.ino)
      const b = g.buf(152)
      yield* g.ok(SYS.fstatat, AT_FDCWD, g.str("/tmp/l"), b, AT_SYMLINK_NOFOLLOW)
      assert.strictEqual(new DataView(g.bytes(b, 152).buffer).getUint32(8, true), S_IFLNK | 0o755)
      yield* g.fails(Errno.EINVAL, SYS.fstatat, AT_FDCWD, g.str("/tmp/l"), b, 0x1)
    }))

  it.effect("__fstat50: EBADF for a closed descriptor, EFAULT for a bad buffer", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.fails(Errno.EBADF, SYS.__fstat50, 7, g.buf(152))
      yield* g.fails(Errno.EFAULT, SYS.__fstat50, 1, 8)
    }))
})

describe("access", () => {
  it.effect("access and faccessat: existence, permission bits, bad modes and flags", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.access, g.str("/tmp/f"), F_OK)
      yield* g.ok(SYS.access, g.str("/tmp/f"), R_OK | W_OK)
      yield* g.fails(Errno.ENOENT, SYS.access, g.str("/tmp/none"), F_OK)
      yield* g.fails(Errno.EINVAL, SYS.access, g.str("/tmp/f"), 8)
      yield* g.ok(SYS.symlink, g.str("none"), g.str("/tmp/dangling"))
      yield* g.fails(Errno.ENOENT, SYS.faccessat, AT_FDCWD, g.str("/tmp/dangling"), F_OK, 0)
      yield* g.ok(SYS.faccessat, AT_FDCWD, g.str("/tmp/dangling"), F_OK, AT_SYMLINK_NOFOLLOW)
      yield* g.ok(SYS.faccessat, AT_FDCWD, g.str("/tmp/f"), R_OK, AT_EACCESS)
      yield* g.fails(Errno.EINVAL, SYS.faccessat, AT_FDCWD, g.str("/tmp/f"), R_OK, AT_SYMLINK_FOLLOW)
    }))
})

describe("chmod and chown", () => {
  it.effect("chmod, fchmod, fchmodat (the symlink itself with AT_SYMLINK_NOFOLLOW)", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.symlink, g.str("f"), g.str("/tmp/l"))
      yield* g.ok(SYS.chmod, g.str("/tmp/l"), 0o104711)
      assert.strictEqual((yield* g.stat("/tmp/f")).mode, S_IFREG | 0o4711, "type bits in the argument are ignored")
      const fd = yield* g.open("/tmp/f", O_RDONLY)
      yield* g.ok(SYS.fchmod, fd, 0o600)
      assert.strictEqual((yield* g.stat("/tmp/f")).mode, S_IFREG | 0o600)
      yield* g.ok(SYS.fchmodat, AT_FDCWD, g.str("/tmp/l"), 0o700, AT_SYMLINK_NOFOLLOW)
      assert.strictEqual((yield* g.lstat("/tmp/l")).mode, S_IFLNK | 0o700)
      assert.strictEqual((yield* g.stat("/tmp/f")).mode, S_IFREG | 0o600)
      yield* g.fails(Errno.EINVAL, SYS.fchmodat, AT_FDCWD, g.str("/tmp/l"), 0o700, 0x4)
      yield* g.fails(Errno.EBADF, SYS.fchmod, 9, 0o600)
      yield* g.fails(Errno.ENOENT, SYS.chmod, g.str("/tmp/none"), 0o600)
    }))

  it.effect("chown, lchown, fchown, fchownat; -1 leaves an id as it is", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.symlink, g.str("f"), g.str("/tmp/l"))
      yield* g.ok(SYS.chown, g.str("/tmp/l"), 10, 20)
      let st = yield* g.stat("/tmp/f")
      assert.deepStrictEqual([st.uid, st.gid], [10, 20])
      yield* g.ok(SYS.chown, g.str("/tmp/f"), 0xffffffff, 30)
      st = yield* g.stat("/tmp/f")
      assert.deepStrictEqual([st.uid, st.gid], [10, 30])
      yield* g.ok(SYS.lchown, g.str("/tmp/l"), 40, 0xffffffff)
      assert.strictEqual((yield* g.lstat("/tmp/l")).uid, 40)
      assert.strictEqual((yield* g.stat("/tmp/f")).uid, 10)
      const fd = yield* g.open("/tmp/f", O_RDONLY)
      yield* g.ok(SYS.fchown, fd, 50, 60)
      st = yield* g.stat("/tmp/f")
      assert.deepStrictEqual([st.uid, st.gid], [50, 60])
      yield* g.ok(SYS.fchownat, AT_FDCWD, g.str("/tmp/l"), 70, 80, AT_SYMLINK_NOFOLLOW)
      st = yield* g.lstat("/tmp/l")
      assert.deepStrictEqual([st.uid, st.gid], [70, 80])
      yield* g.fails(Errno.EINVAL, SYS.fchownat, AT_FDCWD, g.str("/tmp/l"), 1, 1, 0x800)
      yield* g.fails(Errno.EBADF, SYS.fchown, 9, 1, 1)
    }))
})

describe("times", () => {
  it.effect("__utimes50 sets both times from timevals; NULL means now; a bad tv_usec is EINVAL", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.__utimes50, g.str("/tmp/f"), timevals(g, [100n, 5], [200n, 7]))
      const st = yield* g.stat("/tmp/f")
      assert.deepStrictEqual(st.atime, [100n, 5000n])
      assert.deepStrictEqual(st.mtime, [200n, 7000n])
      yield* g.ok(SYS.__utimes50, g.str("/tmp/f"), 0)
      assert.isTrue((yield* g.stat("/tmp/f")).mtime[0] > 1_000_000_000n)
      yield* g.fails(Errno.EINVAL, SYS.__utimes50, g.str("/tmp/f"), timevals(g, [1n, 1_000_000], [1n, 0]))
      yield* g.fails(Errno.EINVAL, SYS.__utimes50, g.str("/tmp/f"), timevals(g, [1n, -1], [1n, 0]))
      yield* g.fails(Errno.EFAULT, SYS.__utimes50, g.str("/tmp/f"), 8)
    }))

  it.effect("__lutimes50 and __futimes50", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.symlink, g.str("f"), g.str("/tmp/l"))
      yield* g.ok(SYS.__lutimes50, g.str("/tmp/l"), timevals(g, [11n, 0], [12n, 0]))
      assert.strictEqual((yield* g.lstat("/tmp/l")).mtime[0], 12n)
      assert.notStrictEqual((yield* g.stat("/tmp/f")).mtime[0], 12n)
      const fd = yield* g.open("/tmp/f", O_RDONLY)
      yield* g.ok(SYS.__futimes50, fd, timevals(g, [13n, 0], [14n, 0]))
      assert.strictEqual((yield* g.stat("/tmp/f")).mtime[0], 14n)
    }))

  it.effect("utimensat and futimens: given times, UTIME_NOW, UTIME_OMIT, EINVAL for a bad tv_nsec or flag", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.utimensat, AT_FDCWD, g.str("/tmp/f"), timespecs(g, [300n, 1n], [400n, 2n]), 0)
      let st = yield* g.stat("/tmp/f")
      assert.deepStrictEqual(st.atime, [300n, 1n])
      assert.deepStrictEqual(st.mtime, [400n, 2n])
      const fd = yield* g.open("/tmp/f", O_RDONLY)
      yield* g.ok(SYS.futimens, fd, timespecs(g, [0n, BigInt(UTIME_OMIT)], [0n, BigInt(UTIME_NOW)]))
      st = yield* g.stat("/tmp/f")
      assert.deepStrictEqual(st.atime, [300n, 1n], "UTIME_OMIT keeps atime")
      assert.isTrue(st.mtime[0] > 1_000_000_000n, "UTIME_NOW")
      const ctime = st.ctime
      yield* g.ok(SYS.futimens, fd, timespecs(g, [5n, BigInt(UTIME_OMIT)], [6n, BigInt(UTIME_OMIT)]))
      assert.deepStrictEqual((yield* g.stat("/tmp/f")).ctime, ctime, "omitting both changes nothing")
      yield* g.fails(Errno.EINVAL, SYS.futimens, fd, timespecs(g, [1n, 1_000_000_000n], [1n, 0n]))
      yield* g.fails(Errno.EINVAL, SYS.utimensat, AT_FDCWD, g.str("/tmp/f"), timespecs(g, [1n, -1n], [1n, 0n]), 0)
      yield* g.fails(Errno.EINVAL, SYS.utimensat, AT_FDCWD, g.str("/tmp/f"), 0, 0x2)
      yield* g.ok(SYS.symlink, g.str("f"), g.str("/tmp/l"))
      yield* g.ok(SYS.utimensat, AT_FDCWD, g.str("/tmp/l"), timespecs(g, [7n, 0n], [8n, 0n]), AT_SYMLINK_NOFOLLOW)
      assert.strictEqual((yield* g.lstat("/tmp/l")).mtime[0], 8n)
      assert.notStrictEqual((yield* g.stat("/tmp/f")).mtime[0], 8n)
      yield* g.fails(Errno.EBADF, SYS.futimens, 9, 0)
    }))
})

describe("truncate", () => {
  it.effect("truncate and ftruncate grow (zeros) and shrink", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "abcdef")
      yield* g.ok(SYS.truncate, g.str("/tmp/f"), 0, 3)
      assert.strictEqual(yield* g.readFile("/tmp/f"), "abc")
      const fd = yield* g.open("/tmp/f", O_RDWR)
      yield* g.ok(SYS.ftruncate, fd, 0, 5)
      assert.strictEqual((yield* g.fstat(fd)).size, 5n)
      assert.deepStrictEqual([...(yield* g.read(fd, 10))], [97, 98, 99, 0, 0])
    }))

  it.effect("EINVAL for a negative length or a descriptor not open for writing; EISDIR for a directory", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "abc")
      yield* g.fails(Errno.EINVAL, SYS.truncate, g.str("/tmp/f"), 0, -1)
      yield* g.fails(Errno.EISDIR, SYS.truncate, g.str("/tmp"), 0, 0)
      yield* g.fails(Errno.ENOENT, SYS.truncate, g.str("/tmp/none"), 0, 0)
      const ro = yield* g.open("/tmp/f", O_RDONLY)
      yield* g.fails(Errno.EINVAL, SYS.ftruncate, ro, 0, 0)
      const rw = yield* g.open("/tmp/f", O_RDWR)
      yield* g.fails(Errno.EINVAL, SYS.ftruncate, rw, 0, -5)
      yield* g.fails(Errno.EBADF, SYS.ftruncate, 9, 0, 0)
      assert.strictEqual((yield* g.stat("/tmp/f")).size, 3n)
    }))
})

describe("umask", () => {
  it.effect("returns the old mask and keeps the new one masked with 07777", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      assert.strictEqual(yield* g.ok(SYS.umask, 0o177777), 0o022n)
      assert.strictEqual(yield* g.ok(SYS.umask, 0o077), 0o7777n)
      yield* g.open("/tmp/f", O_RDWR | O_CREAT, 0o666)
      assert.strictEqual((yield* g.stat("/tmp/f")).mode, S_IFREG | 0o600)
    }))
})

describe("links", () => {
  it.effect("link and linkat: another name for the same node; EEXIST, EPERM for a directory, ENOENT", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "shared")
      yield* g.ok(SYS.link, g.str("/tmp/f"), g.str("/tmp/g"))
      const [f, gg] = [yield* g.stat("/tmp/f"), yield* g.stat("/tmp/g")]
      assert.strictEqual(f.ino, gg.ino)
      assert.strictEqual(f.nlink, 2)
      yield* g.ok(SYS.unlink, g.str("/tmp/f"))
      assert.strictEqual((yield* g.stat("/tmp/g")).nlink, 1)
      assert.strictEqual(yield* g.readFile("/tmp/g"), "shared")
      yield* g.writeFile("/tmp/h", "x")
      yield* g.fails(Errno.EEXIST, SYS.link, g.str("/tmp/g"), g.str("/tmp/h"))
      yield* g.fails(Errno.EPERM, SYS.link, g.str("/tmp"), g.str("/tmp/dirlink"))
      yield* g.fails(Errno.ENOENT, SYS.link, g.str("/tmp/none"), g.str("/tmp/x"))
      yield* g.fails(Errno.ENOENT, SYS.link, g.str("/tmp/g"), g.str("/none/x"))
    }))

  it.effect("linkat links a symlink itself unless AT_SYMLINK_FOLLOW; other flags are EINVAL", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.symlink, g.str("f"), g.str("/tmp/l"))
      yield* g.ok(SYS.linkat, AT_FDCWD, g.str("/tmp/l"), AT_FDCWD, g.str("/tmp/l2"), 0)
      assert.strictEqual((yield* g.lstat("/tmp/l2")).mode & S_IFMT, S_IFLNK)
      assert.strictEqual((yield* g.lstat("/tmp/l")).nlink, 2)
      const dir = yield* g.open("/tmp", O_RDONLY)
      yield* g.ok(SYS.linkat, dir, g.str("l"), dir, g.str("f2"), AT_SYMLINK_FOLLOW)
      assert.strictEqual((yield* g.lstat("/tmp/f2")).ino, (yield* g.stat("/tmp/f")).ino)
      yield* g.fails(Errno.EINVAL, SYS.linkat, AT_FDCWD, g.str("/tmp/f"), AT_FDCWD, g.str("/tmp/f3"), AT_SYMLINK_NOFOLLOW)
    }))

  it.effect("symlink, symlinkat, readlink, readlinkat", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.ok(SYS.symlink, g.str("some/where"), g.str("/tmp/l"))
      const b = g.mem.alloc(new Uint8Array(32).fill(0xee))
      assert.strictEqual(yield* g.ok(SYS.readlink, g.str("/tmp/l"), b, 32), 10n)
      const got = g.bytes(b, 32)
      assert.strictEqual(decode(got.subarray(0, 10)), "some/where")
      assert.strictEqual(got[10], 0xee, "no NUL is written")
      assert.strictEqual(yield* g.ok(SYS.readlink, g.str("/tmp/l"), b, 4), 4n, "cut to the buffer")
      const dir = yield* g.open("/tmp", O_RDONLY)
      yield* g.ok(SYS.symlinkat, g.str("/abs"), dir, g.str("l2"))
      assert.strictEqual(yield* g.ok(SYS.readlinkat, dir, g.str("l2"), b, 32), 4n)
      assert.strictEqual(decode(g.bytes(b, 4)), "/abs")
      yield* g.fails(Errno.EEXIST, SYS.symlink, g.str("x"), g.str("/tmp/l"))
      yield* g.writeFile("/tmp/f", "x")
      yield* g.fails(Errno.EINVAL, SYS.readlink, g.str("/tmp/f"), b, 32)
      yield* g.fails(Errno.ENOENT, SYS.readlink, g.str("/tmp/none"), b, 32)
    }))

  it.effect("unlink: EPERM on a directory, ENOENT when missing; a symlink goes, not its target", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/tmp/d")
      yield* g.fails(Errno.EPERM, SYS.unlink, g.str("/tmp/d"))
      yield* g.fails(Errno.EINVAL, SYS.unlink, g.str("/tmp/d/."))
      yield* g.fails(Errno.EBUSY, SYS.unlink, g.str("/"))
      yield* g.fails(Errno.ENOENT, SYS.unlink, g.str("/tmp/none"))
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.symlink, g.str("f"), g.str("/tmp/l"))
      yield* g.ok(SYS.unlink, g.str("/tmp/l"))
      yield* g.fails(Errno.ENOENT, SYS.__lstat50, g.str("/tmp/l"), g.buf(152))
      assert.strictEqual(yield* g.readFile("/tmp/f"), "x")
    }))
})

describe("fchdir", () => {
  it.effect("changes the cwd to a directory descriptor; ENOTDIR for a file, EBADF for a closed fd", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/tmp/d")
      const dir = yield* g.open("/tmp/d", O_RDONLY)
      yield* g.ok(SYS.fchdir, dir)
      const b = g.buf(64)
      assert.strictEqual(yield* g.ok(SYS.__getcwd, b, 64), 7n)
      assert.strictEqual(g.mem.readString(b, 64), "/tmp/d")
      const file = yield* g.open("/dev/null", O_RDONLY)
      yield* g.fails(Errno.ENOTDIR, SYS.fchdir, file)
      yield* g.fails(Errno.EBADF, SYS.fchdir, 42)
    }))
})
