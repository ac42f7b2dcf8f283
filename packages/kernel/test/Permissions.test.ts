/**
 * What an unprivileged process may and may not do to files and other
 * processes: a kernel whose guests are uid 1000 / gid 100, beside a root
 * process (forked from init with root's credentials) that sets things up.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { accessModes, atFlags, Errno, modeBits, openFlags, signals, SYS } from "@sysproxy/protocol/netbsd"
import { Cred } from "../src/kauth/Cred.ts"
import { chown } from "../src/vfs/Attributes.ts"
import { boot, type Guest, i32s, type TestKernel } from "./support/SyscallHarness.ts"
import { decodeStat } from "./VfsGuest.ts"

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_DIRECTORY } = openFlags
const { S_ISUID, S_ISGID, S_ISVTX } = modeBits
const NO_ID = 0xffffffff
const { AT_FDCWD, AT_EACCESS } = atFlags

/** A kernel with uid 1000 / gid 100 guests, one of them, and a root process. */
const world = Effect.gen(function*() {
  const k = yield* boot({ guest: { uid: 1000, gid: 100 } })
  const user = yield* k.guest({ comm: "user" })
  const root = yield* k.guest({ comm: "root" })
  root.proc.cred = Cred.of(0, 0)
  return { k, user, root }
})

const p = (g: Guest, s: string) => g.mem.allocString(s)
const errnoOf = (g: Guest, n: number, ...args: ReadonlyArray<bigint | number>) => Effect.map(g.call(n, ...args), (r) => r.error)

/** Makes a file as root with `mode`, owner and group. */
const file = (root: Guest, path: string, mode: number, uid = 0, gid = 0) =>
  Effect.gen(function*() {
    const r = yield* root.call(SYS.open, p(root, path), O_WRONLY | O_CREAT, 0o600)
    assert.strictEqual(r.error, 0, `create ${path}`)
    yield* root.call(SYS.close, r.retval0)
    assert.strictEqual(yield* errnoOf(root, SYS.chmod, p(root, path), mode), 0)
    assert.strictEqual(yield* errnoOf(root, SYS.chown, p(root, path), uid, gid), 0)
  })

const dir = (root: Guest, path: string, mode: number, uid = 0, gid = 0) =>
  Effect.gen(function*() {
    assert.strictEqual(yield* errnoOf(root, SYS.mkdir, p(root, path), 0o700), 0, `mkdir ${path}`)
    assert.strictEqual(yield* errnoOf(root, SYS.chmod, p(root, path), mode), 0)
    assert.strictEqual(yield* errnoOf(root, SYS.chown, p(root, path), uid, gid), 0)
  })

const stat = (g: Guest, path: string) =>
  Effect.gen(function*() {
    const buf = g.mem.alloc(152)
    assert.strictEqual(yield* errnoOf(g, SYS.__lstat50, p(g, path), buf), 0, `stat ${path}`)
    return decodeStat(g.mem.read(buf, 152) ?? new Uint8Array(152))
  })

const open = (g: Guest, path: string, flags: number) => errnoOf(g, SYS.open, p(g, path), flags, 0o644)

