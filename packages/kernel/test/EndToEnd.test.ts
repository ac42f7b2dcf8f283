/**
 * End to end: the real kernel layer behind a real SysproxyServer on a unix
 * socket, driven by real @sysproxy/client connections. Each test boots its
 * own kernel and server (so pids and counters start fresh) and tears both
 * down with its scope.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  direntTypes,
  Errno,
  fcntlCmds,
  lseekWhence,
  openFlags,
  signals,
  SYS,
  Structs,
  sysctlKern,
  sysctlKernProc,
  sysctlTop
} from "@sysproxy/protocol/netbsd"
import { Effect, Exit, Fiber } from "effect"
import { connect } from "@sysproxy/client"
import { attach, cString, guest, pollUntil, show, startWorld } from "./support/EndToEnd.ts"

const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_NOFOLLOW, O_CLOEXEC } = openFlags
const S_IFCHR = 0o020000
const MiB = 1024 * 1024

const encode = (s: string) => new TextEncoder().encode(s)
const decode = (b: Uint8Array) => new TextDecoder().decode(b)

/** A struct timespec of `sec` seconds. */
const timespec = (sec: number): Uint8Array => {
  const b = new Uint8Array(Structs.timespec.size)
  new DataView(b.buffer).setBigInt64(0, BigInt(sec), true)
  return b
}

const field = (layout: { readonly fields: ReadonlyArray<{ readonly name: string; readonly offset: number; readonly size: number }> }, name: string) => {
  const f = layout.fields.find((x) => x.name === name)
  if (f === undefined) throw new Error(`no field ${name}`)
  return f
}

interface Dirent {
  readonly fileno: bigint
  readonly reclen: number
  readonly type: number
  readonly name: string
}

/** getdents records decoded by the offsets of Structs.dirent. */
const decodeDirents = (bytes: Uint8Array): Array<Dirent> => {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const fileno = field(Structs.dirent, "d_fileno").offset
  const reclen = field(Structs.dirent, "d_reclen").offset
  const namlen = field(Structs.dirent, "d_namlen").offset
  const type = field(Structs.dirent, "d_type").offset
  const name = field(Structs.dirent, "d_name").offset
  const out: Array<Dirent> = []
  for (let at = 0; at < bytes.length;) {
    const len = v.getUint16(at + reclen, true)
    const n = v.getUint16(at + namlen, true)
    out.push({
      fileno: v.getBigUint64(at + fileno, true),
      reclen: len,
      type: v.getUint8(at + type),
      name: decode(bytes.subarray(at + name, at + name + n))
    })
    if (len === 0) break
    at += len
  }
  return out
}

describe("a guest's view at start", () => {
  it.live("pids, the console on fds 0-2, and fd 3 as the first free one", () =>
    Effect.gen(function*() {
      const world = yield* startWorld()
      const a = yield* guest(world, "first")
      const b = yield* guest(world, "second")
      assert.deepStrictEqual(yield* a.call(SYS.getpid), { error: 0, retval0: 2n, retval1: 1n })
      assert.deepStrictEqual(yield* b.call(SYS.getpid), { error: 0, retval0: 3n, retval1: 1n })
      assert.strictEqual(yield* a.ok(SYS.getppid), 1n)

      // fd 1: /dev/console, a character device nobody links to
      const st = yield* a.fstat(1)
      assert.strictEqual(st.mode, S_IFCHR | 0o600, `st_mode ${st.mode.toString(8)}`)
      assert.strictEqual(st.nlink, 0)
      for (const fd of [0, 1, 2]) {
        assert.strictEqual(yield* a.ok(SYS.fcntl, fd, fcntlCmds.F_GETFL), BigInt(O_WRONLY), `F_GETFL of fd ${fd}`)
      }
      // write-only: reading the console is EBADF
      yield* a.fails(Errno.EBADF, SYS.read, 0, a.buf(16), 16)

      assert.strictEqual(yield* a.write(1, "hello\n"), 6)
      assert.strictEqual(yield* b.write(2, "from b\n"), 7)
      assert.deepStrictEqual(world.console, [
        { pid: 2, text: "hello\n" },
        { pid: 3, text: "from b\n" }
      ])

      assert.strictEqual(yield* a.open("/tmp/first", O_RDWR | O_CREAT), 3)
      assert.strictEqual(yield* a.open("/tmp/first", O_RDONLY), 4)
      // each guest has its own table
      assert.strictEqual(yield* b.open("/tmp/first", O_RDONLY), 3)
    }))
})

