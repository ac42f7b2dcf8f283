import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { UserMemory, type UserMemoryService } from "@sysproxy/hypervisor"
import { packArgs } from "../src/abi/Args.ts"
import { Errno, Structs, SYS, sysctlHw, sysctlKern, sysctlKernProc, sysctlKinfo, sysctlProcFlags, sysctlSpecial, sysctlTop } from "@sysproxy/protocol/netbsd"
import { Cred } from "../src/kauth/Cred.ts"
import type { Lwp } from "../src/proc/Lwp.ts"
import { boot, decode, type Guest, i32s, peek, peekI32, peekI64, peekU64, text, timespec, u64s } from "./support/SyscallHarness.ts"

const { CTL_KERN, CTL_HW } = sysctlTop
const KINFO = Structs.kinfo_proc2.size
const off = (name: string) => Structs.kinfo_proc2.fields.find((f) => f.name === name)?.offset ?? -1

interface SysctlCall {
  readonly name: ReadonlyArray<number>
  /** Bytes of buffer for the old value; undefined: oldp NULL. */
  readonly oldSize?: number
  /** *oldlenp before the call (default oldSize); null: oldlenp NULL. */
  readonly oldlen?: number | null
  readonly newValue?: Uint8Array
  readonly namelen?: number
}

/** Runs __sysctl; the errno, the buffer and what *oldlenp says afterwards. */
const sysctl = (g: Guest, c: SysctlCall) =>
  Effect.gen(function*() {
    const namep = g.mem.alloc(i32s(...c.name))
    const oldp = c.oldSize === undefined ? 0n : g.mem.alloc(c.oldSize)
    const oldlenp = c.oldlen === null ? 0n : g.mem.alloc(u64s(c.oldlen ?? c.oldSize ?? 0))
    const newp = c.newValue === undefined ? 0n : g.mem.alloc(c.newValue)
    const r = yield* g.call(SYS.__sysctl, namep, c.namelen ?? c.name.length, oldp, oldlenp, newp, c.newValue?.length ?? 0)
    return {
      error: r.error,
      oldp,
      oldlen: oldlenp === 0n ? undefined : peekU64(g, oldlenp),
      bytes: (n: number) => peek(g, oldp, n)
    }
  })

const readString = (g: Guest, name: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const r = yield* sysctl(g, { name, oldSize: 300 })
    assert.strictEqual(r.error, 0)
    return decode(r.bytes(Number(r.oldlen) - 1))
  })

const cstr = (s: string) => new Uint8Array([...text(s), 0])

describe("kern and hw values", () => {
  it.effect("the strings, with their NUL counted", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual(yield* readString(g, [CTL_KERN, sysctlKern.KERN_OSTYPE]), "NetBSD")
      assert.strictEqual(yield* readString(g, [CTL_KERN, sysctlKern.KERN_OSRELEASE]), "7.99.34")
      assert.match(yield* readString(g, [CTL_KERN, sysctlKern.KERN_VERSION]), /^NetBSD 7\.99\.34 /)
      assert.strictEqual(yield* readString(g, [CTL_HW, sysctlHw.HW_MACHINE]), "amd64")
      const r = yield* sysctl(g, { name: [CTL_KERN, sysctlKern.KERN_OSTYPE], oldSize: 16 })
      assert.strictEqual(r.oldlen, 7n)
      assert.deepStrictEqual(r.bytes(7), cstr("NetBSD"))
    }))

  it.effect("hw.ncpu, hw.pagesize, hw.physmem64; kern.boottime is a full kernel's, not a rump kernel's", () =>
    Effect.gen(function*() {
      const k = yield* boot({ ncpu: 4, physmem: 64 * 1024 * 1024 })
      const g = yield* k.guest()
      const ncpu = yield* sysctl(g, { name: [CTL_HW, sysctlHw.HW_NCPU], oldSize: 4 })
      assert.strictEqual(peekI32(g, ncpu.oldp), 4)
      assert.strictEqual(ncpu.oldlen, 4n)
      const page = yield* sysctl(g, { name: [CTL_HW, sysctlHw.HW_PAGESIZE], oldSize: 4 })
      assert.strictEqual(peekI32(g, page.oldp), 4096)
      const mem = yield* sysctl(g, { name: [CTL_HW, sysctlHw.HW_PHYSMEM64], oldSize: 8 })
      assert.strictEqual(mem.oldlen, 8n)
      assert.strictEqual(peekI64(g, mem.oldp), 64n * 1024n * 1024n)
      assert.strictEqual((yield* sysctl(g, { name: [CTL_KERN, sysctlKern.KERN_BOOTTIME], oldSize: 16 })).error, Errno.ENOENT)
    }))
})

