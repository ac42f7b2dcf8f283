import { assert, describe, it } from "@effect/vitest"
import { Errno, openFlags, SYS } from "@sysproxy/protocol/netbsd"
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
    const n = Number((yield* g.call(SYS.read, fd, buf, 1 << 16)).retval0)
    yield* g.call(SYS.close, fd)
    return (g.mem.read(buf, n) ?? new Uint8Array(0)).slice()
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
