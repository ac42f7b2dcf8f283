import { assert, describe, it } from "@effect/vitest"
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { MODSTAT_SIZE } from "../src/syscalls/modules.ts"
import { type Guest, makeGuest } from "./VfsGuest.ts"
import { Cred } from "../src/kauth/Cred.ts"

/** struct quotactl_args: qc_op, then the union's pointers at 8 and 16. */
const quotaArgs = (g: Guest, op: number, a = 0n, b = 0n) => {
  const bytes = new Uint8Array(48)
  const v = new DataView(bytes.buffer)
  v.setUint32(0, op, true)
  v.setBigUint64(8, a, true)
  v.setBigUint64(16, b, true)
  return g.mem.alloc(bytes)
}

describe("__quotactl", () => {
  it.effect("tmpfs keeps no quotas: EOPNOTSUPP once the operation's own arguments are read; EINVAL for an unknown one", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const tmp = g.str("/tmp")
      for (const op of [0, 1, 2, 6, 13]) yield* g.fails(Errno.EOPNOTSUPP, SYS.__quotactl, tmp, quotaArgs(g, op))
      const key = g.buf(12)
      const val = g.buf(40)
      const cursor = g.buf(64)
      yield* g.fails(Errno.EOPNOTSUPP, SYS.__quotactl, tmp, quotaArgs(g, 3, key))
      yield* g.fails(Errno.EFAULT, SYS.__quotactl, tmp, quotaArgs(g, 3, 0x10n))
      yield* g.fails(Errno.EOPNOTSUPP, SYS.__quotactl, tmp, quotaArgs(g, 4, key, val))
      yield* g.fails(Errno.EFAULT, SYS.__quotactl, tmp, quotaArgs(g, 4, key, 0x10n))
      for (const op of [7, 8, 9, 10, 11]) {
        yield* g.fails(Errno.EOPNOTSUPP, SYS.__quotactl, tmp, quotaArgs(g, op, cursor))
        yield* g.fails(Errno.EFAULT, SYS.__quotactl, tmp, quotaArgs(g, op, 0x10n))
      }
      yield* g.fails(Errno.EOPNOTSUPP, SYS.__quotactl, tmp, quotaArgs(g, 12, 0n, g.buf(1024)))
      yield* g.fails(Errno.EINVAL, SYS.__quotactl, tmp, quotaArgs(g, 14))
      yield* g.fails(Errno.ENOENT, SYS.__quotactl, g.str("/nope"), quotaArgs(g, 14))
      yield* g.fails(Errno.EFAULT, SYS.__quotactl, g.str("/nope"), 0x10n)
    }))
})

describe("modctl", () => {
  const iov = (g: Guest, base: bigint, len: number) => {
    const bytes = new Uint8Array(16)
    new DataView(bytes.buffer).setBigUint64(0, base, true)
    new DataView(bytes.buffer).setBigUint64(8, BigInt(len), true)
    return g.mem.alloc(bytes)
  }

  it.effect("MODCTL_STAT lists the built-in tmpfs module and says how much room all of them take", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const buf = g.buf(4 * MODSTAT_SIZE)
      const vec = iov(g, buf, 4 * MODSTAT_SIZE)
      yield* g.ok(SYS.modctl, 2, vec)
      assert.strictEqual(new DataView(g.bytes(vec, 16).slice().buffer).getBigUint64(8, true), BigInt(MODSTAT_SIZE))
      assert.strictEqual(new TextDecoder().decode(g.bytes(buf, 5)), "tmpfs")
      assert.strictEqual(new DataView(g.bytes(buf, MODSTAT_SIZE).slice().buffer).getInt32(372 - 8, true), 2, "MODULE_CLASS_VFS")
      const none = iov(g, buf, 0)
      yield* g.ok(SYS.modctl, 2, none)
      assert.strictEqual(new DataView(g.bytes(none, 16).slice().buffer).getBigUint64(8, true), BigInt(MODSTAT_SIZE))
    }))

  it.effect("loading and unloading: EEXIST, ENOENT, ENOEXEC, EBUSY; EINVAL for other commands; EPERM for a non-superuser", () =>
    Effect.gen(function*() {
      const g = yield* makeGuest()
      const ml = (name: string) => {
        const bytes = new Uint8Array(32)
        new DataView(bytes.buffer).setBigUint64(0, g.str(name), true)
        return g.mem.alloc(bytes)
      }
      yield* g.writeFile("/tmp/not.kmod", "text")
      yield* g.fails(Errno.EEXIST, SYS.modctl, 0, ml("tmpfs"))
      yield* g.fails(Errno.ENOENT, SYS.modctl, 0, ml("ffs"))
      yield* g.fails(Errno.ENOENT, SYS.modctl, 0, ml("/stand/x.kmod"))
      yield* g.fails(Errno.ENOEXEC, SYS.modctl, 0, ml("/tmp/not.kmod"))
      yield* g.fails(Errno.EBUSY, SYS.modctl, 1, g.str("tmpfs"))
      yield* g.fails(Errno.ENOENT, SYS.modctl, 1, g.str("ffs"))
      yield* g.ok(SYS.modctl, 3, 0)
      yield* g.fails(Errno.EINVAL, SYS.modctl, 9, 0)
      const p = g.kernel.kernel.state.procs.get(g.process.pid)
      if (p !== undefined) p.cred = Cred.of(1000, 0)
      yield* g.fails(Errno.EPERM, SYS.modctl, 2, 0)
    }))
})