describe("oldlenp rules", () => {
  it.effect("a NULL oldp asks for the size only", () =>
    Effect.gen(function*() {
      const k = yield* boot({ hostname: "host.example" })
      const g = yield* k.guest()
      const r = yield* sysctl(g, { name: [CTL_KERN, sysctlKern.KERN_HOSTNAME], oldlen: 0 })
      assert.strictEqual(r.error, 0)
      assert.strictEqual(r.oldlen, 13n)
      const none = yield* sysctl(g, { name: [CTL_KERN, sysctlKern.KERN_HOSTNAME], oldlen: null })
      assert.strictEqual(none.error, 0)
    }))

  it.effect("too small a buffer: ENOMEM, as much as fits copied, and the needed length in *oldlenp", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const r = yield* sysctl(g, { name: [CTL_KERN, sysctlKern.KERN_OSRELEASE], oldSize: 8, oldlen: 3 })
      assert.strictEqual(r.error, Errno.ENOMEM)
      assert.strictEqual(r.oldlen, 8n)
      assert.deepStrictEqual(r.bytes(8), new Uint8Array([...text("7.9"), 0, 0, 0, 0, 0]))
      const noLen = yield* sysctl(g, { name: [CTL_HW, sysctlHw.HW_NCPU], oldSize: 4, oldlen: null })
      assert.strictEqual(noLen.error, Errno.ENOMEM, "oldp without oldlenp is a zero-sized buffer")
    }))

  it.effect("EFAULT for an unreadable oldlenp or name", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const name = g.mem.alloc(i32s(CTL_KERN, sysctlKern.KERN_OSTYPE))
      assert.strictEqual((yield* g.call(SYS.__sysctl, name, 2, 0, 0x10n, 0, 0)).error, Errno.EFAULT)
      assert.strictEqual((yield* g.call(SYS.__sysctl, 0x10n, 2, 0, 0, 0, 0)).error, Errno.EFAULT)
      // both given: a bad name fails before *oldlenp is written back, as sys___sysctl returns at once
      const oldlenp = g.mem.alloc(u64s(16))
      assert.strictEqual((yield* g.call(SYS.__sysctl, 0x10n, 2, g.mem.alloc(16), oldlenp, 0, 0)).error, Errno.EFAULT)
      assert.strictEqual(peekU64(g, oldlenp), 16n)
      assert.strictEqual((yield* g.call(SYS.__sysctl, 0x10n, 2, 0, 0x20n, 0, 0)).error, Errno.EFAULT)
    }))

  it.effect("*oldlenp and the name are asked for together: one round trip to a remote client, not two", () =>
    Effect.gen(function*() {
      const k = yield* boot({ hostname: "pipelined" })
      const g = yield* k.guest()
      // the guest's memory, answering each copyin a moment after it was asked, with a log of both
      const oldp = g.mem.alloc(64)
      const oldlenp = g.mem.alloc(u64s(64))
      const log: Array<string> = []
      const local = g.mem.service
      const slow: UserMemoryService = {
        ...local,
        copyin: (addr, len) =>
          Effect.callback((resume) => {
            const what = addr === oldlenp ? "oldlen" : "name"
            log.push(`ask ${what}`)
            const timer = setTimeout(() => {
              log.push(`answer ${what}`)
              resume(local.copyin(addr, len))
            }, 5)
            return Effect.sync(() => clearTimeout(timer))
          })
      }
      const lwp = yield* g.newLwp()
      const r = yield* k.hypervisor.syscall(lwp, SYS.__sysctl, packArgs(g.mem.alloc(i32s(CTL_KERN, sysctlKern.KERN_HOSTNAME)), 2, oldp, oldlenp, 0, 0)).pipe(
        Effect.provideService(UserMemory, slow)
      )
      yield* k.hypervisor.releaseLwp(lwp)
      assert.strictEqual(r.error, 0)
      assert.strictEqual(decode(peek(g, oldp, 9)), "pipelined")
      assert.strictEqual(peekU64(g, oldlenp), 10n)
      assert.deepStrictEqual(log, ["ask oldlen", "ask name", "answer oldlen", "answer name"])
    }))
})

