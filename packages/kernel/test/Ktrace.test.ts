import { assert, describe, it } from "@effect/vitest"
import { Errno, openFlags, socket as so, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { boot, decode, type Guest, text } from "./support/SyscallHarness.ts"
import { Cred } from "../src/kauth/Cred.ts"

const { O_WRONLY, O_RDONLY, O_CREAT, O_APPEND } = openFlags
const KTROP_SET = 0
const KTROP_CLEAR = 1
const KTROP_CLEARFILE = 2
const KTRFLAG_DESCEND = 4
const KTR_SYSCALL = 1
const KTR_SYSRET = 2
const KTR_NAMEI = 3
const KTR_EMUL = 7
const KTR_USER = 8
const FAC_SYSCALL = 1 << KTR_SYSCALL
const FAC_SYSRET = 1 << KTR_SYSRET
const FAC_NAMEI = 1 << KTR_NAMEI
const FAC_EMUL = 1 << KTR_EMUL
const FAC_USER = 1 << KTR_USER
const V2 = 2 << 24
const INHERIT = 0x4000_0000
const HEADER = 56
const SYS_fork = 2

interface Rec {
  readonly len: number
  readonly type: number
  readonly version: number
  readonly pid: number
  readonly comm: string
  readonly sec: bigint
  readonly lid: number
  readonly payload: Uint8Array
}

/** The records in a trace file, as kdump reads them (version 2 headers). */
const records = (bytes: Uint8Array): Array<Rec> => {
  const out: Array<Rec> = []
  let at = 0
  while (at + HEADER <= bytes.length) {
    const v = new DataView(bytes.buffer, bytes.byteOffset + at, HEADER)
    const len = v.getInt32(0, true)
    const comm = bytes.subarray(at + 12, at + 29)
    out.push({
      len,
      type: v.getInt16(4, true),
      version: v.getInt16(6, true),
      pid: v.getInt32(8, true),
      comm: decode(comm.subarray(0, comm.indexOf(0))),
      sec: v.getBigInt64(32, true),
      lid: v.getInt32(48, true),
      payload: bytes.subarray(at + HEADER, at + HEADER + len)
    })
    at += HEADER + len
  }
  assert.strictEqual(at, bytes.length, "the file is whole records")
  return out
}

/** struct ktr_syscall and its register_t arguments. */
const syscallRec = (r: Rec | undefined) => {
  const p = r?.payload ?? new Uint8Array(0)
  const v = new DataView(p.buffer, p.byteOffset, p.length)
  const argsize = v.getInt32(4, true)
  assert.strictEqual(p.length, 8 + argsize, "the arguments fill the record")
  const args: Array<bigint> = []
  for (let at = 8; at < p.length; at += 8) args.push(v.getBigInt64(at, true))
  return { type: r?.type, code: v.getInt32(0, true), argsize, args }
}

/** struct ktr_sysret (24 bytes on amd64). */
const sysretRec = (r: Rec | undefined) => {
  const p = r?.payload ?? new Uint8Array(0)
  assert.strictEqual(p.length, 24)
  const v = new DataView(p.buffer, p.byteOffset, p.length)
  return {
    type: r?.type,
    code: v.getInt16(0, true),
    eosys: v.getInt16(2, true),
    error: v.getInt32(4, true),
    retval: v.getBigInt64(8, true),
    retval1: v.getBigInt64(16, true)
  }
}

const open = (g: Guest, path: string, flags: number) =>
  Effect.map(g.call(SYS.open, g.mem.allocString(path), flags, 0o644), (r) => {
    assert.strictEqual(r.error, 0, `open ${path}`)
    return Number(r.retval0)
  })

const readAll = (g: Guest, path: string) =>
  Effect.gen(function*() {
    const fd = yield* open(g, path, O_RDONLY)
    const buf = g.mem.alloc(1 << 16)
    const parts: Array<Uint8Array> = []
    for (;;) {
      const n = Number((yield* g.call(SYS.read, fd, buf, 1 << 16)).retval0)
      if (n <= 0) break
      parts.push((g.mem.read(buf, n) ?? new Uint8Array(0)).slice())
    }
    yield* g.call(SYS.close, fd)
    const all = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
    parts.reduce((at, p) => (all.set(p, at), at + p.length), 0)
    return all
  })

const utrace = (g: Guest, label: string, data: string) => g.call(SYS.utrace, g.mem.allocString(label), g.mem.alloc(text(data)), data.length)

describe("ktrace, fktrace, utrace", () => {
  it.effect("fktrace sets KTR_USER tracing: an emulation record, then each utrace as a KTR_USER record a kdump reads", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest({ comm: "traced" })
      assert.strictEqual((yield* utrace(g, "before", "x")).error, 0, "not traced: nothing")
      const fd = yield* open(g, "/tmp/trace", O_WRONLY | O_CREAT | O_APPEND)
      assert.strictEqual((yield* g.call(SYS.fktrace, fd, KTROP_SET, FAC_USER | FAC_EMUL | V2, g.pid)).error, 0)
      assert.strictEqual((yield* utrace(g, "label", "hello")).error, 0)
      assert.strictEqual((yield* g.call(SYS.utrace, g.mem.allocString("big"), g.mem.alloc(3000), 2049)).error, Errno.EINVAL)
      const recs = records(yield* readAll(g, "/tmp/trace"))
      assert.deepStrictEqual(recs.map((r) => [r.type, r.version, r.pid, r.comm]), [
        [KTR_EMUL, 2, g.pid, "traced"],
        [KTR_USER, 2, g.pid, "traced"]
      ])
      assert.strictEqual(decode(recs[0]?.payload ?? new Uint8Array(0)), "netbsd")
      const user = recs[1]?.payload ?? new Uint8Array(0)
      assert.strictEqual(user.length, 25)
      assert.strictEqual(decode(user.subarray(0, 5)), "label")
      assert.strictEqual(user[5], 0)
      assert.strictEqual(decode(user.subarray(20)), "hello")
      assert.isAbove(Number(recs[1]?.sec ?? 0n), 1_600_000_000)
      assert.strictEqual((yield* g.call(SYS.fktrace, fd, KTROP_CLEAR, FAC_USER, g.pid)).error, 0)
      yield* utrace(g, "after", "y")
      assert.strictEqual(records(yield* readAll(g, "/tmp/trace")).length, 2, "cleared: no more")
    }))

  it.effect("ktrace by name traces another process and, with KTRFLAG_DESCEND, its children; KTROP_CLEARFILE stops them all", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const tracer = yield* k.guest({ comm: "tracer" })
      const parent = yield* k.guest({ comm: "parent" })
      const child = yield* k.guest({ comm: "child", parent, mode: "copy" })
      yield* open(tracer, "/tmp/t", O_WRONLY | O_CREAT)
      const name = tracer.mem.allocString("/tmp/t")
      assert.strictEqual((yield* tracer.call(SYS.ktrace, name, KTROP_SET | KTRFLAG_DESCEND, FAC_USER | V2, parent.pid)).error, 0)
      yield* utrace(parent, "p", "1")
      yield* utrace(child, "c", "2")
      yield* utrace(tracer, "t", "3")
      assert.deepStrictEqual(records(yield* readAll(tracer, "/tmp/t")).map((r) => r.comm), ["parent", "child"])
      assert.strictEqual((yield* tracer.call(SYS.ktrace, name, KTROP_CLEARFILE, 0, 0)).error, 0)
      yield* utrace(parent, "p", "again")
      assert.strictEqual(records(yield* readAll(tracer, "/tmp/t")).length, 2)
    }))

  it.effect("KTRFAC_INHERIT: a process forked from a traced one is not traced (rump's lwproc_newproc zeroes the trace)", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest({ comm: "p" })
      const fd = yield* open(g, "/tmp/t", O_WRONLY | O_CREAT)
      yield* g.call(SYS.fktrace, fd, KTROP_SET, FAC_USER | V2 | INHERIT, g.pid)
      const child = yield* k.guest({ comm: "kid", parent: g, mode: "copy" })
      yield* utrace(child, "k", "z")
      yield* utrace(g, "p", "y")
      yield* k.hypervisor.releaseProcess(g.handle)
      yield* utrace(child, "k", "zz")
      const fd2 = yield* open(child, "/tmp/t", O_RDONLY)
      const buf = child.mem.alloc(1024)
      const n = Number((yield* child.call(SYS.read, fd2, buf, 1024)).retval0)
      assert.deepStrictEqual(records((child.mem.read(buf, n) ?? new Uint8Array(0)).slice()).map((r) => r.comm), ["p"])
    }))

  it.effect("errors: EINVAL without facilities, ESRCH, EPERM for another user's process, EBADF, EACCES for a file that is no regular file", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      const fd = yield* open(a, "/tmp/t", O_WRONLY | O_CREAT)
      const ro = yield* open(a, "/tmp/t", O_RDONLY)
      assert.strictEqual((yield* a.call(SYS.fktrace, fd, KTROP_SET, 0, a.pid)).error, Errno.EINVAL)
      assert.strictEqual((yield* a.call(SYS.fktrace, fd, KTROP_SET, FAC_USER, 29999)).error, Errno.ESRCH)
      assert.strictEqual((yield* a.call(SYS.fktrace, fd, KTROP_SET, FAC_USER, -29999)).error, Errno.ESRCH)
      assert.strictEqual((yield* a.call(SYS.fktrace, ro, KTROP_SET, FAC_USER, a.pid)).error, Errno.EBADF)
      assert.strictEqual((yield* a.call(SYS.fktrace, 99, KTROP_SET, FAC_USER, a.pid)).error, Errno.EBADF)
      assert.strictEqual((yield* a.call(SYS.ktrace, a.mem.allocString("/dev/null"), KTROP_SET, FAC_USER, a.pid)).error, Errno.EACCES)
      assert.strictEqual((yield* a.call(SYS.ktrace, a.mem.allocString("/nope"), KTROP_SET, FAC_USER, a.pid)).error, Errno.ENOENT)
      a.proc.cred = Cred.of(1000, 0)
      assert.strictEqual((yield* a.call(SYS.fktrace, fd, KTROP_SET, FAC_USER, b.pid)).error, Errno.EPERM)
      assert.strictEqual((yield* a.call(SYS.fktrace, fd, KTROP_SET, FAC_USER, a.pid)).error, 0, "its own")
    }))

  it.effect("ktrace_listener_cb: not a process that changed its ids, nor one of another real gid, nor one root traced (KTRFAC_PERSISTENT)", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const root = yield* k.guest()
      const fd = yield* open(root, "/tmp/t", O_WRONLY | O_CREAT)
      yield* root.call(SYS.fchmod, fd, 0o666)
      // after setuid(1000) from root the process is PK_SUGID: it may not trace itself
      const dropped = yield* k.guest()
      assert.strictEqual((yield* dropped.call(SYS.setuid, 1000)).error, 0)
      const dfd = yield* open(dropped, "/tmp/t", O_WRONLY)
      assert.strictEqual((yield* dropped.call(SYS.fktrace, dfd, KTROP_SET, FAC_USER, dropped.pid)).error, Errno.EPERM)
      // same uid, but the target's real gid is another
      const a = yield* k.guest()
      const b = yield* k.guest()
      a.proc.cred = Cred.of(1000, 100)
      b.proc.cred = Cred.of(1000, 200)
      const afd = yield* open(a, "/tmp/t", O_WRONLY)
      assert.strictEqual((yield* a.call(SYS.fktrace, afd, KTROP_SET, FAC_USER, b.pid)).error, Errno.EPERM)
      b.proc.cred = Cred.of(1000, 100)
      assert.strictEqual((yield* a.call(SYS.fktrace, afd, KTROP_SET, FAC_USER, b.pid)).error, 0)
      assert.strictEqual((yield* a.call(SYS.fktrace, afd, KTROP_CLEAR, FAC_USER, b.pid)).error, 0)
      // what root set, the user may not clear
      assert.strictEqual((yield* root.call(SYS.fktrace, fd, KTROP_SET, FAC_USER, b.pid)).error, 0)
      assert.strictEqual((yield* a.call(SYS.fktrace, afd, KTROP_CLEAR, FAC_USER, b.pid)).error, Errno.EPERM)
      const bfd = yield* open(b, "/tmp/t", O_WRONLY)
      assert.strictEqual((yield* b.call(SYS.fktrace, bfd, KTROP_CLEAR, FAC_USER, b.pid)).error, Errno.EPERM, "nor the process itself")
    }))

  it.effect("KTRFAC_SYSCALL and KTRFAC_SYSRET: each call of the traced process as a KTR_SYSCALL record (code, arguments) and a KTR_SYSRET record (error, both return registers)", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const tracer = yield* k.guest({ comm: "tracer" })
      const g = yield* k.guest({ comm: "traced" })
      const other = yield* k.guest({ comm: "other" })
      const fd = yield* open(tracer, "/tmp/trace", O_WRONLY | O_CREAT)
      assert.strictEqual((yield* tracer.call(SYS.fktrace, fd, KTROP_SET, FAC_SYSCALL | FAC_SYSRET | V2, g.pid)).error, 0)
      yield* g.call(SYS.getpid)
      yield* other.call(SYS.getpid)
      assert.strictEqual((yield* g.call(SYS.close, 99)).error, Errno.EBADF)
      // fork (2) is no rump syscall: still traced, as ENOSYS
      assert.strictEqual((yield* g.call(SYS_fork)).error, Errno.ENOSYS)
      const recs = records(yield* readAll(tracer, "/tmp/trace"))
      assert.deepStrictEqual(recs.map((r) => [r.type, r.pid, r.comm, r.version]), [
        [KTR_SYSCALL, g.pid, "traced", 2],
        [KTR_SYSRET, g.pid, "traced", 2],
        [KTR_SYSCALL, g.pid, "traced", 2],
        [KTR_SYSRET, g.pid, "traced", 2],
        [KTR_SYSCALL, g.pid, "traced", 2],
        [KTR_SYSRET, g.pid, "traced", 2]
      ], "the traced process's calls only, each a pair")
      assert.deepStrictEqual(syscallRec(recs[0]), { type: KTR_SYSCALL, code: SYS.getpid, argsize: 0, args: [] })
      assert.deepStrictEqual(sysretRec(recs[1]), {
        type: KTR_SYSRET,
        code: SYS.getpid,
        eosys: 0,
        error: 0,
        retval: BigInt(g.pid),
        retval1: BigInt(g.proc.ppid)
      })
      assert.deepStrictEqual(syscallRec(recs[2]), { type: KTR_SYSCALL, code: SYS.close, argsize: 8, args: [99n] })
      // on an error both return registers are 0, whatever the call left in them
      assert.deepStrictEqual(sysretRec(recs[3]), { type: KTR_SYSRET, code: SYS.close, eosys: 0, error: Errno.EBADF, retval: 0n, retval1: 0n })
      assert.deepStrictEqual(syscallRec(recs[4]), { type: KTR_SYSCALL, code: SYS_fork, argsize: 0, args: [] })
      assert.strictEqual(sysretRec(recs[5]).error, Errno.ENOSYS)
    }))

  it.effect("the arguments are the syscall's whole argument struct, one register_t a slot; KTRFAC_NAMEI records each path looked up, with its NUL", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const tracer = yield* k.guest()
      const g = yield* k.guest()
      yield* open(tracer, "/tmp/a", O_WRONLY | O_CREAT)
      const fd = yield* open(tracer, "/tmp/trace", O_WRONLY | O_CREAT)
      assert.strictEqual((yield* tracer.call(SYS.fktrace, fd, KTROP_SET, FAC_SYSCALL | FAC_SYSRET | FAC_NAMEI | V2, g.pid)).error, 0)
      const missing = g.mem.allocString("/tmp/nope")
      assert.strictEqual((yield* g.call(SYS.open, missing, O_RDONLY, 0o600)).error, Errno.ENOENT)
      const opened = yield* g.call(SYS.open, g.mem.allocString("/tmp/a"), O_RDONLY, 0)
      assert.strictEqual(opened.error, 0)
      // two lookups, two records; "" is ENOENT before any lookup starts
      assert.strictEqual((yield* g.call(SYS.rename, g.mem.allocString("/tmp/a"), g.mem.allocString("b"))).error, 0)
      assert.strictEqual((yield* g.call(SYS.open, g.mem.allocString(""), O_RDONLY, 0)).error, Errno.ENOENT)
      const recs = records(yield* readAll(tracer, "/tmp/trace"))
      assert.deepStrictEqual(recs.map((r) => r.type), [
        KTR_SYSCALL,
        KTR_NAMEI,
        KTR_SYSRET,
        KTR_SYSCALL,
        KTR_NAMEI,
        KTR_SYSRET,
        KTR_SYSCALL,
        KTR_NAMEI,
        KTR_NAMEI,
        KTR_SYSRET,
        KTR_SYSCALL,
        KTR_SYSRET
      ])
      assert.deepStrictEqual(syscallRec(recs[0]), { type: KTR_SYSCALL, code: SYS.open, argsize: 24, args: [missing, BigInt(O_RDONLY), 0o600n] })
      assert.deepStrictEqual(recs.filter((r) => r.type === KTR_NAMEI).map((r) => [...r.payload]), [
        [...text("/tmp/nope"), 0],
        [...text("/tmp/a"), 0],
        [...text("/tmp/a"), 0],
        [...text("b"), 0]
      ])
      assert.deepStrictEqual(sysretRec(recs[2]).error, Errno.ENOENT)
      assert.deepStrictEqual(sysretRec(recs[5]).retval, opened.retval0, "the descriptor open returned")
    }))

  it.effect("a dirfd that is no directory: the path is recorded, then ENOTDIR (namei's order); a bad dirfd fails before any record", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const tracer = yield* k.guest()
      const g = yield* k.guest()
      const fd = yield* open(tracer, "/tmp/trace", O_WRONLY | O_CREAT)
      assert.strictEqual((yield* tracer.call(SYS.fktrace, fd, KTROP_SET, FAC_NAMEI | V2, g.pid)).error, 0)
      const file = yield* open(g, "/tmp/f", O_WRONLY | O_CREAT)
      assert.strictEqual((yield* g.call(SYS.openat, file, g.mem.allocString("x"), O_RDONLY, 0)).error, Errno.ENOTDIR)
      assert.strictEqual((yield* g.call(SYS.openat, 77, g.mem.allocString("y"), O_RDONLY, 0)).error, Errno.EBADF)
      const names = records(yield* readAll(tracer, "/tmp/trace")).filter((r) => r.type === KTR_NAMEI).map((r) => [...r.payload])
      assert.deepStrictEqual(names, [[...text("/tmp/f"), 0], [...text("x"), 0]])
    }))

  it.effect("facilities mask records: NAMEI alone gives no call records, SYSRET alone no KTR_SYSCALL, USER alone none of them", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const tracer = yield* k.guest()
      const calls = (g: Guest) =>
        Effect.gen(function*() {
          yield* g.call(SYS.getpid)
          yield* g.call(SYS.access, g.mem.allocString("/tmp"), 0)
        })
      const facs = [FAC_NAMEI, FAC_SYSRET, FAC_USER, FAC_SYSCALL]
      const traced = yield* Effect.forEach(facs, (fac, i) =>
        Effect.gen(function*() {
          const g = yield* k.guest()
          const fd = yield* open(tracer, `/tmp/t${i}`, O_WRONLY | O_CREAT)
          assert.strictEqual((yield* tracer.call(SYS.fktrace, fd, KTROP_SET, fac | V2, g.pid)).error, 0)
          yield* calls(g)
          return records(yield* readAll(tracer, `/tmp/t${i}`)).map((r) => [r.type, r.type === KTR_SYSRET ? sysretRec(r).code : r.type === KTR_SYSCALL ? syscallRec(r).code : -1])
        }))
      assert.deepStrictEqual(traced, [
        [[KTR_NAMEI, -1]],
        [[KTR_SYSRET, SYS.getpid], [KTR_SYSRET, SYS.access]],
        [],
        [[KTR_SYSCALL, SYS.getpid], [KTR_SYSCALL, SYS.access]]
      ])
    }))

  it.effect("ktrace's own call: one that starts tracing calls of its caller records nothing of itself; one that stops it records its KTR_SYSCALL, not its KTR_SYSRET", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const reader = yield* k.guest()
      const fd = yield* open(g, "/tmp/self", O_WRONLY | O_CREAT)
      // traced, but for neither SYSCALL nor SYSRET as the call starts (p_trace_enabled): no SYSRET at its end either
      assert.strictEqual((yield* g.call(SYS.fktrace, fd, KTROP_SET, FAC_USER | V2, g.pid)).error, 0)
      assert.strictEqual((yield* g.call(SYS.fktrace, fd, KTROP_SET, FAC_SYSCALL | FAC_SYSRET | V2, g.pid)).error, 0)
      yield* g.call(SYS.getpid)
      assert.strictEqual((yield* g.call(SYS.fktrace, fd, KTROP_CLEAR, FAC_SYSCALL | FAC_SYSRET, g.pid)).error, 0)
      yield* g.call(SYS.getpid)
      const recs = records(yield* readAll(reader, "/tmp/self"))
      assert.deepStrictEqual(recs.map((r) => [r.type, r.type === KTR_SYSRET ? sysretRec(r).code : syscallRec(r).code]), [
        [KTR_SYSCALL, SYS.getpid],
        [KTR_SYSRET, SYS.getpid],
        [KTR_SYSCALL, SYS.fktrace]
      ])
    }))
})

