import { assert, describe, it } from "@effect/vitest"
import { Errno, socket as so, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { boot, decode, type Guest, peek, peekI32, text } from "./support/SyscallHarness.ts"

const AF_LOCAL = 1
const MMSGHDR = 56

const datagramPair = (g: Guest) =>
  Effect.gen(function*() {
    const sv = g.mem.alloc(8)
    assert.strictEqual((yield* g.call(SYS.socketpair, AF_LOCAL, so.SOCK_DGRAM, 0, sv)).error, 0)
    return [peekI32(g, sv), peekI32(g, sv + 4n)] as const
  })

/** An array of struct mmsghdr, each with one iovec over its own buffer of `sizes[i]` bytes (holding `data[i]`). */
const mmsgs = (g: Guest, sizes: ReadonlyArray<number>, data: ReadonlyArray<string> = []) => {
  const arr = new Uint8Array(sizes.length * MMSGHDR)
  const v = new DataView(arr.buffer)
  const bufs = sizes.map((n, i) => {
    const buf = g.mem.alloc(data[i] !== undefined ? text(data[i] ?? "") : new Uint8Array(Math.max(1, n)))
    const iov = new Uint8Array(16)
    new DataView(iov.buffer).setBigUint64(0, buf, true)
    new DataView(iov.buffer).setBigUint64(8, BigInt(n), true)
    v.setBigUint64(i * MMSGHDR + 16, g.mem.alloc(iov), true)
    v.setInt32(i * MMSGHDR + 24, 1, true)
    return buf
  })
  return { addr: g.mem.alloc(arr), bufs }
}

const msgLen = (g: Guest, addr: bigint, i: number) => peekI32(g, addr + BigInt(i * MMSGHDR + 48))

describe("sendmmsg and recvmmsg", () => {
  it.effect("send several datagrams in one call and receive them in one; msg_len holds each count", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [a, b] = yield* datagramPair(g)
      const out = mmsgs(g, [3, 5, 1], ["one", "three", "x"])
      assert.deepStrictEqual(yield* g.call(SYS.sendmmsg, a, out.addr, 3, 0), { error: 0, retval0: 3n, retval1: 0n })
      assert.deepStrictEqual([0, 1, 2].map((i) => msgLen(g, out.addr, i)), [3, 5, 1])
      const inn = mmsgs(g, [16, 16, 16, 16])
      const r = yield* g.call(SYS.recvmmsg, b, inn.addr, 4, so.MSG_WAITFORONE, 0)
      assert.deepStrictEqual(r, { error: 0, retval0: 3n, retval1: 0n }, "the fourth would wait: the call ends with three")
      assert.deepStrictEqual([0, 1, 2].map((i) => msgLen(g, inn.addr, i)), [3, 5, 1])
      assert.deepStrictEqual(inn.bufs.slice(0, 3).map((buf, i) => decode(peek(g, buf, msgLen(g, inn.addr, i)))), ["one", "three", "x"])
      assert.strictEqual((yield* g.call(SYS.recvmmsg, b, inn.addr, 4, so.MSG_DONTWAIT, 0)).error, Errno.EAGAIN)
      assert.deepStrictEqual(yield* g.call(SYS.sendmmsg, a, out.addr, 0, 0), { error: 0, retval0: 0n, retval1: 0n })
    }))

  it.effect("an error after some messages is left as the socket's pending error; before any, it is the call's", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const [a, b] = yield* datagramPair(g)
      const out = mmsgs(g, [2, 2], ["ok", "no"])
      // the second message's iovec array points nowhere
      const arr = g.mem.read(out.addr, 2 * MMSGHDR) ?? new Uint8Array(0)
      new DataView(arr.buffer, arr.byteOffset).setBigUint64(MMSGHDR + 16, 0x10n, true)
      const bad = g.mem.alloc(arr.slice())
      assert.deepStrictEqual(yield* g.call(SYS.sendmmsg, a, bad, 2, 0), { error: 0, retval0: 1n, retval1: 0n })
      const err = g.mem.alloc(4)
      const len = g.mem.alloc(new Uint8Array([4, 0, 0, 0]))
      yield* g.call(SYS.getsockopt, a, so.SOL_SOCKET, so.SO_ERROR, err, len)
      assert.strictEqual(peekI32(g, err), Errno.EFAULT)
      assert.strictEqual((yield* g.call(SYS.sendmmsg, a, 0x10n, 1, 0)).error, Errno.EFAULT)
      assert.strictEqual((yield* g.call(SYS.sendmmsg, 99, out.addr, 1, 0)).error, Errno.EBADF)
      assert.strictEqual((yield* g.call(SYS.recvmmsg, b, out.addr, 1, 0, 0x10n)).error, Errno.EFAULT, "the timeout is read first")
    }))
})