describe("opening and access(2) by owner, group and other bits", () => {
  it.effect("a root 0600 file is EACCES; 0644 reads but does not write; access agrees", () =>
    Effect.gen(function*() {
      const { root, user } = yield* world
      yield* file(root, "/tmp/secret", 0o600)
      yield* file(root, "/tmp/public", 0o644)
      assert.strictEqual(yield* open(user, "/tmp/secret", O_RDONLY), Errno.EACCES)
      assert.strictEqual(yield* open(user, "/tmp/public", O_RDONLY), 0)
      assert.strictEqual(yield* open(user, "/tmp/public", O_WRONLY), Errno.EACCES)
      assert.strictEqual(yield* open(user, "/tmp/public", O_RDWR), Errno.EACCES)
      assert.strictEqual(yield* errnoOf(user, SYS.access, p(user, "/tmp/secret"), accessModes.R_OK), Errno.EACCES)
      assert.strictEqual(yield* errnoOf(user, SYS.access, p(user, "/tmp/secret"), accessModes.F_OK), 0)
      assert.strictEqual(yield* errnoOf(user, SYS.access, p(user, "/tmp/public"), accessModes.R_OK), 0)
      assert.strictEqual(yield* errnoOf(user, SYS.access, p(user, "/tmp/public"), accessModes.W_OK), Errno.EACCES)
      assert.strictEqual(yield* open(root, "/tmp/secret", O_RDWR), 0, "root reads and writes anything")
    }))

  it.effect("access and faccessat check with the real ids, the lookup too, unless AT_EACCESS asks for the effective ones", () =>
    Effect.gen(function*() {
      const { root } = yield* world
      yield* dir(root, "/tmp/private", 0o700)
      yield* file(root, "/tmp/private/f", 0o600)
      yield* file(root, "/tmp/mine", 0o600, 1000, 100)
      const faccessat = (g: Guest, path: string, mode: number, flag: number) =>
        errnoOf(g, SYS.faccessat, AT_FDCWD, p(g, path), mode, flag)
      // real uid root, effective uid 1000 (seteuid from root)
      assert.strictEqual(yield* errnoOf(root, SYS.seteuid, 1000), 0)
      assert.strictEqual(yield* errnoOf(root, SYS.access, p(root, "/tmp/private/f"), accessModes.R_OK), 0, "the real uid is root")
      assert.strictEqual(yield* faccessat(root, "/tmp/private/f", accessModes.R_OK, 0), 0)
      assert.strictEqual(yield* faccessat(root, "/tmp/private/f", accessModes.R_OK, AT_EACCESS), Errno.EACCES, "the lookup as uid 1000")
      assert.strictEqual(yield* faccessat(root, "/tmp/mine", accessModes.W_OK, AT_EACCESS), 0, "uid 1000 owns it")
      assert.strictEqual(yield* errnoOf(root, SYS.access, p(root, "/tmp/mine"), accessModes.W_OK), 0, "root writes anything")
      // the other way round: real uid 1000, effective uid 0
      root.proc.cred = Cred.of(1000, 100).with({ euid: 0, egid: 0 })
      assert.strictEqual(yield* errnoOf(root, SYS.access, p(root, "/tmp/private/f"), accessModes.F_OK), Errno.EACCES, "no search as uid 1000")
      assert.strictEqual(yield* errnoOf(root, SYS.access, p(root, "/tmp/mine"), accessModes.R_OK), 0)
      assert.strictEqual(yield* faccessat(root, "/tmp/private/f", accessModes.R_OK | accessModes.W_OK, AT_EACCESS), 0)
      assert.strictEqual(yield* open(root, "/tmp/private/f", O_RDWR), 0, "open goes by the effective uid")
    }))

  it.effect("getcwd needs search permission on the cwd and read and search on each directory above it (GETCWD_CHECK_ACCESS)", () =>
    Effect.gen(function*() {
      const { root, user } = yield* world
      yield* dir(root, "/tmp/a", 0o711)
      yield* dir(root, "/tmp/a/b", 0o755)
      const getcwd = (g: Guest) =>
        Effect.gen(function*() {
          const buf = g.mem.alloc(256)
          const r = yield* g.call(SYS.__getcwd, buf, 256)
          return r.error !== 0 ? r.error : g.mem.readString(buf, 256)
        })
      assert.strictEqual(yield* errnoOf(user, SYS.chdir, p(user, "/tmp/a/b")), 0, "searching /tmp/a is enough to get there")
      assert.strictEqual(yield* getcwd(user), Errno.EACCES, "/tmp/a cannot be read")
      assert.strictEqual(yield* errnoOf(root, SYS.chmod, p(root, "/tmp/a"), 0o755), 0)
      assert.strictEqual(yield* getcwd(user), "/tmp/a/b")
      assert.strictEqual(yield* errnoOf(root, SYS.chmod, p(root, "/tmp/a/b"), 0o644), 0)
      assert.strictEqual(yield* getcwd(user), Errno.EACCES, "nor the cwd searched")
      assert.strictEqual(yield* errnoOf(root, SYS.chdir, p(root, "/tmp/a/b")), 0)
      assert.strictEqual(yield* getcwd(root), "/tmp/a/b", "root reads and searches any directory")
    }))

  it.effect("the group's bits for the effective gid and for a supplementary group; the owner's bits win for the owner", () =>
    Effect.gen(function*() {
      const { k, root } = yield* world
      yield* file(root, "/tmp/g100", 0o640, 0, 100)
      yield* file(root, "/tmp/g7", 0o640, 0, 7)
      yield* file(root, "/tmp/mine", 0o066, 1000, 100)
      // a process of uid 1000 with the supplementary group 7 (as login would set it up)
      const member = yield* k.guest({ parent: root })
      assert.strictEqual(yield* errnoOf(member, SYS.setgroups, 1, member.mem.alloc(i32s(7))), 0)
      assert.strictEqual(yield* errnoOf(member, SYS.setgid, 100), 0)
      assert.strictEqual(yield* errnoOf(member, SYS.setuid, 1000), 0)
      const plain = yield* k.guest()
      assert.strictEqual(yield* open(plain, "/tmp/g100", O_RDONLY), 0)
      assert.strictEqual(yield* open(plain, "/tmp/g7", O_RDONLY), Errno.EACCES)
      assert.strictEqual(yield* open(member, "/tmp/g7", O_RDONLY), 0)
      assert.strictEqual(yield* open(member, "/tmp/g7", O_WRONLY), Errno.EACCES)
      assert.strictEqual(yield* open(plain, "/tmp/mine", O_RDONLY), Errno.EACCES, "owner bits 0, whatever the others say")
    }))

  it.effect("every directory on the way needs search (x): EACCES beneath a 0700 root directory; 0711 searchable but not listable", () =>
    Effect.gen(function*() {
      const { root, user } = yield* world
      yield* dir(root, "/private", 0o700)
      yield* file(root, "/private/f", 0o644)
      yield* dir(root, "/passage", 0o711)
      yield* file(root, "/passage/f", 0o644)
      assert.strictEqual(yield* errnoOf(user, SYS.__stat50, p(user, "/private/f"), user.mem.alloc(152)), Errno.EACCES)
      assert.strictEqual(yield* errnoOf(user, SYS.chdir, p(user, "/private")), Errno.EACCES)
      assert.strictEqual(yield* open(user, "/passage/f", O_RDONLY), 0)
      assert.strictEqual(yield* open(user, "/passage", O_RDONLY | O_DIRECTORY), Errno.EACCES)
      assert.strictEqual(yield* errnoOf(user, SYS.chdir, p(user, "/passage")), 0)
      assert.strictEqual(yield* errnoOf(user, SYS.__stat50, p(user, "f"), user.mem.alloc(152)), 0)
    }))
})