const KTR_GENIO = 4
const FAC_GENIO = 1 << KTR_GENIO
const UIO_READ = 0
const UIO_WRITE = 1
/** A KTR_GENIO record's payload (struct ktr_genio and data) is at most a page. */
const PAGE = 4096

/** struct ktr_genio (int ktr_fd, enum uio_rw ktr_rw) and the data. */
const genioRec = (r: Rec | undefined) => {
  const p = r?.payload ?? new Uint8Array(0)
  const v = new DataView(p.buffer, p.byteOffset, p.length)
  return { type: r?.type, fd: v.getInt32(0, true), rw: v.getInt32(4, true), data: decode(p.subarray(8)) }
}

/** A guest that traces `facs` of itself to /tmp/trace, and an untraced one to read the trace with. */
const tracedGuest = (facs: number) =>
  Effect.gen(function*() {
    const k = yield* boot()
    const g = yield* k.guest({ comm: "io" })
    const reader = yield* k.guest({ comm: "reader" })
    const tfd = yield* open(g, "/tmp/trace", O_WRONLY | O_CREAT | O_APPEND)
    assert.strictEqual((yield* g.call(SYS.fktrace, tfd, KTROP_SET, facs | V2, g.pid)).error, 0)
    const trace = Effect.map(readAll(reader, "/tmp/trace"), records)
    return { k, g, trace }
  })

