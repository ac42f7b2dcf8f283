import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Errno, openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { boot, decode, type Guest, peek } from "./support/SyscallHarness.ts"

const AT_FDCWD = -100
const { O_RDONLY, O_WRONLY, O_CREAT, O_DIRECTORY } = openFlags

const path = (g: Guest, p: string) => g.mem.allocString(p)

/** A tree: /jail/etc/motd, /jail/bin, /outside (a file), /tmp/inside-tmp. */
const setUp = (g: Guest) =>
  Effect.gen(function*() {
    for (const d of ["/jail", "/jail/etc", "/jail/bin"]) assert.strictEqual((yield* g.call(SYS.mkdir, path(g, d), 0o755)).error, 0)
    for (const f of ["/jail/etc/motd", "/outside"]) {
      const r = yield* g.call(SYS.open, path(g, f), O_WRONLY | O_CREAT, 0o644)
      assert.strictEqual(r.error, 0)
      yield* g.call(SYS.close, r.retval0)
    }
  })

const exists = (g: Guest, p: string) => Effect.map(g.call(SYS.__stat50, path(g, p), g.mem.alloc(152)), (r) => r.error)

const getcwd = (g: Guest) =>
  Effect.gen(function*() {
    const buf = g.mem.alloc(256)
    const r = yield* g.call(SYS.__getcwd, buf, 256)
    assert.strictEqual(r.error, 0)
    return decode(peek(g, buf, Number(r.retval0) - 1))
  })

describe("chroot", () => {
  it.effect("\"/\", \"..\" and \"/../..\" stay inside; a file outside cannot be named; the cwd moves to the new root", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      yield* setUp(g)
      assert.strictEqual((yield* g.call(SYS.chroot, path(g, "/jail"))).error, 0)
      assert.strictEqual(yield* getcwd(g), "/")
      assert.strictEqual(yield* exists(g, "/etc/motd"), 0)
      assert.strictEqual(yield* exists(g, "/outside"), Errno.ENOENT)
      assert.strictEqual(yield* exists(g, "../outside"), Errno.ENOENT)
      assert.strictEqual(yield* exists(g, "/../../outside"), Errno.ENOENT)
      assert.strictEqual(yield* exists(g, "/../../etc/motd"), 0)
      assert.strictEqual(yield* exists(g, "/jail"), Errno.ENOENT)
      assert.strictEqual((yield* g.call(SYS.chdir, path(g, "/etc"))).error, 0)
      assert.strictEqual(yield* getcwd(g), "/etc")
      assert.strictEqual((yield* g.call(SYS.chdir, path(g, "../../.."))).error, 0)
      assert.strictEqual(yield* getcwd(g), "/")
      // an absolute symlink resolves inside too
      assert.strictEqual((yield* g.call(SYS.symlink, path(g, "/etc/motd"), path(g, "/bin/link"))).error, 0)
      assert.strictEqual(yield* exists(g, "/bin/link"), 0)
      assert.strictEqual((yield* g.call(SYS.issetugid)).retval0, 1n)
    }))

  it.effect("a cwd already inside stays, and getcwd is relative to the new root; a fork child inherits the root", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      yield* setUp(g)
      assert.strictEqual((yield* g.call(SYS.chdir, path(g, "/jail/etc"))).error, 0)
      assert.strictEqual((yield* g.call(SYS.chroot, path(g, "/jail"))).error, 0)
      assert.strictEqual(yield* getcwd(g), "/etc")
      const child = yield* k.guest({ parent: g })
      assert.strictEqual(yield* getcwd(child), "/etc")
      assert.strictEqual(yield* exists(child, "/outside"), Errno.ENOENT)
      assert.strictEqual(yield* exists(child, "/etc/motd"), 0)
    }))

  it.effect("errors: EPERM for a non-root caller before anything else; ENOTDIR, ENOENT, EFAULT", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      yield* setUp(g)
      assert.strictEqual((yield* g.call(SYS.chroot, path(g, "/outside"))).error, Errno.ENOTDIR)
      assert.strictEqual((yield* g.call(SYS.chroot, path(g, "/nowhere"))).error, Errno.ENOENT)
      assert.strictEqual((yield* g.call(SYS.chroot, 0x10n)).error, Errno.EFAULT)
      assert.strictEqual(g.proc.rdir, undefined)
      assert.strictEqual((yield* g.call(SYS.setuid, 1000)).error, 0)
      assert.strictEqual((yield* g.call(SYS.chroot, path(g, "/jail"))).error, Errno.EPERM)
      assert.strictEqual((yield* g.call(SYS.chroot, 0x10n)).error, Errno.EPERM)
      assert.strictEqual((yield* g.call(SYS.fchroot, 0)).error, Errno.EPERM)
    }))
})

