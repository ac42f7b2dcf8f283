import { assert, describe, it } from "@effect/vitest"
import { STATVFS_SIZE } from "@sysproxy/protocol"
import { Errno, mountFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { type Guest, makeGuest, O_CREAT, O_RDONLY, O_RDWR, O_WRONLY, tmpfsArgs } from "./VfsGuest.ts"
import { Cred } from "../src/kauth/Cred.ts"

const { MNT_FORCE } = mountFlags

const mount = (g: Guest, at: string) =>
  Effect.gen(function*() {
    yield* g.mkdir(at)
    yield* g.ok(SYS.__mount50, g.str("tmpfs"), g.str(at), 0, g.mem.alloc(tmpfsArgs()), 40)
  })

const mountCount = (g: Guest) => g.ok(SYS.getvfsstat, 0, STATVFS_SIZE, 1)

describe("unmount", () => {
  it.effect("unmounts a tmpfs: its files are gone, the mount point shows what it covered, getvfsstat no longer lists it", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* mount(g, "/mnt")
      yield* g.writeFile("/mnt/f", new Uint8Array(10 * 4096))
      const used = g.kernel.kernel.state.vfs.memory.usedPages
      assert.strictEqual(yield* mountCount(g), 2n)
      yield* g.ok(SYS.unmount, g.str("/mnt"), 0)
      assert.strictEqual(yield* mountCount(g), 1n)
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str("/mnt/f"), g.buf(152))
      assert.strictEqual((yield* g.stat("/mnt")).dev, (yield* g.stat("/")).dev)
      assert.strictEqual(g.kernel.kernel.state.vfs.memory.usedPages, used - 10, "its pages went back")
      yield* g.ok(SYS.rmdir, g.str("/mnt"))
    }))

  it.effect("EBUSY while a file is open on it, a process has its cwd in it, or a file system is mounted on it", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* mount(g, "/mnt")
      const fd = yield* g.open("/mnt/f", O_WRONLY | O_CREAT)
      yield* g.fails(Errno.EBUSY, SYS.unmount, g.str("/mnt"), 0)
      yield* g.close(fd)
      yield* g.ok(SYS.chdir, g.str("/mnt"))
      yield* g.fails(Errno.EBUSY, SYS.unmount, g.str("/mnt"), 0)
      yield* g.ok(SYS.chdir, g.str("/"))
      yield* mount(g, "/mnt/inner")
      yield* g.fails(Errno.EBUSY, SYS.unmount, g.str("/mnt"), MNT_FORCE)
      yield* g.ok(SYS.unmount, g.str("/mnt/inner"), 0)
      yield* g.ok(SYS.unmount, g.str("/mnt"), 0)
    }))

  it.effect("MNT_FORCE unmounts it anyway: its open files are revoked (EIO to read and write, EBADF to fstat)", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* mount(g, "/mnt")
      yield* g.writeFile("/mnt/f", "data")
      const fd = yield* g.open("/mnt/f", O_RDWR)
      yield* g.ok(SYS.unmount, g.str("/mnt"), MNT_FORCE)
      yield* g.fails(Errno.EIO, SYS.read, fd, g.buf(4), 4)
      yield* g.fails(Errno.EIO, SYS.write, fd, g.mem.alloc(new Uint8Array(1)), 1)
      yield* g.fails(Errno.EBADF, SYS.__fstat50, fd, g.buf(152))
      yield* g.fails(Errno.EBADF, SYS.fchmod, fd, 0o600)
      yield* g.ok(SYS.fsync, fd)
      yield* g.close(fd)
    }))

  it.effect("EINVAL for the root file system and for a path that is no mount's root; ENOENT; EPERM for a non-superuser", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* mount(g, "/mnt")
      yield* g.mkdir("/mnt/sub")
      yield* g.fails(Errno.EINVAL, SYS.unmount, g.str("/"), 0)
      yield* g.fails(Errno.EINVAL, SYS.unmount, g.str("/mnt/sub"), 0)
      yield* g.fails(Errno.EINVAL, SYS.unmount, g.str("/tmp"), 0)
      yield* g.ok(SYS.symlink, g.str("/mnt"), g.str("/tmp/l"))
      yield* g.fails(Errno.EINVAL, SYS.unmount, g.str("/tmp/l"), 0)
      yield* g.fails(Errno.ENOENT, SYS.unmount, g.str("/nope"), 0)
      const p = g.kernel.kernel.state.procs.get(g.process.pid)
      if (p !== undefined) p.cred = Cred.of(1000, 0)
      yield* g.fails(Errno.ENOENT, SYS.unmount, g.str("/nope"), 0)
      yield* g.fails(Errno.EPERM, SYS.unmount, g.str("/mnt"), 0)
    }))
})

describe("revoke", () => {
  it.effect("open files on the node die; the node itself stays and opens anew", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "data")
      const fd = yield* g.open("/tmp/f", O_RDONLY)
      const dup = Number(yield* g.ok(SYS.dup, fd))
      yield* g.ok(SYS.revoke, g.str("/tmp/f"))
      yield* g.fails(Errno.EIO, SYS.read, fd, g.buf(4), 4)
      yield* g.fails(Errno.EIO, SYS.read, dup, g.buf(4), 4)
      assert.strictEqual(yield* g.readFile("/tmp/f"), "data")
    }))

  it.effect("a device node revokes every node of the same device; others' files are EPERM for a non-superuser", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const rdev = (yield* g.stat("/dev/null")).rdev
      yield* g.ok(SYS.__mknod50, g.str("/tmp/null"), 0o020666, rdev)
      const fd = yield* g.open("/dev/null", O_WRONLY)
      yield* g.ok(SYS.revoke, g.str("/tmp/null"))
      yield* g.fails(Errno.EIO, SYS.write, fd, g.mem.alloc(new Uint8Array(1)), 1)
      const p = g.kernel.kernel.state.procs.get(g.process.pid)
      if (p !== undefined) p.cred = Cred.of(1000, 0)
      yield* g.fails(Errno.EPERM, SYS.revoke, g.str("/dev/null"))
      yield* g.fails(Errno.ENOENT, SYS.revoke, g.str("/nope"))
    }))
})
