import { assert, describe, it } from "@effect/vitest"
import { chflags, Errno, modeBits, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { type Guest, makeGuest, O_APPEND, O_CREAT, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY } from "./VfsGuest.ts"
import { Cred } from "../src/kauth/Cred.ts"

const { UF_IMMUTABLE, UF_APPEND, UF_NODUMP, SF_IMMUTABLE, SF_APPEND, SF_ARCHIVED } = chflags
const { S_ISUID, S_ISGID, S_IFLNK } = modeBits

const setFlags = (g: Guest, path: string, flags: number | bigint) => g.ok(SYS.chflags, g.str(path), flags)

const asUser = (g: Guest, uid: number) =>
  Effect.sync(() => {
    const p = g.kernel.kernel.state.procs.get(g.process.pid)
    if (p === undefined) throw new Error("no process")
    p.cred = Cred.of(uid, uid)
  })

describe("chflags, lchflags, fchflags", () => {
  it.live("set st_flags; the change time moves; (u_long)-1 changes nothing", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      const before = yield* g.stat("/tmp/f")
      yield* Effect.sleep("2 millis")
      yield* setFlags(g, "/tmp/f", UF_NODUMP | SF_ARCHIVED)
      const after = yield* g.stat("/tmp/f")
      assert.strictEqual(after.flags, UF_NODUMP | SF_ARCHIVED)
      assert.notDeepEqual(after.ctime, before.ctime)
      yield* setFlags(g, "/tmp/f", 0xffff_ffff_ffff_ffffn)
      assert.strictEqual((yield* g.stat("/tmp/f")).flags, UF_NODUMP | SF_ARCHIVED)
      const fd = yield* g.open("/tmp/f", O_RDONLY)
      yield* g.ok(SYS.fchflags, fd, 0)
      assert.strictEqual((yield* g.stat("/tmp/f")).flags, 0)
      yield* g.ok(SYS.symlink, g.str("f"), g.str("/tmp/l"))
      yield* g.ok(SYS.lchflags, g.str("/tmp/l"), UF_NODUMP)
      assert.strictEqual((yield* g.lstat("/tmp/l")).flags, UF_NODUMP)
      assert.strictEqual((yield* g.stat("/tmp/l")).flags, 0, "chflags follows, lchflags does not")
      yield* g.fails(Errno.ENOENT, SYS.chflags, g.str("/tmp/nope"), 0)
      yield* g.fails(Errno.EBADF, SYS.fchflags, 99, 0)
    }))

  it.effect("the owner sets user flags only; system flags and others' files are EPERM; the superuser may do anything", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/mine", "x")
      yield* g.writeFile("/tmp/root", "x")
      yield* g.ok(SYS.chown, g.str("/tmp/mine"), 1000, 1000)
      yield* setFlags(g, "/tmp/mine", SF_ARCHIVED)
      yield* asUser(g, 1000)
      yield* setFlags(g, "/tmp/mine", UF_NODUMP | SF_ARCHIVED)
      assert.strictEqual((yield* g.stat("/tmp/mine")).flags, UF_NODUMP | SF_ARCHIVED)
      yield* setFlags(g, "/tmp/mine", UF_APPEND | SF_ARCHIVED)
      assert.strictEqual((yield* g.stat("/tmp/mine")).flags, UF_APPEND | SF_ARCHIVED)
      // dropping a system flag
      yield* g.fails(Errno.EPERM, SYS.chflags, g.str("/tmp/mine"), UF_NODUMP)
      yield* g.fails(Errno.EPERM, SYS.chflags, g.str("/tmp/mine"), SF_ARCHIVED | SF_IMMUTABLE)
      yield* g.fails(Errno.EPERM, SYS.chflags, g.str("/tmp/root"), UF_NODUMP)
      yield* asUser(g, 0)
      yield* setFlags(g, "/tmp/mine", SF_IMMUTABLE)
      yield* setFlags(g, "/tmp/mine", 0)
      assert.strictEqual((yield* g.stat("/tmp/mine")).flags, 0)
    }))

  it.effect("a device node's flags are the superuser's alone, even for its owner (genfs_can_chflags); a fifo's are its owner's", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const nullDev = (yield* g.stat("/dev/null")).rdev
      yield* g.ok(SYS.__mknod50, g.str("/tmp/null"), modeBits.S_IFCHR | 0o666, nullDev)
      yield* g.ok(SYS.mkfifo, g.str("/tmp/fifo"), 0o666)
      yield* g.ok(SYS.chown, g.str("/tmp/null"), 1000, 1000)
      yield* g.ok(SYS.chown, g.str("/tmp/fifo"), 1000, 1000)
      yield* asUser(g, 1000)
      yield* g.fails(Errno.EPERM, SYS.chflags, g.str("/tmp/null"), UF_NODUMP)
      yield* setFlags(g, "/tmp/fifo", UF_NODUMP)
      yield* asUser(g, 0)
      yield* setFlags(g, "/tmp/null", UF_NODUMP)
      assert.strictEqual((yield* g.stat("/tmp/null")).flags, UF_NODUMP)
    }))
})

