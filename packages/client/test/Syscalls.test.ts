/**
 * The typed syscalls against the real kernel through the real server over
 * a unix socket: arguments packed and buffers mapped by the wrappers,
 * results decoded from what the kernel copied out.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  direntTypes,
  Errno,
  fcntlCmds,
  fdFlags,
  lseekWhence,
  modeBits,
  openFlags,
  signals,
  SYS
} from "@sysproxy/protocol/netbsd"
import { Cause, Effect, Exit, Stream } from "effect"
import {
  isDirectory,
  isRegularFile,
  isSymbolicLink,
  makeClient,
  SIGNAL_BACKLOG,
  SyscallError,
  type SysproxyProcess
} from "../src/index.ts"
import { startServer } from "./support/World.ts"

const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes)

const O_RDWR_CREAT = openFlags.O_RDWR | openFlags.O_CREAT

/** The SyscallError an effect fails with (the test fails on anything else). */
const syscallFailure = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function*() {
    const exit = yield* Effect.exit(effect)
    assert.isTrue(Exit.isFailure(exit), "expected a failure")
    const error = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
    assert.instanceOf(error, SyscallError)
    return error as SyscallError
  })

const client = (comm = "typed-test"): Effect.Effect<SysproxyProcess, unknown, import("effect").Scope.Scope> =>
  Effect.flatMap(startServer(), (url) => makeClient({ url, comm }))

