/**
 * The host file system (vfs/host/) through the kernel's syscalls, on real
 * host directories: lazy (nothing read at mount, one name per lookup, a
 * bounded vnode cache), data straight to the host (a host refusal is the
 * caller's errno at once, fsync and fdatasync are the host's), what the
 * host cannot hold kept in the sidecar across restarts, host inode numbers
 * and hard links, read-only mounts, statvfs from the host, kqueue notes and
 * advisory locks on host files, changes made by host processes seen.
 */
import { assert, describe, it } from "@effect/vitest"
import { decodeStatvfs, STATVFS_SIZE } from "@sysproxy/protocol"
import { chflags, Errno, fcntlCmds, flockOps, lseekWhence, modeBits, mountFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { evFlags, evfilt, notes } from "../src/abi/Kevent.ts"
import { makeDescriptorPaths } from "../src/vfs/DescriptorPath.ts"
import { makedev } from "../src/vfs/Devices.ts"
import type { HostMount } from "../src/vfs/host/HostMount.ts"
import { countingCalls } from "./support/CountingHostCalls.ts"
import { change, kev, kqueue, poll } from "./support/Kevents.ts"
import { boot, callOk, errnoOf } from "./support/SyscallHarness.ts"
import { tempTrees } from "./support/TempDirs.ts"
import { type Guest, makeGuest, O_APPEND, O_CREAT, O_EXCL, O_RDONLY, O_RDWR, O_TRUNC, O_WRONLY, tmpfsArgs } from "./VfsGuest.ts"

const hostDir = tempTrees("sysproxy-hostfs-")

const { S_IFMT, S_IFIFO, S_IFCHR, S_IFSOCK, S_IFREG } = modeBits
const at = (hostPath: string, mountAt = "/", readOnly = false) => ({ mounts: [{ hostPath, at: mountAt, readOnly }] })

/** The host mount at `path`'s file system. */
const hostMountOf = (g: Guest, onName: string): HostMount => {
  const m = g.kernel.kernel.state.vfs.mounts.find((x) => x.onName === onName)
  if (m?.fstype !== "hostfs") throw new Error(`no host mount on ${onName}`)
  return m
}

/** Every name of a directory through getdents with a buffer of `size` bytes, and the fileno of each. */
const listing = (g: Guest, path: string, size = 8192) =>
  Effect.gen(function*() {
    const fd = yield* g.open(path, O_RDONLY)
    const out = new Map<string, bigint>()
    const b = g.buf(size)
    for (;;) {
      const n = Number(yield* g.ok(SYS.__getdents30, fd, b, size))
      if (n === 0) break
      const bytes = g.bytes(b, n)
      const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      for (let i = 0; i < bytes.length;) {
        const reclen = v.getUint16(i + 8, true)
        const namlen = v.getUint16(i + 10, true)
        const name = Buffer.from(bytes.subarray(i + 13, i + 13 + namlen)).toString("latin1")
        assert.isFalse(out.has(name), `${name} listed once`)
        out.set(name, v.getBigUint64(i, true))
        i += reclen
      }
    }
    yield* g.close(fd)
    return out
  })

const sun = (path: string): Uint8Array => {
  const b = new Uint8Array(106)
  b[0] = 106
  b[1] = 1 // AF_LOCAL
  b.set(new TextEncoder().encode(path), 2)
  return b
}

describe("host file system: lazy", () => {
  it.effect("mounting a big tree reads none of it; a lookup asks the host about the names on its path only", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      for (let d = 0; d < 40; d++) {
        Fs.mkdirSync(Path.join(root, `d${d}`))
        for (let f = 0; f < 50; f++) Fs.writeFileSync(Path.join(root, `d${d}`, `f${f}`), `${d}/${f}`)
      }
      Fs.mkdirSync(Path.join(root, "a", "b", "c", "d"), { recursive: true })
      Fs.writeFileSync(Path.join(root, "a", "b", "c", "d", "deep"), "deep")
      const c = countingCalls()
      const g = yield* makeGuest({ ...at(root), hostCalls: c.calls })
      const atBoot = c.total()
      assert.isBelow(atBoot, 40, `boot made ${atBoot} host calls for a tree of 2,000 files`)
      assert.strictEqual(hostMountOf(g, "/").cache.size <= 4, true, "no vnode made for the tree")
      const before = c.total()
      assert.strictEqual((yield* g.stat("/a/b/c/d/deep")).size, 4n)
      const deep = c.total() - before
      // five names: an lstat each, and a path descriptor opened (and checked) for each directory walked through
      assert.isAtMost(deep, 5 + 4 * 2, JSON.stringify(Object.fromEntries(c.counts)))
      const again = c.total()
      yield* g.stat("/a/b/c/d/deep")
      assert.strictEqual(c.total() - again, 5, "the directories' descriptors are kept: one lstat per name")
      yield* g.writeFile("/d7/f3", "changed")
      assert.strictEqual(Fs.readFileSync(Path.join(root, "d7", "f3"), "utf8"), "changed")
    }))

  it.effect("a full walk through the kernel keeps at most the vnode cache's capacity; descriptors come back", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      for (let d = 0; d < 20; d++) {
        Fs.mkdirSync(Path.join(root, `d${d}`))
        for (let f = 0; f < 30; f++) Fs.writeFileSync(Path.join(root, `d${d}`, `f${f}`), "x")
      }
      const fds = () => Fs.readdirSync("/proc/self/fd").length
      const fds0 = fds()
      const g = yield* makeGuest({ ...at(root), vnodeCacheSize: 32 })
      const mount = hostMountOf(g, "/")
      for (const [dir] of yield* listing(g, "/")) {
        if (dir.startsWith(".") || !dir.startsWith("d")) continue
        for (const [f] of yield* listing(g, `/${dir}`)) if (!f.startsWith(".")) yield* g.stat(`/${dir}/${f}`)
      }
      // the root, the held /dev mount point, and the bound: nothing walked stays beyond it
      assert.isAtMost(mount.cache.size, 32 + 2)
      assert.isAtLeast(mount.cache.drops, 600 - 34)
      assert.isAtMost(fds() - fds0, 32 + 8, "one host descriptor per kept vnode, not per file walked")
      // a vnode dropped and needed again is reopened by its name
      assert.strictEqual(yield* g.readFile("/d0/f0"), "x")
    }))

  it.effect("the path of a descriptor open on a host file (for middleware matching by path), before and after a rename", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      Fs.mkdirSync(Path.join(root, "d"))
      const g = yield* makeGuest(at(root, "/data"))
      const paths = makeDescriptorPaths(g.kernel.kernel.state)
      const fd = yield* g.open("/data/d/f", O_WRONLY | O_CREAT)
      const dir = yield* g.open("/data/d", O_RDONLY)
      const null_ = yield* g.open("/dev/null", O_WRONLY)
      assert.strictEqual(paths.pathOf(g.process.pid, fd), "/data/d/f")
      assert.strictEqual(paths.pathOf(g.process.pid, dir), "/data/d")
      assert.strictEqual(paths.pathOf(g.process.pid, null_), "/dev/null")
      yield* g.ok(SYS.rename, g.str("/data/d"), g.str("/data/e"))
      assert.strictEqual(paths.pathOf(g.process.pid, fd), "/data/e/f")
      yield* g.ok(SYS.unlink, g.str("/data/e/f"))
      assert.isUndefined(paths.pathOf(g.process.pid, fd), "an unlinked file has no name")
    }))

  it.effect("a process's cwd in a directory the cache dropped still works, and getcwd names it", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      Fs.mkdirSync(Path.join(root, "a", "b"), { recursive: true })
      Fs.writeFileSync(Path.join(root, "a", "b", "here"), "here")
      for (let i = 0; i < 100; i++) Fs.writeFileSync(Path.join(root, `f${i}`), "x")
      const g = yield* makeGuest({ ...at(root), vnodeCacheSize: 16 })
      yield* g.ok(SYS.chdir, g.str("/a/b"))
      for (let i = 0; i < 100; i++) yield* g.stat(`/f${i}`)
      assert.strictEqual(yield* g.readFile("here"), "here")
      const b = g.buf(256)
      const n = Number(yield* g.ok(SYS.__getcwd, b, 256))
      assert.strictEqual(new TextDecoder().decode(g.bytes(b, n - 1)), "/a/b")
      yield* g.ok(SYS.rename, g.str("/a"), g.str("/z"))
      const m = Number(yield* g.ok(SYS.__getcwd, b, 256))
      assert.strictEqual(new TextDecoder().decode(g.bytes(b, m - 1)), "/z/b")
    }))
})