/** Two ints the kernel wrote (pipe2's and socketpair's descriptors). */
const fdPair = (g: Guest, at: bigint): [number, number] => {
  const v = new DataView((g.mem.read(at, 8) ?? new Uint8Array(8)).slice().buffer)
  return [v.getInt32(0, true), v.getInt32(4, true)]
}

/** A struct iovec array over `bufs`. */
const iovecs = (g: Guest, bufs: ReadonlyArray<readonly [bigint, number]>): bigint => {
  const bytes = new Uint8Array(16 * bufs.length)
  const v = new DataView(bytes.buffer)
  bufs.forEach(([base, len], i) => {
    v.setBigUint64(16 * i, base, true)
    v.setBigUint64(16 * i + 8, BigInt(len), true)
  })
  return g.mem.alloc(bytes)
}

/** `n` bytes of a repeating alphabet, from `from` on. */
const pattern = (n: number, from = 0): string => Array.from({ length: n }, (_, i) => String.fromCharCode(97 + ((from + i) % 26))).join("")

describe("KTR_GENIO", () => {
  it.effect("a write and a read on a pipe: a record each with the fd, the direction and the data; a short read records what it read, end of file an empty record, a failed call none", () =>
    Effect.gen(function*() {
      const { g, trace } = yield* tracedGuest(FAC_GENIO)
      const fds = g.mem.alloc(8)
      assert.strictEqual((yield* g.call(SYS.pipe2, fds, 0)).error, 0)
      const [rfd, wfd] = fdPair(g, fds)
      assert.strictEqual((yield* g.call(SYS.write, wfd, g.mem.alloc(text("hello world")), 11)).retval0, 11n)
      const buf = g.mem.alloc(64)
      assert.strictEqual((yield* g.call(SYS.read, rfd, buf, 64)).retval0, 11n, "short: what the pipe had")
      assert.strictEqual((yield* g.call(SYS.write, wfd, 0x8n, 5)).error, Errno.EFAULT)
      assert.strictEqual((yield* g.call(SYS.read, 99, buf, 64)).error, Errno.EBADF)
      yield* g.call(SYS.close, wfd)
      assert.strictEqual((yield* g.call(SYS.read, rfd, buf, 64)).retval0, 0n, "end of file")
      const recs = yield* trace
      assert.deepStrictEqual(recs.map(genioRec), [
        { type: KTR_GENIO, fd: wfd, rw: UIO_WRITE, data: "hello world" },
        { type: KTR_GENIO, fd: rfd, rw: UIO_READ, data: "hello world" },
        { type: KTR_GENIO, fd: rfd, rw: UIO_READ, data: "" }
      ])
      assert.deepStrictEqual(recs.map((r) => [r.len, r.pid, r.comm]), [[19, g.pid, "io"], [19, g.pid, "io"], [8, g.pid, "io"]])
    }))

  it.effect("a non-blocking write that fills the pipe records only the bytes it wrote", () =>
    Effect.gen(function*() {
      const { g, trace } = yield* tracedGuest(FAC_GENIO)
      const fds = g.mem.alloc(8)
      assert.strictEqual((yield* g.call(SYS.pipe2, fds, openFlags.O_NONBLOCK)).error, 0)
      const [, wfd] = fdPair(g, fds)
      const big = 1 << 20
      const n = Number((yield* g.call(SYS.write, wfd, g.mem.alloc(text(pattern(big))), big)).retval0)
      assert.isAbove(n, 0)
      assert.isBelow(n, big, "a short write")
      const recs = (yield* trace).map(genioRec)
      assert.strictEqual(recs.map((r) => r.data).join(""), pattern(n))
      assert.isTrue(recs.every((r) => r.fd === wfd && r.rw === UIO_WRITE))
    }))

  it.effect("a large transfer is split as ktr_io splits it: records of a page (8 + 4088 data bytes), whatever the iovecs; pwrite and preadv on a tmpfs file", () =>
    Effect.gen(function*() {
      const { g, trace } = yield* tracedGuest(FAC_GENIO)
      const fd = yield* open(g, "/tmp/f", openFlags.O_RDWR | O_CREAT)
      const total = 10_000
      assert.strictEqual((yield* g.call(SYS.pwrite, fd, g.mem.alloc(text(pattern(total))), total, 0, 0)).retval0, BigInt(total))
      // two iovecs, the second longer than what is left of the file
      const a = g.mem.alloc(3000)
      const b = g.mem.alloc(9000)
      assert.strictEqual((yield* g.call(SYS.preadv, fd, iovecs(g, [[a, 3000], [b, 9000]]), 2, 0, 0)).retval0, BigInt(total))
      const recs = (yield* trace).map((r) => ({ len: r.len, ...genioRec(r) }))
      const data = PAGE - 8
      const pieces = [pattern(data), pattern(data, data), pattern(total - 2 * data, 2 * data)]
      assert.deepStrictEqual(recs, [
        ...pieces.map((d) => ({ len: d.length + 8, type: KTR_GENIO, fd, rw: UIO_WRITE, data: d })),
        ...pieces.map((d) => ({ len: d.length + 8, type: KTR_GENIO, fd, rw: UIO_READ, data: d }))
      ])
    }))

  it.effect("writev and readv: the iovecs' data in order; /dev/null takes a write it never reads, so a bad buffer gives no record (ktr_io's copyin fails)", () =>
    Effect.gen(function*() {
      const { g, trace } = yield* tracedGuest(FAC_GENIO)
      const fd = yield* open(g, "/tmp/v", openFlags.O_RDWR | O_CREAT)
      const parts = g.mem.alloc(text("abcdef"))
      assert.strictEqual((yield* g.call(SYS.writev, fd, iovecs(g, [[parts + 3n, 3], [parts, 0], [parts, 3]]), 3)).retval0, 6n)
      yield* g.call(SYS.lseek, fd, 0, 0, 0)
      const x = g.mem.alloc(2)
      const y = g.mem.alloc(10)
      assert.strictEqual((yield* g.call(SYS.readv, fd, iovecs(g, [[x, 2], [y, 10]]), 2)).retval0, 6n)
      const nul = yield* open(g, "/dev/null", O_WRONLY)
      assert.strictEqual((yield* g.call(SYS.write, nul, 0x8n, 100)).retval0, 100n, "/dev/null does not read the buffer")
      assert.strictEqual((yield* g.call(SYS.write, nul, g.mem.alloc(text("gone")), 4)).retval0, 4n)
      assert.deepStrictEqual((yield* trace).map(genioRec), [
        { type: KTR_GENIO, fd, rw: UIO_WRITE, data: "defabc" },
        { type: KTR_GENIO, fd, rw: UIO_READ, data: "defabc" },
        { type: KTR_GENIO, fd: nul, rw: UIO_WRITE, data: "gone" }
      ])
    }))

  it.effect("sendto, recvfrom, sendmsg and recvmsg on a socket pair: records as do_sys_sendmsg_so and do_sys_recvmsg_so write them (none for a message without iovecs)", () =>
    Effect.gen(function*() {
      const { g, trace } = yield* tracedGuest(FAC_GENIO)
      const sv = g.mem.alloc(8)
      assert.strictEqual((yield* g.call(SYS.socketpair, so.AF_LOCAL, so.SOCK_STREAM, 0, sv)).error, 0)
      const [s0, s1] = fdPair(g, sv)
      assert.strictEqual((yield* g.call(SYS.sendto, s0, g.mem.alloc(text("ping")), 4, 0, 0, 0)).retval0, 4n)
      const buf = g.mem.alloc(32)
      assert.strictEqual((yield* g.call(SYS.recvfrom, s1, buf, 32, 0, 0, 0)).retval0, 4n)
      const msghdr = (iov: bigint, iovlen: number) => {
        const bytes = new Uint8Array(48)
        const v = new DataView(bytes.buffer)
        v.setBigUint64(16, iov, true)
        v.setInt32(24, iovlen, true)
        return g.mem.alloc(bytes)
      }
      const pong = g.mem.alloc(text("pong!"))
      assert.strictEqual((yield* g.call(SYS.sendmsg, s1, msghdr(iovecs(g, [[pong, 2], [pong + 2n, 3]]), 2), 0)).retval0, 5n)
      assert.strictEqual((yield* g.call(SYS.sendmsg, s1, msghdr(0n, 0), 0)).error, 0)
      const r = g.mem.alloc(3)
      assert.strictEqual((yield* g.call(SYS.recvmsg, s0, msghdr(iovecs(g, [[r, 3], [buf, 32]]), 2), 0)).retval0, 5n)
      assert.deepStrictEqual((yield* trace).map(genioRec), [
        { type: KTR_GENIO, fd: s0, rw: UIO_WRITE, data: "ping" },
        { type: KTR_GENIO, fd: s1, rw: UIO_READ, data: "ping" },
        { type: KTR_GENIO, fd: s1, rw: UIO_WRITE, data: "pong!" },
        { type: KTR_GENIO, fd: s0, rw: UIO_READ, data: "pong!" }
      ])
    }))

  it.effect("with KTRFAC_SYSCALL and KTRFAC_SYSRET too, the data comes between the call's two records, as the call writes it", () =>
    Effect.gen(function*() {
      const { g, trace } = yield* tracedGuest(FAC_SYSCALL | FAC_SYSRET | FAC_GENIO)
      const nul = yield* open(g, "/dev/null", O_WRONLY)
      yield* g.call(SYS.write, nul, g.mem.alloc(text("xyz")), 3)
      const recs = (yield* trace).slice(-4)
      assert.deepStrictEqual(recs.map((r) => r.type), [KTR_SYSRET, KTR_SYSCALL, KTR_GENIO, KTR_SYSRET], "open's SYSRET, then write's records")
      assert.strictEqual(syscallRec(recs[1]).code, SYS.write)
      assert.deepStrictEqual(genioRec(recs[2]), { type: KTR_GENIO, fd: nul, rw: UIO_WRITE, data: "xyz" })
      assert.strictEqual(sysretRec(recs[3]).retval, 3n)
    }))

  it.effect("no records without KTRFAC_GENIO: another facility traced, or another process", () =>
    Effect.gen(function*() {
      const { g, k, trace } = yield* tracedGuest(FAC_USER)
      const other = yield* k.guest({ comm: "other" })
      for (const p of [g, other]) {
        const fd = yield* open(p, `/tmp/x${p.pid}`, openFlags.O_RDWR | O_CREAT)
        assert.strictEqual((yield* p.call(SYS.write, fd, p.mem.alloc(text("data")), 4)).retval0, 4n)
        assert.strictEqual((yield* p.call(SYS.pread, fd, p.mem.alloc(8), 8, 0, 0)).retval0, 4n)
      }
      yield* utrace(g, "u", "1")
      assert.deepStrictEqual((yield* trace).map((r) => r.type), [KTR_USER])
    }))
})