describe("files", () => {
  it.live("write 1 MiB, read it back, stat, rename, unlink", () =>
    Effect.gen(function*() {
      const world = yield* startWorld()
      const g = yield* guest(world, "files")
      const fd = yield* g.open("/tmp/w", O_RDWR | O_CREAT | O_EXCL, 0o600)
      const data = new Uint8Array(MiB)
      for (let i = 0; i < data.length; i++) data[i] = (i * 31 + (i >>> 12)) & 0xff
      assert.strictEqual(yield* g.write(fd, data), MiB)
      assert.strictEqual(yield* g.ok(SYS.lseek, fd, 0, 0, lseekWhence.SEEK_SET), 0n)

      const back = g.buf(MiB)
      let got = 0
      while (got < MiB) {
        const n = Number(yield* g.ok(SYS.read, fd, back + BigInt(got), MiB - got))
        assert.isAbove(n, 0, `read returned 0 after ${got} bytes`)
        got += n
      }
      const readBack = g.bytes(back, MiB)
      const firstDiff = readBack.findIndex((b, i) => b !== data[i])
      assert.strictEqual(firstDiff, -1, `read back differs at byte ${firstDiff}`)
      // and at the end of file, read gives 0
      assert.strictEqual(yield* g.ok(SYS.read, fd, g.buf(16), 16), 0n)

      assert.strictEqual((yield* g.stat("/tmp/w")).size, BigInt(MiB))
      assert.strictEqual((yield* g.fstat(fd)).size, BigInt(MiB))
      yield* g.ok(SYS.close, fd)

      yield* g.ok(SYS.rename, g.str("/tmp/w"), g.str("/tmp/w2"))
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str("/tmp/w"), g.buf(152))
      yield* g.fails(Errno.ENOENT, SYS.open, g.str("/tmp/w"), O_RDONLY, 0)
      assert.strictEqual((yield* g.stat("/tmp/w2")).size, BigInt(MiB))

      yield* g.ok(SYS.unlink, g.str("/tmp/w2"))
      yield* g.fails(Errno.ENOENT, SYS.__stat50, g.str("/tmp/w2"), g.buf(152))
      yield* g.fails(Errno.ENOENT, SYS.unlink, g.str("/tmp/w2"))
    }), 30_000)

  it.live("a directory lists ., .., a, bb, ccc with their types and record lengths", () =>
    Effect.gen(function*() {
      const world = yield* startWorld()
      const g = yield* guest(world, "dirs")
      yield* g.ok(SYS.mkdir, g.str("/tmp/d"), 0o755)
      for (const name of ["a", "bb", "ccc"]) yield* g.ok(SYS.close, yield* g.open(`/tmp/d/${name}`, O_WRONLY | O_CREAT))
      const dir = yield* g.open("/tmp/d", O_RDONLY)
      const buf = g.buf(4096)
      const n = Number(yield* g.ok(SYS.__getdents30, dir, buf, 4096))
      const entries = decodeDirents(g.bytes(buf, n))
      assert.deepStrictEqual(
        entries.map((e) => [e.name, e.type, e.reclen]),
        [
          [".", direntTypes.DT_DIR, 16],
          ["..", direntTypes.DT_DIR, 16],
          ["a", direntTypes.DT_REG, 16],
          ["bb", direntTypes.DT_REG, 16],
          ["ccc", direntTypes.DT_REG, 24]
        ]
      )
      assert.strictEqual(n, 16 * 4 + 24)
      // d_fileno is the inode number stat reports
      assert.strictEqual(entries[2]!.fileno, (yield* g.stat("/tmp/d/a")).ino)
      assert.strictEqual(entries[0]!.fileno, (yield* g.stat("/tmp/d")).ino)
      assert.strictEqual(entries[1]!.fileno, (yield* g.stat("/tmp")).ino)
      // the listing is finished: the next call gives nothing
      assert.strictEqual(yield* g.ok(SYS.__getdents30, dir, buf, 4096), 0n)
    }))

  it.live("a symlink loop is ELOOP; O_NOFOLLOW on a symlink is EFTYPE", () =>
    Effect.gen(function*() {
      const world = yield* startWorld()
      const g = yield* guest(world, "links")
      yield* g.ok(SYS.symlink, g.str("/tmp/l2"), g.str("/tmp/l1"))
      yield* g.ok(SYS.symlink, g.str("/tmp/l1"), g.str("/tmp/l2"))
      yield* g.fails(62, SYS.open, g.str("/tmp/l1"), O_RDONLY, 0)
      assert.strictEqual(Errno.ELOOP, 62)
      yield* g.fails(Errno.ELOOP, SYS.open, g.str("/tmp/l2"), O_RDWR | O_CREAT, 0o644)

      yield* g.ok(SYS.close, yield* g.open("/tmp/target", O_WRONLY | O_CREAT))
      yield* g.ok(SYS.symlink, g.str("/tmp/target"), g.str("/tmp/good"))
      yield* g.fails(79, SYS.open, g.str("/tmp/good"), O_RDONLY | O_NOFOLLOW, 0)
      yield* g.fails(79, SYS.open, g.str("/tmp/l1"), O_RDONLY | O_NOFOLLOW, 0)
      assert.strictEqual(Errno.EFTYPE, 79)
      // without O_NOFOLLOW the good link opens its target
      assert.strictEqual(yield* g.open("/tmp/good", O_RDONLY), 3)
    }))
})