describe("names", () => {
  it.effect("ENOENT for unknown names (and a full kernel's), EINVAL for a node or a bad length, ENOTDIR past a value", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* sysctl(g, { name: [CTL_KERN, 9999], oldSize: 8 })).error, Errno.ENOENT)
      assert.strictEqual((yield* sysctl(g, { name: [99], oldSize: 8 })).error, Errno.ENOENT)
      assert.strictEqual((yield* sysctl(g, { name: [sysctlTop.CTL_VM, 1], oldSize: 8 })).error, Errno.ENOENT)
      for (const missing of [sysctlKern.KERN_MAXFILES, sysctlKern.KERN_MAXPROC, sysctlKern.KERN_ARGMAX, sysctlKern.KERN_SECURELVL, sysctlKern.KERN_IOV_MAX]) {
        assert.strictEqual((yield* sysctl(g, { name: [CTL_KERN, missing], oldSize: 8 })).error, Errno.ENOENT)
      }
      assert.strictEqual((yield* sysctl(g, { name: [CTL_HW, sysctlHw.HW_USERMEM], oldSize: 8 })).error, Errno.ENOENT)
      // the name runs on past an empty node: ENOENT; past a value: ENOTDIR
      assert.strictEqual((yield* sysctl(g, { name: [sysctlTop.CTL_DDB, 1, 2], oldSize: 8 })).error, Errno.ENOENT)
      assert.strictEqual((yield* sysctl(g, { name: [CTL_KERN], oldSize: 8 })).error, Errno.EINVAL)
      assert.strictEqual((yield* sysctl(g, { name: [CTL_KERN, sysctlKern.KERN_OSTYPE, 1], oldSize: 8 })).error, Errno.ENOTDIR)
      // an unknown meta-operation
      assert.strictEqual((yield* sysctl(g, { name: [CTL_KERN, -99], oldSize: 8 })).error, Errno.EOPNOTSUPP)
      assert.strictEqual((yield* sysctl(g, { name: [CTL_KERN, sysctlKern.KERN_OSTYPE], namelen: 0, oldSize: 8 })).error, Errno.EINVAL)
      const long = [CTL_KERN, sysctlKern.KERN_OSTYPE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
      assert.strictEqual((yield* sysctl(g, { name: long, oldSize: 8 })).error, Errno.EINVAL)
    }))
})

