/**
 * kern.file2, kern.file and kern.proc_args read from the kernel's own
 * tables: descriptor tables and processes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { Errno, Structs, SYS, sysctlKern, sysctlKernProc, sysctlTop } from "@sysproxy/protocol/netbsd"
import { boot, decode, type Guest, i32s, peek, peekU64, u64s } from "./support/SyscallHarness.ts"

const { CTL_KERN } = sysctlTop
const KF = Structs.kinfo_file
const kf = (name: string) => KF.fields.find((f) => f.name === name)!.offset

const call = (g: Guest, name: ReadonlyArray<number>, oldSize: number | undefined) =>
  Effect.gen(function*() {
    const oldp = oldSize === undefined ? 0n : g.mem.alloc(Math.max(oldSize, 1))
    const oldlenp = g.mem.alloc(u64s(oldSize ?? 0))
    const r = yield* g.call(SYS.__sysctl, g.mem.alloc(i32s(...name)), name.length, oldp, oldlenp, 0, 0)
    const oldlen = peekU64(g, oldlenp)
    return { error: r.error, oldlen, bytes: oldp === 0n ? new Uint8Array(0) : peek(g, oldp, Math.min(oldSize ?? 0, Number(oldlen))) }
  })

const records = (bytes: Uint8Array, size: number) =>
  Array.from({ length: bytes.byteLength / size }, (_, i) => {
    const v = new DataView(bytes.buffer, bytes.byteOffset + i * size, size)
    return {
      addr: v.getBigUint64(kf("ki_fileaddr"), true),
      type: v.getUint32(kf("ki_ftype"), true),
      count: v.getUint32(kf("ki_count"), true),
      flag: v.getUint32(kf("ki_flag"), true),
      pid: v.getUint32(kf("ki_pid"), true),
      fd: v.getInt32(kf("ki_fd"), true)
    }
  })

describe("kern.file2", () => {
  it.effect("KERN_FILE_BYPID: a record per descriptor of the process; BYFILE: each file once; slop on a size query", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const p = yield* g.call(SYS.pipe)
      assert.strictEqual(p.error, 0)
      const [r, w] = [Number(p.retval0), Number(p.retval1)]
      assert.strictEqual((yield* g.call(SYS.dup, w)).error, 0)
      const mib = (op: number, arg: number, count: number) => [CTL_KERN, sysctlKern.KERN_FILE2, op, arg, KF.size, count]
      const mine = yield* call(g, mib(sysctlKern.KERN_FILE_BYPID, g.pid, 100), 100 * KF.size)
      assert.strictEqual(mine.error, 0)
      const list = records(mine.bytes, KF.size)
      // the console on 0, 1 and 2, the pipe's ends and the dup
      assert.deepStrictEqual(list.map((x) => x.fd), [0, 1, 2, r, w, w + 1])
      assert.isTrue(list.every((x) => x.pid === g.pid))
      const pipeEnds = list.filter((x) => x.fd === r || x.fd >= w)
      assert.isTrue(pipeEnds.every((x) => x.type === 3), "DTYPE_PIPE")
      // the dup shares the write end's file: one address, two references
      const [wEnd, dup] = [list.find((x) => x.fd === w)!, list.find((x) => x.fd === w + 1)!]
      assert.strictEqual(wEnd.addr, dup.addr)
      assert.strictEqual(wEnd.count, 2)
      assert.strictEqual(wEnd.flag, 2, "FWRITE")
      // by file: each open file once (the console once for all three), no pid or fd
      const byFile = yield* call(g, mib(sysctlKern.KERN_FILE_BYFILE, 0, 100), 100 * KF.size)
      const files = records(byFile.bytes, KF.size)
      assert.strictEqual(new Set(files.map((x) => x.addr)).size, files.length)
      assert.strictEqual(files.length, 3)
      assert.isTrue(files.every((x) => x.pid === 0 && x.fd === 0))
      const size = yield* call(g, mib(sysctlKern.KERN_FILE_BYPID, g.pid, 100), undefined)
      assert.strictEqual(size.oldlen, BigInt((6 + sysctlKern.KERN_FILESLOP) * KF.size))
      // fewer records than there are: as many as asked, ENOMEM
      const two = yield* call(g, mib(sysctlKern.KERN_FILE_BYPID, g.pid, 2), 2 * KF.size)
      assert.strictEqual(two.error, Errno.ENOMEM)
      assert.strictEqual(two.oldlen, BigInt(6 * KF.size))
      for (const bad of [mib(3, 0, 1), mib(sysctlKern.KERN_FILE_BYFILE, 1, 1), mib(sysctlKern.KERN_FILE_BYPID, -2, 1), [CTL_KERN, sysctlKern.KERN_FILE2, 1]]) {
        assert.strictEqual((yield* call(g, bad, 4096)).error, Errno.EINVAL, bad.join("."))
      }
    }))
})

describe("kern.file", () => {
  it.effect("the filehead, then the kernel's struct file of every open file", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      yield* g.call(SYS.pipe)
      const mib = [CTL_KERN, sysctlKern.KERN_FILE]
      const size = yield* call(g, mib, undefined)
      const F = Structs.file.size
      assert.strictEqual(size.oldlen, BigInt(8 + (3 + sysctlKern.KERN_FILESLOP) * F))
      const all = yield* call(g, mib, 8 + 10 * F)
      assert.strictEqual(all.error, 0)
      assert.strictEqual(all.oldlen, BigInt(8 + 3 * F))
      const short = yield* call(g, mib, 8 + F)
      assert.strictEqual(short.error, Errno.ENOMEM)
      assert.strictEqual(short.oldlen, BigInt(8 + F))
    }))
})

describe("kern.proc_args", () => {
  it.effect("argv is the command name, no environment; ESRCH for no such process; EINVAL for a bad request", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest({ comm: "myprog" })
      const args = (pid: number, what: number) => [CTL_KERN, sysctlKern.KERN_PROC_ARGS, pid, what]
      const argv = yield* call(g, args(g.pid, sysctlKernProc.KERN_PROC_ARGV), 256)
      assert.strictEqual(argv.error, 0)
      assert.strictEqual(decode(argv.bytes), "myprog\0")
      const n = yield* call(g, args(g.pid, sysctlKernProc.KERN_PROC_NARGV), 4)
      assert.strictEqual(new DataView(n.bytes.buffer, n.bytes.byteOffset).getInt32(0, true), 1)
      assert.strictEqual((yield* call(g, args(g.pid, sysctlKernProc.KERN_PROC_ENV), 256)).oldlen, 0n)
      assert.strictEqual((yield* call(g, args(g.pid, sysctlKernProc.KERN_PROC_ARGV), undefined)).oldlen, 262144n)
      assert.strictEqual((yield* call(g, args(99999, sysctlKernProc.KERN_PROC_ARGV), 256)).error, Errno.ESRCH)
      assert.strictEqual((yield* call(g, args(g.pid, 77), 256)).error, Errno.EINVAL)
      assert.strictEqual((yield* call(g, [CTL_KERN, sysctlKern.KERN_PROC_ARGS, g.pid], 256)).error, Errno.EINVAL)
    }))
})