describe("host file system: data straight to the host", () => {
  for (const code of ["ENOSPC", "EDQUOT", "EIO"] as const) {
    it.effect(`a write the host refuses with ${code} is ${code} to the caller at once, the file and the offset as they were`, () =>
      Effect.gen(function*() {
        const { root } = hostDir()
        const c = countingCalls()
        const g = yield* makeGuest({ ...at(root), hostCalls: c.calls })
        yield* g.writeFile("/f", "before")
        const fd = yield* g.open("/f", O_WRONLY)
        yield* g.ok(SYS.lseek, fd, 0, 2, lseekWhence.SEEK_SET)
        c.failing.set("write", code)
        yield* g.fails(Errno[code], SYS.write, fd, g.str("XYZ"), 3)
        assert.strictEqual(yield* g.ok(SYS.lseek, fd, 0, 0, lseekWhence.SEEK_CUR), 2n, "the offset did not move")
        assert.strictEqual(Fs.readFileSync(Path.join(root, "f"), "utf8"), "before")
        c.failing.delete("write")
        yield* g.write(fd, "XYZ")
        assert.strictEqual(Fs.readFileSync(Path.join(root, "f"), "utf8"), "beXYZe")
        yield* g.close(fd)
      }))
  }

  it.effect("fsync, fdatasync and fsync_range reach the host as themselves; their failure is the caller's", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const c = countingCalls()
      const g = yield* makeGuest({ ...at(root), hostCalls: c.calls })
      const fd = yield* g.open("/f", O_RDWR | O_CREAT)
      yield* g.write(fd, "data")
      const count = (name: string) => c.counts.get(name) ?? 0
      yield* g.ok(SYS.fsync, fd)
      assert.deepStrictEqual([count("fsync"), count("fdatasync")], [1, 0])
      yield* g.ok(SYS.fdatasync, fd)
      assert.deepStrictEqual([count("fsync"), count("fdatasync")], [1, 1])
      yield* g.ok(SYS.fsync_range, fd, 0x10, 0, 0)
      assert.deepStrictEqual([count("fsync"), count("fdatasync")], [1, 2], "FDATASYNC")
      yield* g.ok(SYS.fsync_range, fd, 0x20, 0, 0)
      assert.deepStrictEqual([count("fsync"), count("fdatasync")], [2, 2], "FFILESYNC")
      c.failing.set("fsync", "EIO")
      yield* g.fails(Errno.EIO, SYS.fsync, fd)
    }))

  it.effect("reads and writes are positioned host I/O: pread/pwrite, O_APPEND (set by open or fcntl), holes, an unlinked open file", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const g = yield* makeGuest(at(root))
      const host = Path.join(root, "f")
      const fd = yield* g.open("/f", O_RDWR | O_CREAT | O_APPEND)
      yield* g.write(fd, "abc")
      yield* g.ok(SYS.pwrite, fd, g.str("Z"), 1, 0, 0)
      assert.strictEqual(Fs.readFileSync(host, "utf8"), "abcZ", "pwrite on O_APPEND appends, as NetBSD's")
      yield* g.ok(SYS.fcntl, fd, fcntlCmds.F_SETFL, 0)
      yield* g.ok(SYS.pwrite, fd, g.str("Y"), 1, 0, 0)
      assert.strictEqual(Fs.readFileSync(host, "utf8"), "YbcZ", "O_APPEND cleared by fcntl")
      yield* g.ok(SYS.fcntl, fd, fcntlCmds.F_SETFL, O_APPEND)
      yield* g.write(fd, "!")
      assert.strictEqual(Fs.readFileSync(host, "utf8"), "YbcZ!")
      // a hole past the end reads as zeros, and stays a hole on the host
      yield* g.ok(SYS.pwrite, fd, g.str("end"), 3, 0, 8 * 1024 * 1024)
      yield* g.ok(SYS.fcntl, fd, fcntlCmds.F_SETFL, 0)
      const st = yield* g.fstat(fd)
      assert.strictEqual(st.size, BigInt(Fs.statSync(host).size))
      assert.isBelow(Number(st.blocks), 64, "sparse")
      const mid = g.buf(4)
      yield* g.ok(SYS.pread, fd, mid, 4, 0, 4096)
      assert.deepStrictEqual([...g.bytes(mid, 4)], [0, 0, 0, 0])
      // unlinked while open: still read and written through the open file, gone from the host's names
      yield* g.ok(SYS.unlink, g.str("/f"))
      assert.isFalse(Fs.existsSync(host))
      yield* g.ok(SYS.pwrite, fd, g.str("still"), 5, 0, 0)
      const b = g.buf(5)
      yield* g.ok(SYS.pread, fd, b, 5, 0, 0)
      assert.strictEqual(new TextDecoder().decode(g.bytes(b, 5)), "still")
      assert.strictEqual((yield* g.fstat(fd)).nlink, 0)
      yield* g.close(fd)
    }))

  it.effect("changes made by host processes are seen at the next lookup or fstat", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const g = yield* makeGuest(at(root))
      yield* g.writeFile("/f", "one")
      const fd = yield* g.open("/f", O_RDONLY)
      Fs.appendFileSync(Path.join(root, "f"), " two")
      assert.strictEqual((yield* g.fstat(fd)).size, 7n)
      assert.strictEqual(new TextDecoder().decode(yield* g.read(fd, 100)), "one two")
      Fs.chmodSync(Path.join(root, "f"), 0o604)
      assert.strictEqual((yield* g.stat("/f")).mode & 0o777, 0o604)
      Fs.renameSync(Path.join(root, "f"), Path.join(root, "g"))
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("/f"), O_RDONLY, 0)
      assert.strictEqual(yield* g.readFile("/g"), "one two")
      // the same inode: the same vnode (its open file sees its own node)
      assert.strictEqual((yield* g.stat("/g")).ino, (yield* g.fstat(fd)).ino)
      Fs.mkdirSync(Path.join(root, "new"))
      assert.isTrue((yield* listing(g, "/")).has("new"))
      yield* g.close(fd)
    }))
})