describe("sysctl", () => {
  it.live("kern.hostname set by one client is read back by another", () =>
    Effect.gen(function*() {
      const world = yield* startWorld()
      const a = yield* guest(world, "setter")
      const b = yield* guest(world, "reader")
      const mib = [sysctlTop.CTL_KERN, sysctlKern.KERN_HOSTNAME]
      assert.deepStrictEqual(mib, [1, 10])
      const NAME = "e2e-host.example.org"

      const before = yield* b.sysctl(mib, 256)
      assert.strictEqual(before.result.error, 0)
      assert.notStrictEqual(cString(before.old), NAME)
      assert.strictEqual(before.oldlen, BigInt(encode(cString(before.old)).length + 1))

      const set = yield* a.sysctl(mib, 0, encode(`${NAME}\0`))
      assert.strictEqual(set.result.error, 0, show(set.result))

      const after = yield* b.sysctl(mib, 256)
      assert.strictEqual(after.result.error, 0)
      assert.strictEqual(cString(after.old), NAME)
      assert.strictEqual(after.oldlen, BigInt(NAME.length + 1))
      // too small a buffer: ENOMEM, with the length needed
      const small = yield* b.sysctl(mib, 4)
      assert.strictEqual(small.result.error, Errno.ENOMEM)
      assert.strictEqual(small.oldlen, BigInt(NAME.length + 1))
    }))
})

