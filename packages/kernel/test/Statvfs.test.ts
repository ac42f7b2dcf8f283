import { assert, describe, it } from "@effect/vitest"
import { decodeStatvfs, STATVFS_SIZE } from "@sysproxy/protocol"
import { Errno, mountFlags, pathconf, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { type Guest, makeGuest, O_CREAT, O_RDONLY, O_WRONLY, tmpfsArgs } from "./VfsGuest.ts"

const ST_WAIT = 1
const ST_NOWAIT = 2
const NODEV = 0xffff_ffff_ffff_ffffn

const mountTmpfs = (g: Guest, at: string, o: Parameters<typeof tmpfsArgs>[0] = {}, flags = 0) =>
  Effect.gen(function*() {
    yield* g.mkdir(at)
    yield* g.ok(SYS.__mount50, g.str("tmpfs"), g.str(at), flags, g.mem.alloc(tmpfsArgs(o)), 40)
  })

const statvfs = (g: Guest, path: string, flags = ST_WAIT) =>
  Effect.gen(function*() {
    const buf = g.buf(STATVFS_SIZE)
    yield* g.ok(SYS.statvfs1, g.str(path), buf, flags)
    return decodeStatvfs(g.bytes(buf, STATVFS_SIZE))
  })

describe("statvfs1", () => {
  it.effect("/ is the root tmpfs: its names, page sizes, MNT_ROOTFS|MNT_LOCAL, f_fsid the st_dev of its files", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest({ physmem: 64 * 1024 * 1024 })
      const s = yield* statvfs(g, "/")
      assert.strictEqual(s.fstypename, "tmpfs")
      assert.strictEqual(s.mntonname, "/")
      assert.strictEqual(s.mntfromname, "tmpfs")
      assert.strictEqual(s.flag, mountFlags.MNT_ROOTFS | mountFlags.MNT_LOCAL)
      assert.deepStrictEqual([s.bsize, s.frsize, s.iosize], [4096, 4096, 4096])
      assert.strictEqual(s.namemax, 255)
      assert.strictEqual(s.owner, 0)
      // nothing stored yet: every page of the machine is free
      assert.strictEqual(s.blocks, 64 * 1024 * 1024 / 4096)
      assert.strictEqual(s.bfree, s.blocks)
      assert.strictEqual(s.bavail, s.bfree)
      assert.strictEqual(s.files - s.ffree, 6, "/, /dev, /tmp and the three devices")
      assert.strictEqual(s.fsid, Number((yield* g.stat("/tmp")).dev))
      assert.strictEqual(s.fsidx[0], s.fsid)
    }))

  it.effect("a tmpfs mount: its mount point as given, its size limit, pages and nodes used as files are written", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* mountTmpfs(g, "/mnt", { sizeMax: 40n * 4096n, nodesMax: 100n })
      const before = yield* statvfs(g, "/mnt/")
      assert.strictEqual(before.mntonname, "/mnt")
      assert.strictEqual(before.flag, mountFlags.MNT_LOCAL)
      assert.strictEqual(before.blocks, 40)
      assert.strictEqual(before.bfree, 40)
      assert.strictEqual(before.files, 100, "nodes_max")
      assert.strictEqual(before.ffree, 99)
      assert.notStrictEqual(before.fsid, (yield* statvfs(g, "/")).fsid)
      yield* g.writeFile("/mnt/f", new Uint8Array(3 * 4096 + 1))
      const after = yield* statvfs(g, "/mnt/f")
      assert.strictEqual(after.bfree, 36)
      assert.strictEqual(after.ffree, 98)
      assert.strictEqual(after.fsid, Number((yield* g.stat("/mnt/f")).dev))
    }))

  it.effect("f_mntonname is the path as mount was given it; the mount flags show in f_flag", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/a")
      yield* g.ok(SYS.chdir, g.str("/a"))
      yield* mountTmpfs(g, "m", {}, mountFlags.MNT_NOEXEC | mountFlags.MNT_NOSUID)
      const s = yield* statvfs(g, "/a/m")
      assert.strictEqual(s.mntonname, "m")
      assert.strictEqual(s.flag, mountFlags.MNT_NOEXEC | mountFlags.MNT_NOSUID | mountFlags.MNT_LOCAL)
    }))

  it.effect("ST_NOWAIT answers the figures of the last fresh call; ST_WAIT and 0 refresh them", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* mountTmpfs(g, "/mnt", { sizeMax: 10n * 4096n })
      assert.strictEqual((yield* statvfs(g, "/mnt", 0)).bfree, 10)
      yield* g.writeFile("/mnt/f", new Uint8Array(4096))
      assert.strictEqual((yield* statvfs(g, "/mnt", ST_NOWAIT)).bfree, 10, "remembered")
      assert.strictEqual((yield* statvfs(g, "/mnt", 3)).bfree, 10, "MNT_LAZY too")
      assert.strictEqual((yield* statvfs(g, "/mnt", ST_WAIT)).bfree, 9)
      assert.strictEqual((yield* statvfs(g, "/mnt", ST_NOWAIT)).bfree, 9)
    }))

  it.effect("errors: ENOENT, ENOTDIR on the way, EFAULT for the buffer", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.fails(Errno.ENOENT, SYS.statvfs1, g.str("/nope"), g.buf(STATVFS_SIZE), ST_WAIT)
      yield* g.fails(Errno.ENOTDIR, SYS.statvfs1, g.str("/tmp/f/x"), g.buf(STATVFS_SIZE), ST_WAIT)
      yield* g.fails(Errno.EFAULT, SYS.statvfs1, g.str("/"), 0x10n, ST_WAIT)
      yield* g.fails(Errno.EFAULT, SYS.statvfs1, 0x10n, g.buf(STATVFS_SIZE), ST_WAIT)
    }))
})