describe("host file system: identities, links and what the host cannot hold", () => {
  it.effect("st_ino is the host's, the same after a restart; hard links are host hard links and one vnode", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const g = yield* makeGuest(at(root))
      yield* g.mkdir("/d")
      yield* g.writeFile("/d/f", "linked")
      yield* g.ok(SYS.link, g.str("/d/f"), g.str("/g"))
      const host = Fs.statSync(Path.join(root, "g"))
      assert.strictEqual(host.ino, Fs.statSync(Path.join(root, "d", "f")).ino)
      assert.strictEqual(host.nlink, 2)
      const st = yield* g.stat("/g")
      assert.strictEqual(st.ino, BigInt(host.ino))
      assert.strictEqual(st.nlink, 2)
      assert.strictEqual((yield* g.stat("/d")).ino, BigInt(Fs.statSync(Path.join(root, "d")).ino))
      // one vnode: a write through one name is what the other reads
      const fd = yield* g.open("/g", O_WRONLY | O_APPEND)
      yield* g.write(fd, "!")
      yield* g.close(fd)
      assert.strictEqual(yield* g.readFile("/d/f"), "linked!")
      const again = yield* makeGuest(at(root))
      assert.strictEqual((yield* again.stat("/g")).ino, st.ino)
      assert.strictEqual((yield* listing(again, "/")).get("g"), st.ino, "d_fileno is st_ino")
      yield* again.ok(SYS.unlink, again.str("/g"))
      assert.strictEqual((yield* again.stat("/d/f")).nlink, 1)
    }))

  it.effect("fifos, device nodes, sockets, set-id bits and st_flags live in the sidecar and survive a restart", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const g = yield* makeGuest(at(root))
      yield* g.ok(SYS.mkfifo, g.str("/fifo"), 0o640)
      yield* g.ok(SYS.__mknod50, g.str("/null"), S_IFCHR | 0o666, makedev(2, 2))
      yield* g.ok(SYS.__mknod50, g.str("/nodev"), S_IFCHR | 0o600, makedev(99, 1))
      const s = Number(yield* g.ok(SYS.__socket30, 1, 1, 0))
      const addr = sun("/sock")
      yield* g.ok(SYS.bind, s, g.mem.alloc(addr), addr.length)
      yield* g.writeFile("/suid", "#!")
      yield* g.ok(SYS.chmod, g.str("/suid"), 0o4755)
      yield* g.ok(SYS.chflags, g.str("/suid"), chflags.UF_NODUMP)
      // on the host: empty regular files, 0600; no set-id bit
      for (const name of ["fifo", "null", "nodev", "sock"]) {
        const st = Fs.lstatSync(Path.join(root, name))
        assert.isTrue(st.isFile(), name)
        assert.strictEqual(st.mode & 0o7777, 0o600, name)
      }
      assert.strictEqual(Fs.statSync(Path.join(root, "suid")).mode & 0o7000, 0)
      assert.deepStrictEqual(Fs.readdirSync(root).filter((n) => n.startsWith(".sysproxy-")), [], "no half-made placeholder left")

      const again = yield* makeGuest(at(root))
      assert.strictEqual((yield* again.stat("/fifo")).mode, S_IFIFO | 0o640)
      const nul = yield* again.stat("/null")
      assert.strictEqual(nul.mode, S_IFCHR | 0o644, "the umask applies")
      assert.strictEqual(nul.rdev, BigInt(makedev(2, 2)))
      assert.strictEqual((yield* again.lstat("/sock")).mode & S_IFMT, S_IFSOCK)
      const suid = yield* again.stat("/suid")
      assert.strictEqual(suid.mode, S_IFREG | 0o4755)
      assert.strictEqual(suid.flags, chflags.UF_NODUMP)
      // the device with null's numbers is null; another number opens as ENXIO
      const fd = yield* again.open("/null", O_WRONLY)
      assert.strictEqual(yield* again.write(fd, "gone"), 4)
      yield* again.close(fd)
      yield* again.fails(Errno.ENXIO, SYS.open, again.str("/nodev"), O_RDONLY, 0)
      // d_type comes from the record too
      const dir = yield* again.open("/", O_RDONLY)
      const b = again.buf(4096)
      const n = Number(yield* again.ok(SYS.__getdents30, dir, b, 4096))
      const bytes = again.bytes(b, n)
      const types = new Map<string, number>()
      for (let i = 0; i < n;) {
        const v = new DataView(bytes.buffer, bytes.byteOffset + i)
        types.set(new TextDecoder().decode(bytes.subarray(i + 13, i + 13 + v.getUint16(10, true))), v.getUint8(12))
        i += v.getUint16(8, true)
      }
      assert.deepStrictEqual([types.get("fifo"), types.get("null"), types.get("sock"), types.get("suid")], [1, 2, 12, 8])
      // removing a placeholder's last name forgets its record
      yield* again.ok(SYS.unlink, again.str("/fifo"))
      const mount = hostMountOf(again, "/")
      assert.strictEqual(yield* Effect.orDie(mount.sidecar!.count()), 4)
    }))

  it.effect("a server that is not root: owners and the modes the host copy may not have are the sidecar's, across a restart", () =>
    Effect.gen(function*() {
      const { base, root } = hostDir()
      // the server runs as nobody (when the tests run as root) or as the tests' own user
      const uid = process.getuid?.() === 0 ? 65534 : (process.getuid?.() ?? 0)
      if (process.getuid?.() === 0) {
        Fs.chmodSync(base, 0o755)
        Fs.chownSync(root, uid, uid)
      }
      const child = Path.join(import.meta.dirname, "support", "hostfs-owners-child.ts")
      const out = yield* Effect.promise(() =>
        new Promise<string>((resolve, reject) =>
          ChildProcess.execFile(
            process.execPath,
            ["--conditions=@sysproxy/source", child, root],
            { cwd: "/", ...(process.getuid?.() === 0 ? { uid, gid: uid } : {}) },
            (err, stdout, stderr) => (err === null ? resolve(stdout) : reject(new Error(`${err.message}\n${stderr}`)))
          )
        )
      )
      const r = JSON.parse(out) as {
        uid: number
        first: Record<"f" | "d", { mode: number; uid: number; gid: number }>
        onHost: Record<"f" | "d", { mode: number; uid: number; gid: number }>
        second: Record<"f" | "d", { mode: number; uid: number; gid: number }>
      }
      assert.notStrictEqual(r.uid, 0, "the server was not root")
      const want = { f: { mode: S_IFREG | 0o4000, uid: 1234, gid: 5678 }, d: { mode: modeBits.S_IFDIR | 0o500, uid: 0 } }
      for (const k of [r.first, r.second]) {
        assert.deepStrictEqual(k.f, want.f)
        assert.deepInclude(k.d, want.d)
      }
      // the host keeps the server's own owner, u+rw(x) so it can reopen its files, and never a set-id bit
      assert.deepStrictEqual(r.onHost.f, { mode: S_IFREG | 0o600, uid, gid: r.onHost.f.gid })
      assert.strictEqual(r.onHost.d.mode, modeBits.S_IFDIR | 0o700)
      assert.strictEqual(r.onHost.d.uid, uid)
    }), 60_000)

  it.effect("a server that is root: owners go to the host, set-id bits never do", () =>
    Effect.gen(function*() {
      if (process.getuid?.() !== 0) return
      const { root } = hostDir()
      const g = yield* makeGuest(at(root))
      yield* g.writeFile("/f", "x")
      yield* g.ok(SYS.chown, g.str("/f"), 1234, 5678)
      yield* g.ok(SYS.chmod, g.str("/f"), 0o6755)
      const host = Fs.statSync(Path.join(root, "f"))
      assert.deepStrictEqual([host.uid, host.gid, host.mode & 0o7777], [1234, 5678, 0o755])
      const again = yield* makeGuest(at(root))
      const st = yield* again.stat("/f")
      assert.deepStrictEqual([st.uid, st.gid, st.mode & 0o7777], [1234, 5678, 0o6755])
    }))

  it.effect("an AF_LOCAL socket bound on the host file system is reached by its name from another process", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const k = yield* boot({ ...at(root), vnodeCacheSize: 16 })
      const a = yield* k.guest()
      const b = yield* k.guest()
      const addr = sun("/srv.sock")
      const l = Number(yield* callOk(a, SYS.__socket30, 1, 1, 0))
      yield* callOk(a, SYS.bind, l, a.mem.alloc(addr), addr.length)
      yield* callOk(a, SYS.listen, l, 5)
      // many other names looked up meanwhile: the socket's vnode may leave the cache, never its binding
      for (let i = 0; i < 64; i++) yield* callOk(a, SYS.mkdir, a.mem.allocString(`/d${i}`), 0o755)
      const c = Number(yield* callOk(b, SYS.__socket30, 1, 1, 0))
      assert.strictEqual(yield* errnoOf(b, SYS.connect, c, b.mem.alloc(addr), addr.length), 0)
      assert.strictEqual(yield* errnoOf(b, SYS.connect, Number(yield* callOk(b, SYS.__socket30, 1, 1, 0)), b.mem.alloc(sun("/none")), 106), Errno.ENOENT)
    }))

  it.effect("a fifo on the host file system carries data between two processes", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const k = yield* boot(at(root))
      const a = yield* k.guest()
      const b = yield* k.guest()
      yield* callOk(a, SYS.mkfifo, a.mem.allocString("/p"), 0o666)
      const r = Number(yield* callOk(a, SYS.open, a.mem.allocString("/p"), O_RDONLY | 0x4, 0))
      const w = Number(yield* callOk(b, SYS.open, b.mem.allocString("/p"), O_WRONLY, 0))
      yield* callOk(b, SYS.write, w, b.mem.alloc(new TextEncoder().encode("through")), 7)
      const buf = a.mem.alloc(16)
      assert.strictEqual(yield* callOk(a, SYS.read, r, buf, 16), 7n)
      assert.strictEqual(new TextDecoder().decode(a.mem.read(buf, 7)), "through")
      assert.strictEqual(Fs.statSync(Path.join(root, "p")).size, 0, "the data never touches the host")
    }))

  it.effect("the driver's own names: the sidecar is hidden, reserved names cannot be made, a crash's leftover is removed when listed", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      Fs.mkdirSync(Path.join(root, "d"))
      Fs.writeFileSync(Path.join(root, "d", ".sysproxy-new-0123456789abcdef"), "")
      const g = yield* makeGuest(at(root))
      assert.isTrue(Fs.existsSync(Path.join(root, ".sysproxy", "sidecar.db")))
      assert.isFalse((yield* listing(g, "/")).has(".sysproxy"))
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("/.sysproxy/sidecar.db"), O_RDONLY, 0)
      yield* g.fails(Errno.EPERM, SYS.open, g.str("/d/.sysproxy-mine"), O_WRONLY | O_CREAT, 0o644)
      yield* g.fails(Errno.EPERM, SYS.mkdir, g.str("/.sysproxy"), 0o755)
      assert.deepStrictEqual([...(yield* listing(g, "/d")).keys()].sort(), [".", ".."])
      assert.deepStrictEqual(Fs.readdirSync(Path.join(root, "d")), [], "the orphan was removed")
      // `.sysproxy` is only reserved at the root
      yield* g.mkdir("/d/.sysproxy")
      assert.isTrue(Fs.statSync(Path.join(root, "d", ".sysproxy")).isDirectory())
    }))

  it.effect("mount(2) of a host file system from inside the kernel is refused: a client never names a host path", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const g = yield* makeGuest()
      yield* g.mkdir("/mnt")
      for (const type of ["hostfs", "rumphostfs", "null"]) {
        yield* g.fails(Errno.ENODEV, SYS.__mount50, g.str(type), g.str("/mnt"), 0, g.str(root), root.length + 1)
      }
      yield* g.ok(SYS.__mount50, g.str("tmpfs"), g.str("/mnt"), 0, g.mem.alloc(tmpfsArgs()), 40)
    }))
})