describe("signals", () => {
  it.live("kill(pid of B, SIGUSR1) raises it in B's client; a pid that does not exist is ESRCH", () =>
    Effect.gen(function*() {
      const world = yield* startWorld()
      const a = yield* guest(world, "killer")
      const b = yield* guest(world, "victim")
      assert.strictEqual(signals.SIGUSR1, 30)
      assert.strictEqual(yield* a.ok(SYS.kill, b.pid, 30), 0n)
      const sig = yield* b.conn.takeSignal.pipe(Effect.timeout("3 seconds"), Effect.orDie)
      assert.strictEqual(sig, 30)
      // signal 0 only checks: nothing is raised
      assert.strictEqual(yield* a.ok(SYS.kill, b.pid, 0), 0n)
      yield* a.fails(Errno.ESRCH, SYS.kill, 4242, 30)
      yield* a.fails(Errno.ESRCH, SYS.kill, 4242, 0)
      // a round trip on B's connection: a RAISE sent before its answer would be here by now
      yield* b.ok(SYS.getpid)
      assert.deepStrictEqual(b.conn.signals, [30])
      assert.deepStrictEqual(a.conn.signals, [])
    }))
})

describe("prefork and fork", () => {
  it.live("the fork child shares the parent's open files", () =>
    Effect.gen(function*() {
      const world = yield* startWorld()
      const a = yield* guest(world, "parent")
      const fd = yield* a.open("/tmp/shared", O_RDWR | O_CREAT)
      assert.strictEqual(fd, 3)
      const cookie = yield* a.conn.prefork()
      assert.strictEqual(cookie.length, 16)

      const conn = yield* connect(world.url)
      yield* conn.handshakeFork(cookie)
      const child = yield* attach(conn)
      assert.notStrictEqual(child.pid, a.pid)
      assert.strictEqual(yield* child.write(3, "child"), 5)

      // the same open file: A's offset moved with the child's write
      assert.strictEqual(yield* a.ok(SYS.lseek, 3, 0, 0, lseekWhence.SEEK_CUR), 5n)
      assert.strictEqual(yield* a.ok(SYS.lseek, 3, 0, 0, lseekWhence.SEEK_SET), 0n)
      assert.strictEqual(decode(yield* a.read(3, 64)), "child")

      // The child is forked from the preforked process (the seeds' rfork
      // from the prefork's lwp), which is then released: its children go to
      // init, so the child's parent is 1, as with the reference server. It
      // is not A's pid.
      const ppid = yield* child.ok(SYS.getppid)
      assert.strictEqual(ppid, 1n)
      assert.deepStrictEqual(yield* child.call(SYS.getpid), { error: 0, retval0: BigInt(child.pid), retval1: 1n })
      // only A and the child live: the prefork is gone
      assert.strictEqual(world.kernel.stats().processes, 2)
      assert.isTrue(world.kernel.state.procs.has(child.pid))
      assert.isTrue(world.kernel.state.procs.has(Number(ppid)), "the parent is a live process (init)")
    }))
})

describe("exec", () => {
  it.live("exec closes close-on-exec descriptors and sets comm; kern.proc2 shows it", () =>
    Effect.gen(function*() {
      const world = yield* startWorld()
      const g = yield* guest(world, "oldname")
      const cloexec = yield* g.open("/tmp/e1", O_RDWR | O_CREAT | O_CLOEXEC)
      const kept = yield* g.open("/tmp/e2", O_RDWR | O_CREAT)
      assert.deepStrictEqual([cloexec, kept], [3, 4])
      assert.strictEqual(yield* g.write(cloexec, "x"), 1)

      yield* g.conn.handshakeExec("newname")
      yield* g.fails(Errno.EBADF, SYS.write, cloexec, g.str("y"), 1)
      yield* g.fails(Errno.EBADF, SYS.fcntl, cloexec, fcntlCmds.F_GETFD)
      assert.strictEqual(yield* g.write(kept, "still"), 5)
      // the console survives too
      assert.strictEqual(yield* g.write(1, "after exec\n"), 11)
      assert.deepStrictEqual(world.console.at(-1), { pid: g.pid, text: "after exec\n" })

      const size = Structs.kinfo_proc2.size
      assert.strictEqual(size, 680)
      const mib = [sysctlTop.CTL_KERN, sysctlKern.KERN_PROC2, sysctlKernProc.KERN_PROC_PID, g.pid, size, 1]
      assert.deepStrictEqual(mib, [1, 47, 1, g.pid, 680, 1])
      const r = yield* g.sysctl(mib, size)
      assert.strictEqual(r.result.error, 0, show(r.result))
      assert.strictEqual(r.oldlen, BigInt(size))
      const v = new DataView(r.old.buffer, r.old.byteOffset, r.old.byteLength)
      assert.strictEqual(v.getInt32(field(Structs.kinfo_proc2, "p_pid").offset, true), g.pid)
      const comm = field(Structs.kinfo_proc2, "p_comm")
      assert.strictEqual(cString(r.old.subarray(comm.offset, comm.offset + comm.size)), "newname")
      // the main lwp and the caller's own
      assert.strictEqual(v.getBigUint64(field(Structs.kinfo_proc2, "p_nlwps").offset, true), 2n)
    }))
})