describe("making and removing names", () => {
  it.effect("creating in a directory needs write on it: EACCES in a root 0755 one; in /tmp the new file is the caller's", () =>
    Effect.gen(function*() {
      const { root, user } = yield* world
      yield* dir(root, "/ro", 0o755)
      yield* file(root, "/ro/f", 0o666)
      assert.strictEqual(yield* open(user, "/ro/new", O_WRONLY | O_CREAT), Errno.EACCES)
      assert.strictEqual(yield* errnoOf(user, SYS.mkdir, p(user, "/ro/d"), 0o755), Errno.EACCES)
      assert.strictEqual(yield* errnoOf(user, SYS.symlink, p(user, "x"), p(user, "/ro/l")), Errno.EACCES)
      assert.strictEqual(yield* errnoOf(user, SYS.link, p(user, "/ro/f"), p(user, "/ro/g")), Errno.EACCES)
      assert.strictEqual(yield* errnoOf(user, SYS.unlink, p(user, "/ro/f")), Errno.EACCES)
      assert.strictEqual(yield* errnoOf(user, SYS.rename, p(user, "/ro/f"), p(user, "/tmp/f")), Errno.EACCES)
      assert.strictEqual(yield* open(user, "/ro/f", O_WRONLY), 0, "writing the file itself needs only the file's bits")
      assert.strictEqual(yield* open(user, "/tmp/new", O_WRONLY | O_CREAT), 0)
      const st = yield* stat(user, "/tmp/new")
      assert.deepStrictEqual([st.uid, st.gid], [1000, 0], "the caller's uid, the directory's gid")
    }))

  it.effect("in sticky /tmp another's file cannot be unlinked, renamed, chmod'ed or chown'ed (EPERM); one's own can", () =>
    Effect.gen(function*() {
      const { root, user } = yield* world
      assert.strictEqual((yield* stat(user, "/tmp")).mode & 0o7777, 0o777 | S_ISVTX)
      yield* file(root, "/tmp/roots", 0o666)
      assert.strictEqual(yield* errnoOf(user, SYS.unlink, p(user, "/tmp/roots")), Errno.EPERM)
      assert.strictEqual(yield* errnoOf(user, SYS.rename, p(user, "/tmp/roots"), p(user, "/tmp/x")), Errno.EPERM)
      assert.strictEqual(yield* errnoOf(user, SYS.chmod, p(user, "/tmp/roots"), 0o777), Errno.EPERM)
      assert.strictEqual(yield* errnoOf(user, SYS.chown, p(user, "/tmp/roots"), 1000, 100), Errno.EPERM)
      assert.strictEqual(yield* open(user, "/tmp/mine", O_WRONLY | O_CREAT), 0)
      // replacing root's file by renaming onto it is removing it too
      assert.strictEqual(yield* errnoOf(user, SYS.rename, p(user, "/tmp/mine"), p(user, "/tmp/roots")), Errno.EPERM)
      assert.strictEqual(yield* errnoOf(user, SYS.rename, p(user, "/tmp/mine"), p(user, "/tmp/mine2")), 0)
      assert.strictEqual(yield* errnoOf(user, SYS.unlink, p(user, "/tmp/mine2")), 0)
      assert.strictEqual(yield* errnoOf(root, SYS.unlink, p(root, "/tmp/roots")), 0, "root may")
    }))

  it.effect("the owner of a sticky directory may remove anything in it", () =>
    Effect.gen(function*() {
      const { root, user } = yield* world
      yield* dir(root, "/shared", 0o1777, 1000, 100)
      yield* file(root, "/shared/roots", 0o644)
      assert.strictEqual(yield* errnoOf(user, SYS.unlink, p(user, "/shared/roots")), 0)
    }))
})