describe("host file system: mounts", () => {
  it.effect("read-only (:ro): reads work, every change is EROFS, statvfs says MNT_RDONLY", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      Fs.mkdirSync(Path.join(root, "d"))
      Fs.writeFileSync(Path.join(root, "d", "f"), "read me")
      const g = yield* makeGuest(at(root, "/ref", true))
      assert.strictEqual(yield* g.readFile("/ref/d/f"), "read me")
      yield* g.fails(Errno.EROFS, SYS.open, g.str("/ref/d/f"), O_WRONLY, 0)
      yield* g.fails(Errno.EROFS, SYS.open, g.str("/ref/d/g"), O_WRONLY | O_CREAT, 0o644)
      yield* g.fails(Errno.EROFS, SYS.mkdir, g.str("/ref/e"), 0o755)
      yield* g.fails(Errno.EROFS, SYS.unlink, g.str("/ref/d/f"))
      yield* g.fails(Errno.EROFS, SYS.rmdir, g.str("/ref/d"))
      yield* g.fails(Errno.EROFS, SYS.chmod, g.str("/ref/d/f"), 0o600)
      yield* g.fails(Errno.EROFS, SYS.truncate, g.str("/ref/d/f"), 0, 0)
      yield* g.fails(Errno.EROFS, SYS.rename, g.str("/ref/d/f"), g.str("/ref/d/g"))
      assert.deepStrictEqual(Fs.readdirSync(root).sort(), ["d"], "not even a sidecar is made")
      const buf = g.buf(STATVFS_SIZE)
      yield* g.ok(SYS.statvfs1, g.str("/ref"), buf, 1)
      const vfs = decodeStatvfs(g.bytes(buf, STATVFS_SIZE))
      assert.strictEqual(vfs.flag & mountFlags.MNT_RDONLY, mountFlags.MNT_RDONLY)
      assert.strictEqual(vfs.fstypename, "hostfs")
      assert.strictEqual(vfs.mntonname, "/ref")
    }))

  it.effect("statvfs of a host mount is the host's statfs of the tree", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const g = yield* makeGuest(at(root, "/data"))
      const buf = g.buf(STATVFS_SIZE)
      yield* g.ok(SYS.statvfs1, g.str("/data"), buf, 1)
      const vfs = decodeStatvfs(g.bytes(buf, STATVFS_SIZE))
      const host = Fs.statfsSync(root)
      assert.strictEqual(vfs.bsize, host.bsize)
      assert.strictEqual(vfs.blocks, host.blocks)
      assert.strictEqual(vfs.files, host.files)
      assert.approximately(vfs.bavail, host.bavail, host.blocks / 100)
      assert.strictEqual(vfs.flag & mountFlags.MNT_LOCAL, mountFlags.MNT_LOCAL)
      assert.notStrictEqual(vfs.fsid, (yield* Effect.map(g.stat("/"), (s) => Number(s.dev))))
      assert.strictEqual(Number((yield* g.stat("/data")).dev), vfs.fsid)
    }))

  it.effect("several host directories, each its own file system; a mount point is made where missing", () =>
    Effect.gen(function*() {
      const a = hostDir().root
      const b = hostDir().root
      Fs.writeFileSync(Path.join(b, "inb"), "b")
      const g = yield* makeGuest({ mounts: [{ hostPath: a, at: "/" }, { hostPath: b, at: "/x/y" }] })
      assert.strictEqual(yield* g.readFile("/x/y/inb"), "b")
      assert.isTrue(Fs.statSync(Path.join(a, "x", "y")).isDirectory(), "the mount point made on the root tree")
      yield* g.writeFile("/x/y/new", "n")
      assert.strictEqual(Fs.readFileSync(Path.join(b, "new"), "utf8"), "n")
      yield* g.fails(Errno.EXDEV, SYS.rename, g.str("/x/y/new"), g.str("/new"))
      yield* g.fails(Errno.EBUSY, SYS.rmdir, g.str("/x/y"))
      assert.notStrictEqual((yield* g.stat("/x/y")).dev, (yield* g.stat("/x")).dev)
      // unmounted, the mount point shows the root tree's directory again; the files stay on their host directory
      yield* g.ok(SYS.unmount, g.str("/x/y"), 0)
      assert.strictEqual((yield* g.stat("/x/y")).dev, (yield* g.stat("/x")).dev)
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("/x/y/inb"), O_RDONLY, 0)
      assert.strictEqual(Fs.readFileSync(Path.join(b, "new"), "utf8"), "n")
    }))
})

