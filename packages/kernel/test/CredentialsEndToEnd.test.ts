/**
 * Credentials, groups and limits over the wire: the real kernel behind a
 * real SysproxyServer, @sysproxy/client connections as the clients (whose
 * address space answers a copyin from an unmapped address with EFAULT).
 */
import { assert, describe, it } from "@effect/vitest"
import { Errno, openFlags, rlimit, signals, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { connect } from "@sysproxy/client"
import { attach, guest, pollUntil, startWorld } from "./support/EndToEnd.ts"

const NO_ID = 0xffffffff
/** Far from anything the client's address space maps. */
const UNMAPPED = 0x7ff0_0000_0000n

const gids = (...xs: ReadonlyArray<number>) => {
  const b = new Uint8Array(xs.length * 4)
  xs.forEach((x, i) => new DataView(b.buffer).setUint32(i * 4, x, true))
  return b
}

describe("bad arguments, as NetBSD answers them", () => {
  it.live("a negative count is EINVAL; a groups array that faults is EFAULT; -1 ids mean unchanged", () =>
    Effect.gen(function*() {
      const world = yield* startWorld()
      const g = yield* guest(world, "badargs")
      yield* g.fails(Errno.EINVAL, SYS.getgroups, -1, g.buf(64))
      yield* g.fails(Errno.EINVAL, SYS.setgroups, -1, g.buf(64))
      yield* g.fails(Errno.EINVAL, SYS.setgroups, 17, g.conn.space.alloc(gids(...Array.from({ length: 17 }, (_, i) => i))))
      yield* g.fails(Errno.EFAULT, SYS.setgroups, 2, UNMAPPED)
      yield* g.ok(SYS.setgroups, 2, g.conn.space.alloc(gids(5, 6)))
      yield* g.fails(Errno.EFAULT, SYS.setrlimit, rlimit.RLIMIT_NOFILE, UNMAPPED)
      yield* g.ok(SYS.setregid, 10, 20)
      yield* g.ok(SYS.setreuid, 1000, 2000)
      yield* g.ok(SYS.setreuid, NO_ID, NO_ID)
      yield* g.ok(SYS.setregid, NO_ID, NO_ID)
      assert.deepStrictEqual(yield* g.call(SYS.getuid), { error: 0, retval0: 1000n, retval1: 2000n })
      assert.deepStrictEqual(yield* g.call(SYS.getgid), { error: 0, retval0: 10n, retval1: 20n })
      yield* g.fails(Errno.EPERM, SYS.setuid, 0)
      yield* g.fails(Errno.EINVAL, SYS.setpgid, 0, -1)
      yield* g.fails(Errno.EINVAL, SYS.getrlimit, -1, g.buf(16))
    }))
})

describe("credentials and groups across a fork", () => {
  it.live("the fork child has its parent's credentials and group; its parent is 1, and it rejoins the group after leaving it", () =>
    Effect.gen(function*() {
      const world = yield* startWorld()
      const parent = yield* guest(world, "parent")
      assert.strictEqual(yield* parent.ok(SYS.setsid), BigInt(parent.pid))
      yield* parent.ok(SYS.setgroups, 1, parent.conn.space.alloc(gids(7)))
      yield* parent.ok(SYS.setgid, 100)
      yield* parent.ok(SYS.setuid, 1000)
      const conn = yield* connect(world.url)
      yield* conn.handshakeFork(yield* parent.conn.prefork())
      const child = yield* attach(conn)
      assert.deepStrictEqual(yield* child.call(SYS.getuid), { error: 0, retval0: 1000n, retval1: 1000n })
      assert.deepStrictEqual(yield* child.call(SYS.getgid), { error: 0, retval0: 100n, retval1: 100n })
      assert.strictEqual(yield* child.ok(SYS.getgroups, 0, 0), 1n)
      assert.strictEqual(yield* child.ok(SYS.issetugid), 0n, "PK_SUGID is not inherited (lwproc_newproc)")
      assert.strictEqual(yield* child.ok(SYS.getppid), 1n)
      assert.strictEqual(yield* child.ok(SYS.getpgrp), BigInt(parent.pid))
      assert.strictEqual(yield* child.ok(SYS.getsid, 0), BigInt(parent.pid))
      yield* child.ok(SYS.setpgid, 0, 0)
      assert.strictEqual(yield* child.ok(SYS.getpgrp), BigInt(child.pid))
      yield* child.ok(SYS.setpgid, 0, parent.pid)
      assert.strictEqual(yield* child.ok(SYS.getpgrp), BigInt(parent.pid))
    }))

  it.live("a group kill reaches every member's client and nobody else's", () =>
    Effect.gen(function*() {
      const world = yield* startWorld()
      const leader = yield* guest(world, "leader")
      yield* leader.ok(SYS.setsid)
      const members = yield* Effect.forEach([1, 2], () =>
        Effect.gen(function*() {
          const conn = yield* connect(world.url)
          yield* conn.handshakeFork(yield* leader.conn.prefork())
          return yield* attach(conn)
        }))
      const bystander = yield* guest(world, "bystander")
      yield* bystander.ok(SYS.kill, -leader.pid, signals.SIGUSR1)
      for (const g of [leader, ...members]) {
        yield* pollUntil("SIGUSR1 at a member", Effect.sync(() => g.conn.signals), (s) => s.length > 0)
        assert.deepStrictEqual(g.conn.signals, [signals.SIGUSR1])
      }
      // the RAISEs went out before the kill was answered: the bystander's would have too
      assert.deepStrictEqual(bystander.conn.signals, [])
      yield* bystander.fails(Errno.ESRCH, SYS.kill, -4242, signals.SIGUSR1)
    }))
})

describe("RLIMIT_NOFILE over the wire", () => {
  it.live("with the soft limit at 12 a fresh guest opens 9 files, then EMFILE", () =>
    Effect.gen(function*() {
      const world = yield* startWorld()
      const g = yield* guest(world, "nofile")
      const limit = new Uint8Array(16)
      new DataView(limit.buffer).setBigUint64(0, 12n, true)
      new DataView(limit.buffer).setBigUint64(8, 1772n, true)
      yield* g.ok(SYS.setrlimit, rlimit.RLIMIT_NOFILE, g.conn.space.alloc(limit))
      for (let fd = 3; fd < 12; fd++) assert.strictEqual(yield* g.open("/dev/null", openFlags.O_RDONLY), fd)
      yield* g.fails(Errno.EMFILE, SYS.open, g.str("/dev/null"), openFlags.O_RDONLY, 0)
    }))
})