describe("lwpExit wakes a sleeping nanosleep", () => {
  // A long disconnect grace: the server would interrupt a syscall that did
  // not leave the kernel after it, so the lwps going away within 2 s can
  // only be the kernel waking the sleeper.
  const grace = { disconnectGrace: "60 seconds" } as const

  it.live("closing the connection ends a 30 s nanosleep within a couple of seconds", () =>
    Effect.gen(function*() {
      const world = yield* startWorld(grace)
      const g = yield* guest(world, "sleeper")
      const sleeping = yield* g.conn.syscall(SYS.__nanosleep50, [g.conn.space.alloc(timespec(30)), 0]).pipe(
        Effect.exit,
        Effect.forkChild
      )
      yield* pollUntil("the nanosleep to be in the kernel", Effect.sync(() => world.kernel.stats().lwps), (n) => n === 1)
      const t0 = Date.now()
      yield* g.conn.close
      yield* pollUntil(
        "the kernel to be empty",
        Effect.sync(() => world.kernel.stats()),
        (s) => s.lwps === 0 && s.processes === 0,
        { timeoutMs: 2000 }
      )
      assert.isBelow(Date.now() - t0, 2000)
      const exit = yield* Fiber.join(sleeping)
      assert.isTrue(Exit.isFailure(exit), "the client saw its connection close")
    }))

  it.live("a nanosleep in flight returns EINTR (with the time left) when the client execs", () =>
    Effect.gen(function*() {
      const world = yield* startWorld(grace)
      const g = yield* guest(world, "sleeper")
      const rmtp = g.buf(Structs.timespec.size)
      const sleeping = yield* g.call(SYS.__nanosleep50, g.conn.space.alloc(timespec(30)), rmtp).pipe(Effect.forkChild)
      yield* pollUntil("the nanosleep to be in the kernel", Effect.sync(() => world.kernel.stats().lwps), (n) => n === 1)
      const t0 = Date.now()
      yield* g.conn.handshakeExec("woken").pipe(Effect.timeout("5 seconds"))
      const result = yield* Fiber.join(sleeping).pipe(Effect.timeout("1 second"))
      assert.isBelow(Date.now() - t0, 2000)
      assert.deepStrictEqual(result, { error: Errno.EINTR, retval0: -1n, retval1: 0n })
      const left = new DataView(g.bytes(rmtp, 16).buffer).getBigInt64(0, true)
      assert.isTrue(left >= 25n && left < 30n, `time left ${left} s`)
      assert.strictEqual(world.kernel.stats().lwps, 0)
      // the process goes on after the exec
      assert.deepStrictEqual(yield* g.call(SYS.getpid), { error: 0, retval0: BigInt(g.pid), retval1: 1n })
    }))
})