describe("host file system: kqueue and locks on host files", () => {
  it.effect("EVFILT_VNODE notes for changes made through the kernel: write, extend, attrib, link, rename, delete", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const k = yield* boot(at(root))
      const g = yield* k.guest()
      const kq = yield* kqueue(g)
      const fd = Number(yield* callOk(g, SYS.open, g.mem.allocString("/f"), O_CREAT | O_RDWR, 0o644))
      const { NOTE_DELETE, NOTE_WRITE, NOTE_EXTEND, NOTE_ATTRIB, NOTE_LINK, NOTE_RENAME } = notes
      yield* change(g, kq, kev(fd, evfilt.EVFILT_VNODE, evFlags.EV_ADD | evFlags.EV_CLEAR, 0x7f))
      const fflags = Effect.map(poll(g, kq), (r) => r.events.map((e) => e.fflags))
      yield* callOk(g, SYS.write, fd, g.mem.alloc(new TextEncoder().encode("hello")), 5)
      assert.deepStrictEqual(yield* fflags, [NOTE_WRITE | NOTE_EXTEND])
      yield* callOk(g, SYS.fchmod, fd, 0o600)
      assert.deepStrictEqual(yield* fflags, [NOTE_ATTRIB])
      yield* callOk(g, SYS.link, g.mem.allocString("/f"), g.mem.allocString("/g"))
      assert.deepStrictEqual(yield* fflags, [NOTE_LINK])
      yield* callOk(g, SYS.rename, g.mem.allocString("/g"), g.mem.allocString("/h"))
      assert.deepStrictEqual(yield* fflags, [NOTE_RENAME])
      yield* callOk(g, SYS.unlink, g.mem.allocString("/h"))
      yield* callOk(g, SYS.unlink, g.mem.allocString("/f"))
      assert.deepStrictEqual(yield* fflags, [NOTE_LINK | NOTE_DELETE])
    }))

  it.effect("advisory locks: one process's fcntl lock and flock keep another's out of a host file", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const k = yield* boot(at(root))
      const a = yield* k.guest()
      const b = yield* k.guest()
      const fa = Number(yield* callOk(a, SYS.open, a.mem.allocString("/f"), O_CREAT | O_RDWR, 0o644))
      const fb = Number(yield* callOk(b, SYS.open, b.mem.allocString("/f"), O_RDWR, 0))
      yield* callOk(a, SYS.flock, fa, flockOps.LOCK_EX)
      assert.strictEqual(yield* errnoOf(b, SYS.flock, fb, flockOps.LOCK_EX | flockOps.LOCK_NB), Errno.EWOULDBLOCK)
      yield* callOk(a, SYS.flock, fa, flockOps.LOCK_UN)
      yield* callOk(b, SYS.flock, fb, flockOps.LOCK_SH)
      // the same vnode whatever the path: an O_EXLOCK open elsewhere waits for it
      assert.strictEqual(yield* errnoOf(a, SYS.open, a.mem.allocString("/f"), O_RDWR | 0x20 | 0x4, 0), Errno.EWOULDBLOCK)
    }))
})