describe("typed syscalls against the kernel", () => {
  it.live("open, write, read, pread, pwrite, lseek, fstat, close", () =>
    Effect.gen(function*() {
      const c = yield* client()
      const fd = yield* c.open("/f", O_RDWR_CREAT, 0o640)
      assert.strictEqual(yield* c.write(fd, "hello, world"), 12)
      assert.strictEqual(yield* c.lseek(fd, 0), 0)
      assert.strictEqual(text(yield* c.read(fd, 5)), "hello")
      assert.strictEqual(text(yield* c.read(fd, 100)), ", world")
      assert.strictEqual((yield* c.read(fd, 100)).byteLength, 0)
      assert.strictEqual(yield* c.pwrite(fd, "W", 7), 1)
      assert.strictEqual(text(yield* c.pread(fd, 5, 7)), "World")
      // pread/pwrite leave the offset alone; SEEK_END counts from the size
      assert.strictEqual(yield* c.lseek(fd, 0, lseekWhence.SEEK_CUR), 12)
      assert.strictEqual(yield* c.lseek(fd, -5, lseekWhence.SEEK_END), 7)
      const st = yield* c.fstat(fd)
      assert.isTrue(isRegularFile(st))
      assert.strictEqual(st.size, 12)
      assert.strictEqual(st.mode & 0o777, 0o640 & ~0o022)
      assert.strictEqual(st.nlink, 1)
      yield* c.close(fd)
      const badf = yield* syscallFailure(c.close(fd))
      assert.deepInclude(badf, { syscall: "close", errno: Errno.EBADF, code: "EBADF", description: "Bad file descriptor" })
    }))

  it.live("stat, lstat, mkdir, rmdir, unlink, rename, symlink, readlink, chmod", () =>
    Effect.gen(function*() {
      const c = yield* client()
      yield* c.mkdir("/d", 0o755)
      assert.isTrue(isDirectory(yield* c.stat("/d")))
      yield* c.writeFile("/d/a", "alpha")
      yield* c.rename("/d/a", "/d/b")
      assert.strictEqual((yield* syscallFailure(c.stat("/d/a"))).code, "ENOENT")
      assert.strictEqual((yield* c.stat("/d/b")).size, 5)
      yield* c.symlink("/d/b", "/l")
      assert.isTrue(isSymbolicLink(yield* c.lstat("/l")))
      assert.isTrue(isRegularFile(yield* c.stat("/l")))
      assert.strictEqual(yield* c.readlink("/l"), "/d/b")
      yield* c.chmod("/d/b", 0o600)
      assert.strictEqual((yield* c.stat("/d/b")).mode & modeBits.ALLPERMS, 0o600)
      const notEmpty = yield* syscallFailure(c.rmdir("/d"))
      assert.deepInclude(notEmpty, { syscall: "rmdir", errno: Errno.ENOTEMPTY, message: "rmdir: Directory not empty" })
      yield* c.unlink("/d/b")
      yield* c.rmdir("/d")
      assert.strictEqual((yield* syscallFailure(c.stat("/d"))).errno, Errno.ENOENT)
      assert.strictEqual((yield* syscallFailure(c.mkdir("/"))).code, "EEXIST")
    }))

  it.live("readdir lists a directory over several getdents calls; getdents on a file is EINVAL", () =>
    Effect.gen(function*() {
      const c = yield* client()
      yield* c.mkdir("/many")
      // names long enough that one 8 KiB getdents cannot hold them all
      const names = Array.from({ length: 200 }, (_, i) => `file-with-a-long-name-${String(i).padStart(4, "0")}`)
      yield* Effect.forEach(names, (n) => c.writeFile(`/many/${n}`, n), { concurrency: 8, discard: true })
      yield* c.mkdir("/many/sub")
      const entries = yield* c.readdir("/many")
      assert.deepStrictEqual(entries.map((e) => e.name).sort(), [".", "..", ...names, "sub"].sort())
      assert.strictEqual(entries.find((e) => e.name === "sub")?.type, direntTypes.DT_DIR)
      assert.strictEqual(entries.find((e) => e.name === names[0])?.type, direntTypes.DT_REG)
      const st = yield* c.stat(`/many/${names[7]}`)
      assert.strictEqual(entries.find((e) => e.name === names[7])?.fileno, st.ino)
      const fd = yield* c.open(`/many/${names[0]}`)
      assert.strictEqual((yield* syscallFailure(c.getdents(fd))).code, "EINVAL")
      assert.strictEqual((yield* syscallFailure(c.readdir("/nope"))).code, "ENOENT")
    }))

  it.live("pipe, dup, dup2, fcntl", () =>
    Effect.gen(function*() {
      const c = yield* client()
      const [r, w] = yield* c.pipe()
      assert.notStrictEqual(r, w)
      const w2 = yield* c.dup(w)
      yield* c.write(w2, "via dup")
      assert.strictEqual(text(yield* c.read(r, 100)), "via dup")
      assert.strictEqual(yield* c.dup2(w, 20), 20)
      yield* c.write(20, "via dup2")
      assert.strictEqual(text(yield* c.read(r, 100)), "via dup2")
      assert.strictEqual(yield* c.fcntl(r, fcntlCmds.F_GETFD), 0)
      yield* c.fcntl(r, fcntlCmds.F_SETFD, fdFlags.FD_CLOEXEC)
      assert.strictEqual(yield* c.fcntl(r, fcntlCmds.F_GETFD), fdFlags.FD_CLOEXEC)
      assert.strictEqual((yield* c.fcntl(w, fcntlCmds.F_GETFL)) & openFlags.O_ACCMODE, openFlags.O_WRONLY)
      assert.strictEqual((yield* syscallFailure(c.fcntl(99, fcntlCmds.F_GETFD))).code, "EBADF")
    }))

  it.live("chdir, fchdir, getcwd resolve relative paths", () =>
    Effect.gen(function*() {
      const c = yield* client()
      assert.strictEqual(yield* c.getcwd(), "/")
      yield* c.mkdir("/work")
      yield* c.mkdir("/work/deeper")
      yield* c.chdir("/work")
      assert.strictEqual(yield* c.getcwd(), "/work")
      yield* c.writeFile("rel", "relative")
      assert.strictEqual(text(yield* c.readFile("/work/rel")), "relative")
      const fd = yield* c.open("deeper", openFlags.O_RDONLY | openFlags.O_DIRECTORY)
      yield* c.fchdir(fd)
      assert.strictEqual(yield* c.getcwd(), "/work/deeper")
      assert.strictEqual((yield* syscallFailure(c.chdir("/work/rel"))).code, "ENOTDIR")
    }))

  it.live("readFile and writeFile move data larger than one request", () =>
    Effect.gen(function*() {
      const c = yield* client()
      const big = new Uint8Array(300_000).map((_, i) => (i * 7) % 251)
      yield* c.writeFile("/big", big)
      assert.strictEqual((yield* c.stat("/big")).size, big.byteLength)
      assert.deepStrictEqual(yield* c.readFile("/big"), big)
      yield* c.writeFile("/big", "short")
      assert.strictEqual(text(yield* c.readFile("/big")), "short")
      const fd = yield* c.open("/big", openFlags.O_RDWR)
      yield* c.ftruncate(fd, 2)
      yield* c.fsync(fd)
      assert.strictEqual(text(yield* c.readFile("/big")), "sh")
    }))

  it.live("getpid, getppid, kill: a signal to itself arrives on the signals stream", () =>
    Effect.gen(function*() {
      const c = yield* client()
      const pid = yield* c.getpid()
      assert.isAbove(pid, 1)
      assert.strictEqual(yield* c.getppid(), 1)
      yield* c.kill(pid, signals.SIGUSR1)
      yield* c.kill(pid, signals.SIGUSR2)
      const got = yield* c.signals.pipe(Stream.take(2), Stream.runCollect)
      assert.deepStrictEqual(got, [signals.SIGUSR1, signals.SIGUSR2])
      assert.strictEqual((yield* syscallFailure(c.kill(99_999, signals.SIGUSR1))).code, "ESRCH")
    }))

  it.live("signals are kept once, by the session, the newest SIGNAL_BACKLOG of them when nobody takes them", () =>
    Effect.gen(function*() {
      const c = yield* client()
      const pid = yield* c.getpid()
      yield* Effect.repeat(c.kill(pid, signals.SIGUSR2), { times: 5 })
      yield* Effect.repeat(c.kill(pid, signals.SIGUSR1), { times: SIGNAL_BACKLOG - 1 })
      // the connection keeps none of them: the session's bounded queue is the only store
      assert.deepStrictEqual(c.connection.signals, [])
      const kept = yield* c.signals.pipe(Stream.take(SIGNAL_BACKLOG), Stream.runCollect)
      assert.deepStrictEqual(kept, Array.from({ length: SIGNAL_BACKLOG }, () => signals.SIGUSR1), "the six oldest dropped")
      yield* c.kill(pid, signals.SIGUSR2)
      assert.deepStrictEqual(yield* c.signals.pipe(Stream.take(1), Stream.runCollect), [signals.SIGUSR2])
    }))

  it.live("sysctl by name and by MIB, decoded by type; a write returns the old value", () =>
    Effect.gen(function*() {
      const c = yield* client()
      assert.strictEqual(yield* c.sysctl("kern.hostname"), "client-test")
      assert.strictEqual(yield* c.sysctl("kern.ostype"), "NetBSD")
      assert.strictEqual(yield* c.sysctl([1, 1]), "NetBSD")
      assert.strictEqual(yield* c.sysctl("hw.ncpu"), 1)
      assert.strictEqual(typeof (yield* c.sysctl("hw.physmem64")), "bigint")
      assert.strictEqual(yield* c.sysctlWrite("kern.hostname", "renamed"), "client-test")
      assert.strictEqual(yield* c.sysctl("kern.hostname"), "renamed")
      const raw = yield* c.sysctlRaw([1, 10])
      assert.strictEqual(text(raw), "renamed\0")
      // a name the kernel does not list: sysctlnametomib's ENOENT, in sysctl(8)'s words
      const bad = yield* Effect.flip(c.sysctl("kern.nosuchthing"))
      assert.deepInclude(bad, { _tag: "ClientError", reason: "BadRequest", errno: Errno.ENOENT })
      assert.strictEqual(bad.message, "second level name 'nosuchthing' in 'kern.nosuchthing' is invalid")
      // a full kernel's name a rump kernel lacks (kern.maxvnodes) is unknown by name too
      assert.strictEqual((yield* Effect.flip(c.sysctl("kern.maxvnodes"))).message, "second level name 'maxvnodes' in 'kern.maxvnodes' is invalid")
      // a MIB goes to the kernel as it is: its errno
      const missing = yield* syscallFailure(c.sysctl([1, 5]))
      assert.strictEqual(missing.syscall, "sysctl")
      const badValue = yield* Effect.flip(c.sysctlWrite("hw.ncpu", "many"))
      assert.strictEqual(badValue._tag, "ClientError")
    }))

  it.live("names resolve through the kernel (CTL_QUERY) as sysctlnametomib does, numbers and any-number nodes too", () =>
    Effect.gen(function*() {
      const c = yield* client()
      const top = yield* c.sysctlQuery([])
      assert.deepStrictEqual(top.map((n) => n.name).slice(0, 3), ["kern", "vm", "vfs"])
      assert.deepInclude(yield* c.sysctlResolve("kern.hostname"), { name: "kern.hostname", mib: [1, 10], type: "string" })
      assert.deepInclude(yield* c.sysctlResolve("1.10"), { name: "kern.hostname", mib: [1, 10], type: "string" })
      assert.deepInclude(yield* c.sysctlResolve("kern/timecounter/hardware"), { name: "kern.timecounter.hardware", type: "string" })
      const soft = yield* c.sysctlResolve("proc.curproc.rlimit.descriptors.soft")
      assert.deepStrictEqual(soft.mib, [10, 0x7fffffff, 2, 9, 1])
      assert.strictEqual(yield* c.sysctl("proc.curproc.rlimit.descriptors.soft"), 128n)
      const pid = yield* c.getpid()
      assert.deepInclude(yield* c.sysctlResolve(`proc.${pid}.corename`), { name: `proc.${pid}.corename`, type: "string" })
      assert.deepInclude(yield* c.sysctlResolve("kern.proc2.0.0.680.4"), { mib: [1, 47, 0, 0, 680, 4], type: undefined })
      assert.strictEqual((yield* Effect.flip(c.sysctlResolve("kern.hostname.x"))).message, "third level name 'x' in 'kern.hostname.x' is invalid")
      assert.strictEqual((yield* Effect.flip(c.sysctlResolve("nope"))).message, "top level name 'nope' in 'nope' is invalid")
    }))

  it.live("processes decodes kern.proc2: this process and a second guest", () =>
    Effect.gen(function*() {
      const url = yield* startServer()
      const a = yield* makeClient({ url, comm: "proc-a" })
      const b = yield* makeClient({ url, comm: "proc-b" })
      const procs = yield* a.processes()
      const pa = procs.find((p) => p.comm === "proc-a")
      const pb = procs.find((p) => p.comm === "proc-b")
      assert.strictEqual(pa?.pid, yield* a.getpid())
      assert.strictEqual(pb?.pid, yield* b.getpid())
      assert.strictEqual(pa?.ppid, 1)
      assert.isAbove(pa?.nlwps ?? 0, 0)
      // newest first
      assert.isBelow(procs.indexOf(pb!), procs.indexOf(pa!))
    }))

  it.live("the raw syscall takes the argument block slot by slot", () =>
    Effect.gen(function*() {
      const c = yield* client()
      const r = yield* c.syscall(SYS.getpid)
      assert.strictEqual(Number(r.retval0), yield* c.getpid())
      const fd = yield* c.withBuffers((b) =>
        Effect.map(c.syscall(SYS.open, [b.string("/raw"), O_RDWR_CREAT, 0o600]), (r) => Number(r.retval0))
      )
      // lseek's block has a PAD slot before the offset
      const seek = yield* c.syscall(SYS.lseek, [fd, 0, 0, lseekWhence.SEEK_END])
      assert.strictEqual(seek.retval0, 0n)
      const enosys = yield* syscallFailure(c.syscall(5000))
      assert.deepInclude(enosys, { syscall: "syscall 5000", code: "ENOSYS" })
    }))
})