describe("fstatvfs1", () => {
  it.effect("the file system of an open file; EBADF for a closed fd, EINVAL for a pipe", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* mountTmpfs(g, "/mnt")
      const fd = yield* g.open("/mnt", O_RDONLY)
      const buf = g.buf(STATVFS_SIZE)
      yield* g.ok(SYS.fstatvfs1, fd, buf, ST_WAIT)
      assert.strictEqual(decodeStatvfs(g.bytes(buf, STATVFS_SIZE)).mntonname, "/mnt")
      yield* g.ok(SYS.fstatvfs1, 1, buf, ST_WAIT)
      assert.strictEqual(decodeStatvfs(g.bytes(buf, STATVFS_SIZE)).mntonname, "/", "the console is on /")
      yield* g.fails(Errno.EBADF, SYS.fstatvfs1, 99, buf, ST_WAIT)
      const fds = g.buf(8)
      yield* g.ok(SYS.pipe2, fds, 0)
      yield* g.fails(Errno.EINVAL, SYS.fstatvfs1, new DataView(g.bytes(fds, 4).buffer).getInt32(0, true), buf, ST_WAIT)
    }))
})

describe("getvfsstat", () => {
  it.effect("lists every mount in mount order; a NULL buffer counts them; a short buffer takes what fits", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* mountTmpfs(g, "/mnt")
      yield* mountTmpfs(g, "/mnt/inner")
      yield* mountTmpfs(g, "/tmp/t")
      assert.strictEqual(yield* g.ok(SYS.getvfsstat, 0, 0, ST_WAIT), 4n)
      const buf = g.buf(4 * STATVFS_SIZE)
      assert.strictEqual(yield* g.ok(SYS.getvfsstat, buf, 4 * STATVFS_SIZE, ST_NOWAIT), 4n)
      const names = [0, 1, 2, 3].map((i) => decodeStatvfs(g.bytes(buf + BigInt(i * STATVFS_SIZE), STATVFS_SIZE)))
      assert.deepStrictEqual(names.map((s) => s.mntonname), ["/", "/mnt", "/mnt/inner", "/tmp/t"])
      assert.isTrue(names.every((s) => s.fstypename === "tmpfs"))
      assert.strictEqual(new Set(names.map((s) => s.fsid)).size, 4)
      const two = g.buf(2 * STATVFS_SIZE + 100)
      assert.strictEqual(yield* g.ok(SYS.getvfsstat, two, 2 * STATVFS_SIZE + 100, ST_WAIT), 2n)
      assert.strictEqual(yield* g.ok(SYS.getvfsstat, two, 10, ST_WAIT), 0n)
      yield* g.fails(Errno.EFAULT, SYS.getvfsstat, 0x10n, STATVFS_SIZE, ST_WAIT)
    }))
})

describe("under a chroot", () => {
  it.effect("names lose the chroot's path, mounts outside are left out, a stand-in \"/\" comes last; a mount made inside keeps its whole path", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/jail")
      yield* mountTmpfs(g, "/jail/mnt")
      yield* mountTmpfs(g, "/other")
      const outside = yield* g.open("/other", O_RDONLY)
      yield* g.ok(SYS.chroot, g.str("/jail"))
      assert.strictEqual((yield* statvfs(g, "/mnt")).mntonname, "/mnt")
      assert.strictEqual((yield* statvfs(g, "/")).mntonname, "/", "the root file system, outside, is \"/\"")
      const fbuf = g.buf(STATVFS_SIZE)
      yield* g.ok(SYS.fstatvfs1, outside, fbuf, ST_WAIT)
      assert.strictEqual(decodeStatvfs(g.bytes(fbuf, STATVFS_SIZE)).mntonname, "/", "a descriptor from outside too")
      // every mount counted, and the stand-in root
      assert.strictEqual(yield* g.ok(SYS.getvfsstat, 0, 0, ST_WAIT), 4n)
      const buf = g.buf(4 * STATVFS_SIZE)
      assert.strictEqual(yield* g.ok(SYS.getvfsstat, buf, 4 * STATVFS_SIZE, ST_WAIT), 2n)
      const list = [0, 1].map((i) => decodeStatvfs(g.bytes(buf + BigInt(i * STATVFS_SIZE), STATVFS_SIZE)))
      assert.deepStrictEqual(list.map((s) => s.mntonname), ["/mnt", "/"])
      assert.strictEqual(list[1]!.fsid, (yield* statvfs(g, "/")).fsid, "the stand-in is the chroot's own file system")
      // room for one: "/mnt" fits, and the stand-in goes after it anyway (do_sys_getvfsstat writes it past the end)
      const one = g.buf(2 * STATVFS_SIZE)
      assert.strictEqual(yield* g.ok(SYS.getvfsstat, one, STATVFS_SIZE, ST_WAIT), 1n)
      assert.strictEqual(decodeStatvfs(g.bytes(one + BigInt(STATVFS_SIZE), STATVFS_SIZE)).mntonname, "/")
      // a mount made inside: its whole path is stored, the chroot sees its own
      yield* mountTmpfs(g, "/m2")
      assert.deepStrictEqual(g.kernel.kernel.state.vfs.mounts.map((m) => m.onName), ["/", "/jail/mnt", "/other", "/jail/m2"])
      assert.strictEqual((yield* statvfs(g, "/m2")).mntonname, "/m2")
    }))
})