describe("chmod, chown and times", () => {
  it.effect("chmod: the owner may, others EPERM; a sticky bit on a file EFTYPE; set-group-id only for a group it is in", () =>
    Effect.gen(function*() {
      const { k, root, user } = yield* world
      yield* file(root, "/tmp/f", 0o644, 1000, 100)
      yield* file(root, "/tmp/g7", 0o644, 1000, 7)
      assert.strictEqual(yield* errnoOf(user, SYS.chmod, p(user, "/tmp/f"), 0o600), 0)
      assert.strictEqual(yield* errnoOf(user, SYS.chmod, p(user, "/tmp/f"), 0o1600), Errno.EFTYPE)
      // S_ISGID needs the file's group among the supplementary groups (the egid is not enough)
      assert.strictEqual(yield* errnoOf(user, SYS.chmod, p(user, "/tmp/f"), 0o2600), Errno.EPERM)
      assert.strictEqual(yield* errnoOf(user, SYS.chmod, p(user, "/tmp/f"), 0o4600), 0, "set-user-id on its own file")
      const member = yield* k.guest({ parent: root })
      assert.strictEqual(yield* errnoOf(member, SYS.setgroups, 2, member.mem.alloc(i32s(7, 100))), 0)
      assert.strictEqual(yield* errnoOf(member, SYS.setuid, 1000), 0)
      assert.strictEqual(yield* errnoOf(member, SYS.chmod, p(member, "/tmp/g7"), 0o2755), 0)
      assert.strictEqual((yield* stat(user, "/tmp/g7")).mode & 0o7777, 0o2755)
      const other = yield* k.guest()
      other.proc.cred = Cred.of(2000, 100)
      assert.strictEqual(yield* errnoOf(other, SYS.chmod, p(other, "/tmp/f"), 0o666), Errno.EPERM)
      assert.strictEqual(yield* errnoOf(root, SYS.chmod, p(root, "/tmp/f"), 0o3777), 0, "root may do anything")
    }))

  it.effect("chown: to another uid EPERM; to its egid or a group it is in, fine; any other group EPERM; -1, -1 changes nothing", () =>
    Effect.gen(function*() {
      const { k, root, user } = yield* world
      yield* file(root, "/tmp/f", 0o644, 1000, 0)
      yield* file(root, "/tmp/roots", 0o644, 0, 0)
      assert.strictEqual(yield* errnoOf(user, SYS.chown, p(user, "/tmp/f"), 2000, NO_ID), Errno.EPERM)
      assert.strictEqual(yield* errnoOf(user, SYS.chown, p(user, "/tmp/f"), 1000, 100), 0)
      assert.strictEqual(yield* errnoOf(user, SYS.chown, p(user, "/tmp/f"), NO_ID, 5), Errno.EPERM)
      assert.strictEqual(yield* errnoOf(user, SYS.chown, p(user, "/tmp/roots"), NO_ID, NO_ID), 0, "nothing to do, nothing checked")
      const member = yield* k.guest({ parent: root })
      assert.strictEqual(yield* errnoOf(member, SYS.setgroups, 1, member.mem.alloc(i32s(5))), 0)
      assert.strictEqual(yield* errnoOf(member, SYS.setuid, 1000), 0)
      assert.strictEqual(yield* errnoOf(member, SYS.chown, p(member, "/tmp/f"), NO_ID, 5), 0)
      const st = yield* stat(root, "/tmp/f")
      assert.deepStrictEqual([st.uid, st.gid], [1000, 5])
    }))

  it.effect("chown clears S_ISUID when an owner is given and S_ISGID when a group is, root's too", () =>
    Effect.gen(function*() {
      const { root, user } = yield* world
      yield* file(root, "/tmp/f", 0o6755, 1000, 100)
      assert.strictEqual((yield* stat(root, "/tmp/f")).mode & 0o7777, 0o755, "file() chowned it after the chmod")
      assert.strictEqual(yield* errnoOf(root, SYS.chmod, p(root, "/tmp/f"), 0o6755), 0)
      assert.strictEqual(yield* errnoOf(root, SYS.chown, p(root, "/tmp/f"), 1000, NO_ID), 0)
      assert.strictEqual((yield* stat(root, "/tmp/f")).mode & 0o7777, 0o2755, "the same owner again still clears S_ISUID")
      assert.strictEqual(yield* errnoOf(root, SYS.chown, p(root, "/tmp/f"), NO_ID, 100), 0)
      assert.strictEqual((yield* stat(root, "/tmp/f")).mode & 0o7777, 0o755)
      assert.strictEqual(yield* errnoOf(root, SYS.chmod, p(root, "/tmp/f"), 0o4755), 0)
      assert.strictEqual(yield* errnoOf(user, SYS.chown, p(user, "/tmp/f"), NO_ID, 100), 0)
      assert.strictEqual((yield* stat(root, "/tmp/f")).mode & 0o7777, 0o4755, "a group alone keeps S_ISUID")
    }))

  it.effect("the POSIX variant (for __posix_chown): root keeps both set-id bits, a non-root owner loses both", () =>
    Effect.gen(function*() {
      const { k, root } = yield* world
      yield* file(root, "/tmp/f", 0o644, 1000, 100)
      assert.strictEqual(yield* errnoOf(root, SYS.chmod, p(root, "/tmp/f"), 0o6755), 0)
      const root0 = k.kernel.state.vfs.root
      const tmp = root0.fs === "tmpfs" ? root0.entries.get("tmp")?.node : undefined
      const node = tmp?.type === "dir" && tmp.fs === "tmpfs" ? tmp.entries.get("f")?.node : undefined
      if (node === undefined) return assert.fail("no /tmp/f")
      yield* chown(Cred.of(0, 0), node, 1000, 100, true)
      assert.strictEqual(node.mode, 0o6755)
      yield* chown(Cred.of(1000, 100), node, NO_ID, NO_ID, true)
      assert.strictEqual(node.mode, 0o755)
      assert.deepStrictEqual([node.uid, node.gid], [1000, 100])
    }))

  it.effect("times: another user with write access may set them to now, not to a given time; without write access EACCES", () =>
    Effect.gen(function*() {
      const { root, user } = yield* world
      yield* file(root, "/tmp/w", 0o666)
      yield* file(root, "/tmp/r", 0o644)
      const times = user.mem.alloc(32)
      assert.strictEqual(yield* errnoOf(user, SYS.__utimes50, p(user, "/tmp/w"), 0), 0)
      assert.strictEqual(yield* errnoOf(user, SYS.__utimes50, p(user, "/tmp/w"), times), Errno.EPERM)
      assert.strictEqual(yield* errnoOf(user, SYS.__utimes50, p(user, "/tmp/r"), 0), Errno.EACCES)
      assert.strictEqual(yield* errnoOf(root, SYS.__utimes50, p(root, "/tmp/r"), root.mem.alloc(32)), 0)
    }))
})