describe("fchroot", () => {
  it.effect("a descriptor of the old root kept open gets the process out again", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      yield* setUp(g)
      const root = Number((yield* g.call(SYS.open, path(g, "/"), O_RDONLY | O_DIRECTORY)).retval0)
      assert.strictEqual((yield* g.call(SYS.chroot, path(g, "/jail"))).error, 0)
      assert.strictEqual(yield* exists(g, "/outside"), Errno.ENOENT)
      assert.strictEqual((yield* g.call(SYS.fchroot, root)).error, 0)
      assert.strictEqual(yield* exists(g, "/outside"), 0)
      assert.strictEqual(yield* exists(g, "/jail/etc/motd"), 0)
    }))

  it.effect("into a directory on a descriptor; EBADF, EINVAL for a pipe, ENOTDIR for a file", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      yield* setUp(g)
      const jail = Number((yield* g.call(SYS.open, path(g, "/jail"), O_RDONLY | O_DIRECTORY)).retval0)
      const file = Number((yield* g.call(SYS.open, path(g, "/outside"), O_RDONLY)).retval0)
      const pipe = Number((yield* g.call(SYS.pipe)).retval0)
      assert.strictEqual((yield* g.call(SYS.fchroot, 99)).error, Errno.EBADF)
      assert.strictEqual((yield* g.call(SYS.fchroot, pipe)).error, Errno.EINVAL)
      assert.strictEqual((yield* g.call(SYS.fchroot, file)).error, Errno.ENOTDIR)
      assert.strictEqual((yield* g.call(SYS.fchroot, jail)).error, 0)
      assert.strictEqual(yield* exists(g, "/etc/motd"), 0)
      assert.strictEqual(yield* getcwd(g), "/")
    }))
})

describe("descriptors from before a chroot", () => {
  it.effect("fchdir to one outside is EPERM; a lookup relative to one is not held in (as on NetBSD)", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      yield* setUp(g)
      const tmp = Number((yield* g.call(SYS.open, path(g, "/tmp"), O_RDONLY | O_DIRECTORY)).retval0)
      const etc = Number((yield* g.call(SYS.open, path(g, "/jail/etc"), O_RDONLY | O_DIRECTORY)).retval0)
      assert.strictEqual((yield* g.call(SYS.chroot, path(g, "/jail"))).error, 0)
      assert.strictEqual((yield* g.call(SYS.fchdir, tmp)).error, Errno.EPERM)
      assert.strictEqual(yield* getcwd(g), "/")
      assert.strictEqual((yield* g.call(SYS.fchdir, etc)).error, 0)
      assert.strictEqual(yield* getcwd(g), "/etc")
      const st = g.mem.alloc(152)
      assert.strictEqual((yield* g.call(SYS.fstatat, tmp, path(g, "../outside"), st, 0)).error, 0)
      assert.strictEqual((yield* g.call(SYS.fstatat, AT_FDCWD, path(g, "../outside"), st, 0)).error, Errno.ENOENT)
    }))
})