describe("immutable and append-only files", () => {
  it.effect("an immutable file cannot be written, truncated, linked, removed, renamed, or have its mode, owner or times changed", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      const fd = yield* g.open("/tmp/f", O_RDWR)
      yield* setFlags(g, "/tmp/f", UF_IMMUTABLE)
      const f = g.str("/tmp/f")
      yield* g.fails(Errno.EPERM, SYS.open, f, O_WRONLY, 0)
      yield* g.fails(Errno.EPERM, SYS.access, f, 2)
      yield* g.fails(Errno.EPERM, SYS.truncate, f, 0, 0)
      yield* g.fails(Errno.EPERM, SYS.ftruncate, fd, 0, 0)
      yield* g.fails(Errno.EPERM, SYS.link, f, g.str("/tmp/g"))
      yield* g.fails(Errno.EPERM, SYS.unlink, f)
      yield* g.fails(Errno.EPERM, SYS.rename, f, g.str("/tmp/g"))
      yield* g.fails(Errno.EPERM, SYS.chmod, f, 0o600)
      yield* g.fails(Errno.EPERM, SYS.chown, f, 5, 5)
      yield* g.fails(Errno.EPERM, SYS.__utimes50, f, 0)
      assert.strictEqual(yield* g.readFile("/tmp/f"), "x", "reading is fine")
      yield* setFlags(g, "/tmp/f", 0)
      yield* g.ok(SYS.unlink, f)
    }))

  it.effect("an immutable directory takes no new names and gives none up", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/tmp/d")
      yield* g.writeFile("/tmp/d/in", "x")
      yield* setFlags(g, "/tmp/d", SF_IMMUTABLE)
      yield* g.fails(Errno.EPERM, SYS.open, g.str("/tmp/d/new"), O_WRONLY | O_CREAT, 0o644)
      yield* g.fails(Errno.EPERM, SYS.mkdir, g.str("/tmp/d/sub"), 0o755)
      yield* g.fails(Errno.EPERM, SYS.unlink, g.str("/tmp/d/in"))
      yield* g.fails(Errno.EPERM, SYS.rename, g.str("/tmp/d"), g.str("/tmp/e"))
      assert.strictEqual(yield* g.readFile("/tmp/d/in"), "x")
    }))

  it.effect("an append-only file opens for writing only with O_APPEND and stays otherwise as it is; an append-only directory keeps its names", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.mkdir("/tmp/d")
      yield* g.writeFile("/tmp/d/log", "a")
      yield* setFlags(g, "/tmp/d/log", UF_APPEND)
      const log = g.str("/tmp/d/log")
      yield* g.fails(Errno.EPERM, SYS.open, log, O_WRONLY, 0)
      yield* g.fails(Errno.EPERM, SYS.open, log, O_WRONLY | O_APPEND | O_TRUNC, 0)
      const fd = yield* g.open("/tmp/d/log", O_WRONLY | O_APPEND)
      yield* g.write(fd, "b")
      assert.strictEqual(yield* g.readFile("/tmp/d/log"), "ab")
      yield* g.fails(Errno.EPERM, SYS.unlink, log)
      yield* g.fails(Errno.EPERM, SYS.chmod, log, 0o600)
      yield* setFlags(g, "/tmp/d/log", 0)
      yield* setFlags(g, "/tmp/d", SF_APPEND)
      yield* g.writeFile("/tmp/d/new", "created")
      yield* g.fails(Errno.EPERM, SYS.unlink, g.str("/tmp/d/new"))
      yield* g.fails(Errno.EPERM, SYS.rename, g.str("/tmp/d/new"), g.str("/tmp/moved"))
    }))
})

describe("lchmod and the POSIX chowns", () => {
  it.effect("lchmod changes a symlink's own mode", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.symlink, g.str("f"), g.str("/tmp/l"))
      yield* g.ok(SYS.lchmod, g.str("/tmp/l"), 0o700)
      assert.strictEqual((yield* g.lstat("/tmp/l")).mode, S_IFLNK | 0o700)
      assert.strictEqual((yield* g.stat("/tmp/f")).mode & 0o7777, 0o644)
    }))

  it.effect("__posix_chown keeps the superuser's set-id bits; a non-superuser loses them even changing nothing", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      yield* g.writeFile("/tmp/f", "x")
      yield* g.ok(SYS.chmod, g.str("/tmp/f"), S_ISUID | S_ISGID | 0o755)
      yield* g.ok(SYS.__posix_chown, g.str("/tmp/f"), 7, 7)
      assert.strictEqual((yield* g.stat("/tmp/f")).mode & 0o7777, S_ISUID | S_ISGID | 0o755)
      yield* g.ok(SYS.__posix_lchown, g.str("/tmp/f"), 1000, 1000)
      yield* g.ok(SYS.chmod, g.str("/tmp/f"), S_ISUID | 0o755)
      const fd = yield* g.open("/tmp/f", O_RDONLY)
      yield* asUser(g, 1000)
      yield* g.ok(SYS.__posix_fchown, fd, 0xffff_ffff, 0xffff_ffff)
      assert.strictEqual((yield* g.stat("/tmp/f")).mode & 0o7777, 0o755)
      assert.strictEqual((yield* g.stat("/tmp/f")).uid, 1000)
      yield* g.fails(Errno.EPERM, SYS.__posix_chown, g.str("/tmp/f"), 0, 0xffff_ffff)
    }))
})