describe("kill across users", () => {
  const setUp = (k: TestKernel) =>
    Effect.gen(function*() {
      const mine = yield* k.guest({ comm: "mine" })
      const theirs = yield* k.guest({ comm: "theirs" })
      theirs.proc.cred = Cred.of(2000, 200)
      return { mine, theirs }
    })

  it.effect("EPERM for another user's process, its own uid's fine; root signals anyone", () =>
    Effect.gen(function*() {
      const { k, root, user } = yield* world
      const { mine, theirs } = yield* setUp(k)
      assert.strictEqual(yield* errnoOf(user, SYS.kill, theirs.pid, signals.SIGTERM), Errno.EPERM)
      assert.strictEqual(yield* errnoOf(user, SYS.kill, root.pid, 0), Errno.EPERM)
      assert.deepStrictEqual(theirs.mem.signals, [])
      assert.strictEqual(yield* errnoOf(user, SYS.kill, mine.pid, signals.SIGTERM), 0)
      assert.deepStrictEqual(mine.mem.signals, [signals.SIGTERM])
      assert.strictEqual(yield* errnoOf(root, SYS.kill, theirs.pid, signals.SIGTERM), 0)
      assert.deepStrictEqual(theirs.mem.signals, [signals.SIGTERM])
    }))

  it.effect("SIGCONT reaches any process of the caller's session", () =>
    Effect.gen(function*() {
      const { k, user } = yield* world
      const { theirs } = yield* setUp(k)
      assert.strictEqual(yield* errnoOf(user, SYS.kill, theirs.pid, signals.SIGCONT), 0, "both in session 0")
      assert.strictEqual(yield* errnoOf(theirs, SYS.setsid), 0)
      assert.strictEqual(yield* errnoOf(user, SYS.kill, theirs.pid, signals.SIGCONT), Errno.EPERM)
    }))

  it.effect("kill(-1) and a group kill reach only the processes the caller may signal; ESRCH when that is none", () =>
    Effect.gen(function*() {
      const { k, root, user } = yield* world
      const { mine, theirs } = yield* setUp(k)
      assert.strictEqual(yield* errnoOf(user, SYS.kill, -1, signals.SIGUSR1), 0)
      assert.deepStrictEqual(mine.mem.signals, [signals.SIGUSR1])
      assert.deepStrictEqual(theirs.mem.signals, [])
      assert.deepStrictEqual(root.mem.signals, [])
      assert.strictEqual(yield* errnoOf(theirs, SYS.setsid), 0)
      assert.strictEqual(yield* errnoOf(user, SYS.kill, -theirs.pid, signals.SIGUSR1), Errno.ESRCH)
      assert.strictEqual(yield* errnoOf(theirs, SYS.kill, 0, signals.SIGUSR2), 0)
      assert.deepStrictEqual(theirs.mem.signals, [signals.SIGUSR2])
      assert.strictEqual(yield* errnoOf(theirs, SYS.kill, -1, signals.SIGUSR2), Errno.ESRCH, "nobody else is uid 2000")
    }))
})

describe("root-only calls", () => {
  it.effect("mount is EPERM for another uid", () =>
    Effect.gen(function*() {
      const { user } = yield* world
      assert.strictEqual(yield* errnoOf(user, SYS.__mount50, p(user, "tmpfs"), p(user, "/tmp"), 0, 0, 0), Errno.EPERM)
    }))
})