describe("kern.hostname", () => {
  it.effect("a new name set by one process is what another reads; the old value comes back with the write", () =>
    Effect.gen(function*() {
      const k = yield* boot({ hostname: "first" })
      const a = yield* k.guest()
      const b = yield* k.guest()
      const w = yield* sysctl(a, { name: [CTL_KERN, sysctlKern.KERN_HOSTNAME], oldSize: 64, newValue: cstr("second.host") })
      assert.strictEqual(w.error, 0)
      assert.strictEqual(decode(w.bytes(5)), "first")
      assert.strictEqual(w.oldlen, 6n)
      assert.strictEqual(yield* readString(b, [CTL_KERN, sysctlKern.KERN_HOSTNAME]), "second.host")
      assert.strictEqual(k.kernel.state.hostname, "second.host")
      // userland may leave the NUL off
      yield* sysctl(b, { name: [CTL_KERN, sysctlKern.KERN_HOSTNAME], newValue: text("third") })
      assert.strictEqual(yield* readString(a, [CTL_KERN, sysctlKern.KERN_HOSTNAME]), "third")
    }))

  it.effect("EINVAL for a name longer than MAXHOSTNAMELEN or filling it without a NUL", () =>
    Effect.gen(function*() {
      const k = yield* boot({ hostname: "keep" })
      const g = yield* k.guest()
      const name = [CTL_KERN, sysctlKern.KERN_HOSTNAME]
      assert.strictEqual((yield* sysctl(g, { name, newValue: new Uint8Array(257).fill(0x61) })).error, Errno.EINVAL)
      assert.strictEqual((yield* sysctl(g, { name, newValue: new Uint8Array(256).fill(0x61) })).error, Errno.EINVAL)
      assert.strictEqual(k.kernel.state.hostname, "keep")
      const fits = new Uint8Array(256).fill(0x62)
      fits[255] = 0
      assert.strictEqual((yield* sysctl(g, { name, newValue: fits })).error, 0)
      assert.strictEqual(k.kernel.state.hostname, "b".repeat(255))
    }))

  it.effect("EPERM for a new value to a read-only node", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const r = yield* sysctl(g, { name: [CTL_KERN, sysctlKern.KERN_OSTYPE], oldSize: 16, newValue: cstr("Linux") })
      assert.strictEqual(r.error, Errno.EPERM)
      assert.strictEqual(yield* readString(g, [CTL_KERN, sysctlKern.KERN_OSTYPE]), "NetBSD")
      assert.strictEqual((yield* sysctl(g, { name: [CTL_HW, sysctlHw.HW_NCPU], newValue: i32s(8) })).error, Errno.EPERM)
    }))
})