describe("host file system: listings", () => {
  it.effect("getdents in small pieces gives every entry once, with its host inode number; a seek back lists again", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const names = Array.from({ length: 500 }, (_, i) => `entry-${i}-${"x".repeat(i % 40)}`)
      for (const n of names) Fs.writeFileSync(Path.join(root, n), "")
      const g = yield* makeGuest(at(root))
      const got = yield* listing(g, "/", 512)
      assert.deepStrictEqual([...got.keys()].filter((n) => n.startsWith("entry-")).sort(), [...names].sort())
      for (const n of names.slice(0, 20)) assert.strictEqual(got.get(n), BigInt(Fs.statSync(Path.join(root, n)).ino), n)
      assert.strictEqual(got.get("."), BigInt(Fs.statSync(root).ino))
      // one open directory, read halfway, then from the start again
      const fd = yield* g.open("/", O_RDONLY)
      const b = g.buf(1024)
      const first = Number(yield* g.ok(SYS.__getdents30, fd, b, 1024))
      const head = g.bytes(b, first).slice()
      yield* g.ok(SYS.__getdents30, fd, b, 1024)
      yield* g.ok(SYS.lseek, fd, 0, 0, lseekWhence.SEEK_SET)
      const again = Number(yield* g.ok(SYS.__getdents30, fd, b, 1024))
      assert.deepStrictEqual(g.bytes(b, again), head)
      yield* g.close(fd)
    }))

  it.effect("O_CREAT|O_EXCL on the host: one winner among concurrent creators", () =>
    Effect.gen(function*() {
      const { root } = hostDir()
      const k = yield* boot(at(root))
      const guests = yield* Effect.forEach(Array.from({ length: 8 }), () => k.guest())
      const results = yield* Effect.forEach(guests, (g) => errnoOf(g, SYS.open, g.mem.allocString("/one"), O_CREAT | O_EXCL | O_WRONLY, 0o644), {
        concurrency: "unbounded"
      })
      assert.strictEqual(results.filter((e) => e === 0).length, 1)
      assert.strictEqual(results.filter((e) => e === Errno.EEXIST).length, 7)
      void O_TRUNC
    }))
})