describe("pathconf and fpathconf", () => {
  it.effect("tmpfs answers its limits; other names are EINVAL", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const pc = (name: number) => g.ok(SYS.pathconf, g.str("/tmp"), name)
      assert.strictEqual(yield* pc(pathconf._PC_LINK_MAX), 32767n)
      assert.strictEqual(yield* pc(pathconf._PC_NAME_MAX), 255n)
      assert.strictEqual(yield* pc(pathconf._PC_PATH_MAX), 1024n)
      assert.strictEqual(yield* pc(pathconf._PC_PIPE_BUF), 512n)
      assert.strictEqual(yield* pc(pathconf._PC_CHOWN_RESTRICTED), 1n)
      assert.strictEqual(yield* pc(pathconf._PC_NO_TRUNC), 1n)
      assert.strictEqual(yield* pc(pathconf._PC_SYNC_IO), 1n)
      assert.strictEqual(yield* pc(pathconf._PC_FILESIZEBITS), 64n)
      for (const name of [pathconf._PC_MAX_CANON, pathconf._PC_VDISABLE, pathconf._PC_SYMLINK_MAX, 0, 99]) {
        yield* g.fails(Errno.EINVAL, SYS.pathconf, g.str("/tmp"), name)
      }
      yield* g.fails(Errno.ENOENT, SYS.pathconf, g.str("/nope"), pathconf._PC_NAME_MAX)
    }))

  it.effect("a device answers as specfs; a pipe only _PC_PIPE_BUF; a closed fd EBADF", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      assert.strictEqual(yield* g.ok(SYS.pathconf, g.str("/dev/null"), pathconf._PC_MAX_CANON), 255n)
      assert.strictEqual(yield* g.ok(SYS.pathconf, g.str("/dev/null"), pathconf._PC_VDISABLE), 255n)
      yield* g.fails(Errno.EINVAL, SYS.pathconf, g.str("/dev/null"), pathconf._PC_NAME_MAX)
      assert.strictEqual(yield* g.ok(SYS.fpathconf, 1, pathconf._PC_MAX_INPUT), 255n, "the console")
      const fd = yield* g.open("/tmp/f", O_WRONLY | O_CREAT)
      assert.strictEqual(yield* g.ok(SYS.fpathconf, fd, pathconf._PC_NAME_MAX), 255n)
      const fds = g.buf(8)
      yield* g.ok(SYS.pipe2, fds, 0)
      const rfd = new DataView(g.bytes(fds, 4).buffer).getInt32(0, true)
      assert.strictEqual(yield* g.ok(SYS.fpathconf, rfd, pathconf._PC_PIPE_BUF), 512n)
      yield* g.fails(Errno.EINVAL, SYS.fpathconf, rfd, pathconf._PC_LINK_MAX)
      yield* g.fails(Errno.EBADF, SYS.fpathconf, 99, pathconf._PC_PIPE_BUF)
    }))

  it.effect("a kqueue answers nothing: EINVAL for every name (sys_fpathconf's DTYPE_KQUEUE)", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const kq = Number(yield* g.ok(SYS.kqueue))
      for (const name of [pathconf._PC_LINK_MAX, pathconf._PC_PIPE_BUF, pathconf._PC_NAME_MAX]) {
        yield* g.fails(Errno.EINVAL, SYS.fpathconf, kq, name)
      }
    }))
})

describe("st_rdev", () => {
  it.effect("a file that is no device shows NODEV; a device its numbers", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.symlink, g.str("f"), g.str("/tmp/l"))
      assert.strictEqual((yield* g.stat("/tmp/f")).rdev, NODEV)
      assert.strictEqual((yield* g.stat("/tmp")).rdev, NODEV)
      assert.strictEqual((yield* g.lstat("/tmp/l")).rdev, NODEV)
      assert.strictEqual((yield* g.stat("/dev/null")).rdev, 0x202n)
    }))
})