describe("kern.proc2", () => {
  const proc2 = (op: number, arg: number, elemSize: number, elemCount: number) => [
    CTL_KERN,
    sysctlKern.KERN_PROC2,
    op,
    arg,
    elemSize,
    elemCount
  ]

  it.effect("KERN_PROC_PID fills the caller's struct kinfo_proc2", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest({ comm: "worker" })
      g.proc.cred = new Cred({ uid: 7, euid: 9, svuid: 11, gid: 8, egid: 10, svgid: 12, groups: [20, 21] })
      // a session and group of its own, with a login name
      assert.strictEqual((yield* g.call(SYS.setsid)).error, 0)
      g.proc.pgrp.session.login.set(text("operator"))
      const r = yield* sysctl(g, { name: proc2(sysctlKernProc.KERN_PROC_PID, g.pid, KINFO, 1), oldSize: KINFO })
      assert.strictEqual(r.error, 0)
      assert.strictEqual(r.oldlen, BigInt(KINFO))
      const at = (name: string) => r.oldp + BigInt(off(name))
      assert.strictEqual(peekI32(g, at("p_pid")), g.pid)
      assert.strictEqual(peekI32(g, at("p_ppid")), 1)
      assert.strictEqual(peekI32(g, at("p_sid")), g.pid)
      assert.strictEqual(peekI32(g, at("p__pgid")), g.pid)
      assert.strictEqual(peekI32(g, at("p_eflag")), sysctlKinfo.EPROC_SLEADER)
      assert.strictEqual(peekI32(g, at("p_uid")), 9, "the effective uid")
      assert.strictEqual(peekI32(g, at("p_ruid")), 7)
      assert.strictEqual(peekI32(g, at("p_svuid")), 11)
      assert.strictEqual(peekI32(g, at("p_gid")), 10, "the effective gid")
      assert.strictEqual(peekI32(g, at("p_rgid")), 8)
      assert.strictEqual(peekI32(g, at("p_svgid")), 12)
      assert.strictEqual(peek(g, at("p_ngroups"), 2)[0], 2)
      assert.deepStrictEqual(peek(g, at("p_groups"), 12), i32s(20, 21, 0))
      assert.deepStrictEqual(peek(g, at("p_login"), 9), cstr("operator"))
      assert.deepStrictEqual(peek(g, at("p_comm"), 7), cstr("worker"))
      assert.strictEqual(peek(g, at("p_stat"), 1)[0], 7, "LSONPROC: the caller is running in the kernel")
      assert.strictEqual(peekI64(g, at("p_realstat")), 2n, "SACTIVE")
      assert.strictEqual(peekU64(g, at("p_nlwps")), 2n, "the main lwp and the caller's")
      assert.strictEqual(peekI32(g, at("p_tpgid")), -1)
      assert.strictEqual(peekI32(g, at("p_flag")), sysctlProcFlags.P_INMEM, "never swapped out")
      assert.strictEqual(peekU64(g, at("p_realflag")), BigInt(sysctlProcFlags.P_INMEM))
      assert.deepStrictEqual(peek(g, r.oldp, 104), new Uint8Array(104), "kernel pointers stay zero")
      // a set*id call makes it PK_SUGID: P_SUGID
      assert.strictEqual((yield* g.call(SYS.setgid, 8)).error, 0)
      const again = yield* sysctl(g, { name: proc2(sysctlKernProc.KERN_PROC_PID, g.pid, KINFO, 1), oldSize: KINFO })
      const flagAt = again.oldp + BigInt(off("p_flag"))
      assert.strictEqual(peekI32(g, flagAt), sysctlProcFlags.P_INMEM | sysctlProcFlags.P_SUGID)
      assert.strictEqual(peekU64(g, again.oldp + BigInt(off("p_realflag"))), BigInt(sysctlProcFlags.P_INMEM | sysctlProcFlags.P_SUGID))
    }))

  it.live("p_nlwps counts the lwps in the kernel: two sleeping in nanosleep plus the caller makes 4", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const sleepers = yield* Effect.forEach([0, 1], () =>
        Effect.gen(function*() {
          const lwp = yield* g.newLwp()
          const fiber = yield* g.callIn(lwp, SYS.__nanosleep50, g.mem.alloc(timespec(30, 0)), 0).pipe(Effect.forkChild)
          return { lwp, fiber }
        }))
      for (const { lwp } of sleepers) {
        for (let i = 0; i < 200 && (lwp as Lwp).wakeup === undefined; i++) yield* Effect.sleep("5 millis")
      }
      const other = yield* k.guest()
      const mine = yield* sysctl(g, { name: proc2(sysctlKernProc.KERN_PROC_PID, g.pid, KINFO, 1), oldSize: KINFO })
      assert.strictEqual(peekU64(g, mine.oldp + BigInt(off("p_nlwps"))), 4n)
      const seen = yield* sysctl(other, { name: proc2(sysctlKernProc.KERN_PROC_PID, g.pid, KINFO, 1), oldSize: KINFO })
      assert.strictEqual(peekU64(other, seen.oldp + BigInt(off("p_nlwps"))), 3n, "asked from another process")
      assert.strictEqual(peek(other, seen.oldp + BigInt(off("p_stat")), 1)[0], 2, "LSRUN: its lwps are asleep")
      yield* k.hypervisor.lwpExit(g.handle)
      for (const { fiber, lwp } of sleepers) {
        assert.strictEqual((yield* Fiber.join(fiber)).error, Errno.EINTR)
        yield* k.hypervisor.releaseLwp(lwp)
      }
      yield* k.hypervisor.execNotify(g.handle, "t")
      const after = yield* sysctl(g, { name: proc2(sysctlKernProc.KERN_PROC_PID, g.pid, KINFO, 1), oldSize: KINFO })
      assert.strictEqual(peekU64(g, after.oldp + BigInt(off("p_nlwps"))), 2n, "right after an exec")
    }))

  it.effect("KERN_PROC_ALL: a size query has room for five more; records come newest first", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      const q = yield* sysctl(a, { name: proc2(sysctlKernProc.KERN_PROC_ALL, 0, KINFO, 0), oldlen: 0 })
      assert.strictEqual(q.error, 0)
      assert.strictEqual(q.oldlen, BigInt((3 + 5) * KINFO), "init, a and b, plus the slop")
      const all = yield* sysctl(a, { name: proc2(sysctlKernProc.KERN_PROC_ALL, 0, KINFO, 10), oldSize: 10 * KINFO })
      assert.strictEqual(all.error, 0)
      assert.strictEqual(all.oldlen, BigInt(3 * KINFO))
      const pids = [0, 1, 2].map((i) => peekI32(a, all.oldp + BigInt(i * KINFO + off("p_pid"))))
      assert.deepStrictEqual(pids, [b.pid, a.pid, 1])
    }))

  it.effect("a buffer for fewer records than match: ENOMEM with the length copied", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      yield* k.guest()
      const short = yield* sysctl(a, { name: proc2(sysctlKernProc.KERN_PROC_ALL, 0, KINFO, 10), oldSize: KINFO + 100 })
      assert.strictEqual(short.error, Errno.ENOMEM)
      assert.strictEqual(short.oldlen, BigInt(KINFO))
      const counted = yield* sysctl(a, { name: proc2(sysctlKernProc.KERN_PROC_ALL, 0, KINFO, 1), oldSize: 10 * KINFO })
      assert.strictEqual(counted.error, Errno.ENOMEM, "elem_count caps the records too")
      assert.strictEqual(counted.oldlen, BigInt(KINFO))
    }))

  it.effect("a smaller elem_size cuts every record; no match is success with nothing", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const a = yield* k.guest()
      const b = yield* k.guest()
      const r = yield* sysctl(a, { name: proc2(sysctlKernProc.KERN_PROC_ALL, 0, 200, 3), oldSize: 600 })
      assert.strictEqual(r.error, 0)
      assert.strictEqual(r.oldlen, 600n)
      assert.strictEqual(peekI32(a, r.oldp + BigInt(off("p_pid"))), b.pid)
      assert.strictEqual(peekI32(a, r.oldp + 200n + BigInt(off("p_pid"))), a.pid)
      const none = yield* sysctl(a, { name: proc2(sysctlKernProc.KERN_PROC_PID, 999, KINFO, 1), oldSize: KINFO })
      assert.strictEqual(none.error, 0)
      assert.strictEqual(none.oldlen, 0n)
      const uid = yield* sysctl(a, { name: proc2(sysctlKernProc.KERN_PROC_UID, 0, KINFO, 10), oldSize: 10 * KINFO })
      assert.strictEqual(uid.oldlen, BigInt(3 * KINFO))
      // b leads a session of its own (a new guest is in session 0)
      assert.strictEqual((yield* b.call(SYS.setsid)).error, 0)
      const session = yield* sysctl(a, { name: proc2(sysctlKernProc.KERN_PROC_SESSION, b.pid, KINFO, 10), oldSize: 10 * KINFO })
      assert.strictEqual(session.oldlen, BigInt(KINFO))
    }))

  it.effect("EINVAL for an unknown op, a wrong name length or a bad elem_size", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual((yield* sysctl(g, { name: proc2(99, 0, KINFO, 1), oldSize: KINFO })).error, Errno.EINVAL)
      assert.strictEqual((yield* sysctl(g, { name: proc2(0, 0, 0, 1), oldSize: KINFO })).error, Errno.EINVAL)
      assert.strictEqual((yield* sysctl(g, { name: proc2(0, 0, KINFO, -1), oldSize: KINFO })).error, Errno.EINVAL)
      assert.strictEqual((yield* sysctl(g, { name: [CTL_KERN, sysctlKern.KERN_PROC2, 1, g.pid], oldSize: KINFO })).error, Errno.EINVAL)
      assert.strictEqual((yield* sysctl(g, { name: [CTL_KERN, sysctlKern.KERN_PROC2], oldSize: KINFO })).error, Errno.EINVAL)
    }))
})