describe("teardown", () => {
  it.live("after every client disconnects the kernel holds no process, lwp or open file", () =>
    Effect.gen(function*() {
      const world = yield* startWorld({ disconnectGrace: "60 seconds" })
      const a = yield* guest(world, "a")
      const b = yield* guest(world, "b")
      yield* a.open("/tmp/a1", O_RDWR | O_CREAT)
      yield* a.open("/tmp/a2", O_RDWR | O_CREAT)
      yield* b.open("/tmp/b1", O_RDWR | O_CREAT)
      const cookie = yield* a.conn.prefork()
      const conn = yield* connect(world.url)
      yield* conn.handshakeFork(cookie)
      const c = yield* attach(conn)
      // b leaves with a syscall asleep in the kernel
      yield* b.conn.syscall(SYS.__nanosleep50, [b.conn.space.alloc(timespec(30)), 0]).pipe(Effect.exit, Effect.forkChild)
      yield* pollUntil("b's nanosleep", Effect.sync(() => world.kernel.stats().lwps), (n) => n === 1)

      const during = world.kernel.stats()
      assert.strictEqual(during.processes, 3)
      // a's console and two files (shared with its fork child c), b's console and file
      assert.strictEqual(during.openFiles, 5)
      // stats() only sees files reachable from live processes' tables, so
      // keep the File objects themselves to check that they were closed
      const files = new Set(
        [a.pid, b.pid, c.pid].flatMap((pid) => {
          const table = world.kernel.state.procs.get(pid)?.fds
          return table === undefined ? [] : table.openFds().map((fd) => table.get(fd)!.file)
        })
      )
      assert.strictEqual(files.size, 5)

      yield* Effect.forEach([a.conn, b.conn, c.conn], (x) => x.close, { discard: true })
      const after = yield* pollUntil(
        "the kernel to be empty",
        Effect.sync(() => world.kernel.stats()),
        (s) => s.processes === 0 && s.lwps === 0 && s.openFiles === 0,
        { timeoutMs: 2000 }
      )
      assert.deepStrictEqual([after.processes, after.lwps, after.openFiles], [0, 0, 0])
      assert.deepStrictEqual([...files].map((f) => f.refs), [0, 0, 0, 0, 0], "every file lost its last reference")
      assert.deepStrictEqual([...world.kernel.state.procs.keys()], [1], "only init is left")
      yield* pollUntil("the server to forget its clients", Effect.sync(() => world.server.stats().clients), (n) => n === 0)
    }))
})

describe("unimplemented syscalls", () => {
  it.live("an unknown number is ENOSYS and counted in Kernel.stats().unimplemented", () =>
    Effect.gen(function*() {
      const world = yield* startWorld()
      const g = yield* guest(world, "nosys")
      const UNKNOWN = 500 // below SYS_NSYSENT (512), where numbers are counted one by one
      assert.isFalse(world.kernel.stats().unimplemented.has(UNKNOWN))
      assert.deepStrictEqual(yield* g.call(UNKNOWN, 1, 2, 3), { error: 78, retval0: -1n, retval1: 0n })
      assert.strictEqual(Errno.ENOSYS, 78)
      yield* g.fails(Errno.ENOSYS, UNKNOWN)
      assert.strictEqual(world.kernel.stats().unimplemented.get(UNKNOWN), 2)
      // a real NetBSD syscall this kernel lacks is counted the same way (exit: not a rump syscall)
      yield* g.fails(Errno.ENOSYS, SYS.exit)
      assert.strictEqual(world.kernel.stats().unimplemented.get(SYS.exit), 1)
      assert.deepStrictEqual([...world.kernel.stats().unimplemented.keys()].sort((x, y) => x - y), [SYS.exit, UNKNOWN].sort((x, y) => x - y))
      // numbers past the table share one counter, so random numbers cannot grow the map
      yield* g.fails(Errno.ENOSYS, 999)
      yield* g.fails(Errno.ENOSYS, 123456)
      assert.strictEqual(world.kernel.stats().unimplemented.get(512), 2)
      assert.strictEqual(world.kernel.stats().unimplemented.size, 3)
      // implemented ones are not
      yield* g.ok(SYS.getpid)
      assert.isFalse(world.kernel.stats().unimplemented.has(SYS.getpid))
    }))
})
