import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber } from "effect"
import { Errno, fcntlCmds, fdFlags, modeBits, netinet, openFlags, pollEvents, rlimit, signals, socket as so, Structs, SYS } from "@sysproxy/protocol/netbsd"
import type { Lwp } from "../src/proc/Lwp.ts"
import { boot, decode, type Guest, peek, peekI32, text, u64s } from "./support/SyscallHarness.ts"

const { AF_INET, AF_INET6, AF_LOCAL, SOCK_STREAM, SOCK_DGRAM, SOL_SOCKET } = so

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength)

/** struct sockaddr_in for "a.b.c.d", port. */
const sin = (addr: string, port: number): Uint8Array => {
  const b = new Uint8Array(16)
  b[0] = 16
  b[1] = AF_INET
  view(b).setUint16(2, port, false)
  addr.split(".").forEach((x, i) => (b[4 + i] = Number(x)))
  return b
}

/** struct sockaddr_in6 for ::1 (loopback) or :: (any). */
const sin6 = (loopback: boolean, port: number): Uint8Array => {
  const b = new Uint8Array(28)
  b[0] = 28
  b[1] = AF_INET6
  view(b).setUint16(2, port, false)
  if (loopback) b[23] = 1
  return b
}

/** struct sockaddr_un for a path. */
const sun = (path: string): Uint8Array => {
  const b = new Uint8Array(106)
  b[0] = 106
  b[1] = AF_LOCAL
  b.set(text(path), 2)
  return b
}

const ok = (r: { readonly error: number; readonly retval0: bigint }, what: string): number => {
  assert.strictEqual(r.error, 0, what)
  return Number(r.retval0)
}

const socket = (g: Guest, domain: number, type: number, protocol = 0) =>
  Effect.map(g.call(SYS.__socket30, domain, type, protocol), (r) => ok(r, "socket"))

const bind = (g: Guest, fd: number, addr: Uint8Array) => Effect.map(g.call(SYS.bind, fd, g.mem.alloc(addr), addr.length), (r) => r.error)
const connect = (g: Guest, fd: number, addr: Uint8Array) =>
  Effect.map(g.call(SYS.connect, fd, g.mem.alloc(addr), addr.length), (r) => r.error)
const listen = (g: Guest, fd: number, backlog = 5) => Effect.map(g.call(SYS.listen, fd, backlog), (r) => r.error)

const setInt = (g: Guest, fd: number, level: number, name: number, value: number) =>
  Effect.map(g.call(SYS.setsockopt, fd, level, name, g.mem.alloc(i32(value)), 4), (r) => r.error)

const getInt = (g: Guest, fd: number, level: number, name: number) =>
  Effect.gen(function*() {
    const val = g.mem.alloc(4)
    const len = g.mem.alloc(i32(4))
    const r = yield* g.call(SYS.getsockopt, fd, level, name, val, len)
    return { error: r.error, value: r.error === 0 ? peekI32(g, val) : undefined }
  })

const i32 = (n: number) => {
  const b = new Uint8Array(4)
  view(b).setInt32(0, n, true)
  return b
}

/** getsockname / getpeername: the error and the bytes. */
const nameOf = (g: Guest, call: number, fd: number, size = 128) =>
  Effect.gen(function*() {
    const buf = g.mem.alloc(size)
    const len = g.mem.alloc(i32(size))
    const r = yield* g.call(call, fd, buf, len)
    if (r.error !== 0) return { error: r.error, addr: new Uint8Array(0) }
    return { error: 0, addr: peek(g, buf, peekI32(g, len)) }
  })

const portOf = (addr: Uint8Array) => view(addr).getUint16(2, false)

const write = (g: Guest, fd: number, data: Uint8Array) => g.call(SYS.write, fd, g.mem.alloc(data), data.length)

const read = (g: Guest, fd: number, len: number) =>
  Effect.gen(function*() {
    const buf = g.mem.alloc(Math.max(len, 1))
    const r = yield* g.call(SYS.read, fd, buf, len)
    return { error: r.error, data: r.error === 0 ? peek(g, buf, Number(r.retval0)) : new Uint8Array(0) }
  })

const accept = (g: Guest, fd: number) =>
  Effect.gen(function*() {
    const buf = g.mem.alloc(128)
    const len = g.mem.alloc(i32(128))
    const r = yield* g.call(SYS.accept, fd, buf, len)
    return { error: r.error, fd: Number(r.retval0), addr: r.error === 0 ? peek(g, buf, peekI32(g, len)) : new Uint8Array(0) }
  })

const poll = (g: Guest, fd: number, events: number) =>
  Effect.gen(function*() {
    const b = new Uint8Array(8)
    view(b).setInt32(0, fd, true)
    view(b).setInt16(4, events, true)
    const addr = g.mem.alloc(b)
    const r = yield* g.call(SYS.poll, addr, 1, 0)
    assert.strictEqual(r.error, 0)
    return view(peek(g, addr + 6n, 2)).getUint16(0, true)
  })

const untilAsleep = (lwp: Lwp) =>
  Effect.gen(function*() {
    for (let i = 0; i < 200 && lwp.wakeup === undefined; i++) yield* Effect.sleep("5 millis")
    assert.isDefined(lwp.wakeup, "the lwp went to sleep")
  })

const inLwp = (g: Guest, number: number, ...args: ReadonlyArray<bigint | number>) =>
  Effect.gen(function*() {
    const lwp = yield* g.newLwp()
    const fiber = yield* g.callIn(lwp, number, ...args).pipe(Effect.forkChild)
    return { lwp: lwp as Lwp, fiber }
  })

/** A listener on 127.0.0.1:port. */
const listener = (g: Guest, port: number, backlog = 5) =>
  Effect.gen(function*() {
    const l = yield* socket(g, AF_INET, SOCK_STREAM)
    assert.strictEqual(yield* bind(g, l, sin("127.0.0.1", port)), 0)
    assert.strictEqual(yield* listen(g, l, backlog), 0)
    return l
  })

describe("AF_INET stream sockets", () => {
  it.effect("socket: fds from the lowest free; bad domain, type, protocol and flags", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      assert.strictEqual(yield* socket(g, AF_INET, SOCK_STREAM), 3)
      assert.strictEqual(yield* socket(g, AF_INET, SOCK_STREAM, netinet.IPPROTO_TCP), 4)
      assert.strictEqual((yield* g.call(SYS.__socket30, 99, SOCK_STREAM, 0)).error, Errno.EAFNOSUPPORT)
      assert.strictEqual((yield* g.call(SYS.__socket30, AF_INET, 17, 0)).error, Errno.EPROTOTYPE)
      assert.strictEqual((yield* g.call(SYS.__socket30, AF_INET, SOCK_STREAM, netinet.IPPROTO_UDP)).error, Errno.EPROTONOSUPPORT)
      assert.strictEqual((yield* g.call(SYS.__socket30, AF_INET, SOCK_STREAM | 0x80000000, 0)).error, Errno.EINVAL)
      // SOCK_CLOEXEC and SOCK_NONBLOCK
      const fd = yield* socket(g, AF_INET, SOCK_STREAM | so.SOCK_CLOEXEC | so.SOCK_NONBLOCK)
      assert.strictEqual((yield* g.call(SYS.fcntl, fd, fcntlCmds.F_GETFD, 0)).retval0, BigInt(fdFlags.FD_CLOEXEC))
      assert.strictEqual(Number((yield* g.call(SYS.fcntl, fd, fcntlCmds.F_GETFL, 0)).retval0) & openFlags.O_NONBLOCK, openFlags.O_NONBLOCK)
      // a socket is no file: lseek ESPIPE; a pipe is no socket: ENOTSOCK
      assert.strictEqual((yield* g.call(SYS.lseek, fd, 0, 0, 0)).error, Errno.ESPIPE)
      assert.strictEqual((yield* g.call(SYS.listen, 0, 1)).error, Errno.ENOTSOCK)
      assert.strictEqual((yield* g.call(SYS.listen, 99, 1)).error, Errno.EBADF)
      // fstat: S_IFSOCK
      const sb = g.mem.alloc(Structs.stat.size)
      assert.strictEqual((yield* g.call(SYS.__fstat50, fd, sb)).error, 0)
      const modeOff = Structs.stat.fields.find((f) => f.name === "st_mode")?.offset ?? 0
      assert.strictEqual(peekI32(g, sb + BigInt(modeOff)) & modeBits.S_IFMT, modeBits.S_IFSOCK)
    }))

  it.effect("bind: getsockname in NetBSD layout, ephemeral ports, EADDRNOTAVAIL, EADDRINUSE, EINVAL when bound twice", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const a = yield* socket(g, AF_INET, SOCK_STREAM)
      const unbound = yield* nameOf(g, SYS.getsockname, a)
      assert.deepStrictEqual([...unbound.addr], [16, AF_INET, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
      assert.strictEqual(yield* bind(g, a, sin("127.0.0.1", 8080)), 0)
      const named = yield* nameOf(g, SYS.getsockname, a)
      assert.deepStrictEqual([...named.addr.subarray(0, 8)], [16, AF_INET, 0x1f, 0x90, 127, 0, 0, 1])
      assert.strictEqual(yield* bind(g, a, sin("127.0.0.1", 8081)), Errno.EINVAL, "already bound")
      const b = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, b, sin("127.0.0.1", 8080)), Errno.EADDRINUSE)
      assert.strictEqual(yield* bind(g, b, sin("0.0.0.0", 8080)), Errno.EADDRINUSE, "the wildcard overlaps")
      assert.strictEqual(yield* bind(g, b, sin("10.0.0.1", 8080)), Errno.EADDRNOTAVAIL)
      assert.strictEqual(yield* bind(g, b, sin("192.168.1.1", 0)), Errno.EADDRNOTAVAIL)
      // another loopback address is the kernel's too
      assert.strictEqual(yield* bind(g, b, sin("127.0.0.2", 8080)), 0)
      const c = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, c, sin("0.0.0.0", 0)), 0)
      const port = portOf((yield* nameOf(g, SYS.getsockname, c)).addr)
      assert.isTrue(port >= 49152 && port <= 65535, `ephemeral ${port}`)
      // a too short address, a wrong family
      assert.strictEqual((yield* g.call(SYS.bind, c, g.mem.alloc(sin("127.0.0.1", 1)), 8)).error, Errno.EINVAL)
      const d = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, d, sin6(true, 9000)), Errno.EAFNOSUPPORT)
      // closing frees the port
      assert.strictEqual((yield* g.call(SYS.close, a)).error, 0)
      assert.strictEqual(yield* bind(g, d, sin("127.0.0.1", 8080)), 0)
    }))

  it.effect("SO_REUSEADDR and SO_REUSEPORT rules", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      // both SO_REUSEPORT: the same address and port twice, even listening
      const a = yield* socket(g, AF_INET, SOCK_STREAM)
      const b = yield* socket(g, AF_INET, SOCK_STREAM)
      for (const fd of [a, b]) assert.strictEqual(yield* setInt(g, fd, SOL_SOCKET, so.SO_REUSEPORT, 1), 0)
      assert.strictEqual(yield* bind(g, a, sin("127.0.0.1", 7000)), 0)
      assert.strictEqual(yield* listen(g, a), 0)
      assert.strictEqual(yield* bind(g, b, sin("127.0.0.1", 7000)), 0)
      assert.strictEqual(yield* listen(g, b), 0)
      // SO_REUSEADDR does not share an exact address and port (in_pcbbind_port): listening or not
      const c = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* setInt(g, c, SOL_SOCKET, so.SO_REUSEADDR, 1), 0)
      assert.strictEqual(yield* bind(g, c, sin("127.0.0.1", 7000)), Errno.EADDRINUSE)
      const d = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* setInt(g, d, SOL_SOCKET, so.SO_REUSEADDR, 1), 0)
      assert.strictEqual(yield* bind(g, d, sin("127.0.0.1", 7001)), 0)
      assert.strictEqual(yield* bind(g, c, sin("127.0.0.1", 7001)), Errno.EADDRINUSE, "not onto an unconnected socket either")
      // a specific address beside a wildcard one with SO_REUSEADDR, in either order
      const e = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, e, sin("0.0.0.0", 7002)), 0)
      const f = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, f, sin("127.0.0.1", 7002)), Errno.EADDRINUSE)
      assert.strictEqual(yield* setInt(g, f, SOL_SOCKET, so.SO_REUSEADDR, 1), 0)
      assert.strictEqual(yield* bind(g, f, sin("127.0.0.1", 7002)), 0)
      const h = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* setInt(g, h, SOL_SOCKET, so.SO_REUSEADDR, 1), 0)
      assert.strictEqual(yield* bind(g, h, sin("0.0.0.0", 7002)), Errno.EADDRINUSE, "the wildcard itself is taken")
      const w = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, w, sin("127.0.0.9", 7003)), 0)
      assert.strictEqual(yield* bind(g, h, sin("0.0.0.0", 7003)), 0, "a wildcard beside a specific one")
      const i = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, i, sin("127.0.0.10", 7003)), Errno.EADDRINUSE, "without it the wildcard is in the way")
      // two different specific addresses share a port with no option at all
      assert.strictEqual(yield* bind(g, i, sin("127.0.0.10", 7004)), 0)
      const j = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, j, sin("127.0.0.11", 7004)), 0)
    }))

  it.effect("SO_REUSEADDR lets a restarted server bind its port while a connection made on it lives", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const l = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, l, sin("0.0.0.0", 7100)), 0)
      assert.strictEqual(yield* listen(g, l), 0)
      const c = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* connect(g, c, sin("127.0.0.1", 7100)), 0)
      assert.strictEqual((yield* accept(g, l)).error, 0)
      assert.strictEqual((yield* g.call(SYS.close, l)).error, 0)
      // the accepted connection (127.0.0.1:7100 with a peer) still holds the port
      const again = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, again, sin("0.0.0.0", 7100)), Errno.EADDRINUSE)
      assert.strictEqual(yield* setInt(g, again, SOL_SOCKET, so.SO_REUSEADDR, 1), 0)
      assert.strictEqual(yield* bind(g, again, sin("0.0.0.0", 7100)), 0)
      assert.strictEqual(yield* listen(g, again), 0)
    }))

  it.effect("256 sockets bind distinct ports with SO_REUSEADDR, close, and the ports are free again", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      // more descriptors than RLIMIT_NOFILE's default 128, as a NetBSD program would ask
      const limit = g.mem.alloc(u64s(300, 1772))
      assert.strictEqual((yield* g.call(SYS.setrlimit, rlimit.RLIMIT_NOFILE, limit)).error, 0)
      for (let round = 0; round < 2; round++) {
        const fds: Array<number> = []
        for (let i = 0; i < 256; i++) {
          const fd = yield* socket(g, AF_INET, SOCK_STREAM)
          assert.strictEqual(yield* setInt(g, fd, SOL_SOCKET, so.SO_REUSEADDR, 1), 0)
          assert.strictEqual(yield* bind(g, fd, sin("127.0.0.1", 20000 + i)), 0, `port ${20000 + i}`)
          assert.strictEqual(yield* listen(g, fd), 0)
          fds.push(fd)
        }
        for (const fd of fds) assert.strictEqual((yield* g.call(SYS.close, fd)).error, 0)
      }
      assert.strictEqual(k.kernel.stats().openFiles, 1, "only the console is left")
    }))

  it.effect("socket options: stored and read back; SO_TYPE, SO_ERROR; ENOPROTOOPT and EINVAL", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const fd = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.deepStrictEqual(yield* getInt(g, fd, SOL_SOCKET, so.SO_REUSEADDR), { error: 0, value: 0 })
      assert.strictEqual(yield* setInt(g, fd, SOL_SOCKET, so.SO_REUSEADDR, 7), 0)
      assert.deepStrictEqual(yield* getInt(g, fd, SOL_SOCKET, so.SO_REUSEADDR), { error: 0, value: 1 })
      assert.strictEqual(yield* setInt(g, fd, SOL_SOCKET, so.SO_RCVBUF, 100000), 0)
      assert.deepStrictEqual(yield* getInt(g, fd, SOL_SOCKET, so.SO_RCVBUF), { error: 0, value: 100000 })
      assert.strictEqual(yield* setInt(g, fd, SOL_SOCKET, so.SO_SNDBUF, 0), Errno.EINVAL)
      assert.deepStrictEqual(yield* getInt(g, fd, SOL_SOCKET, so.SO_SNDBUF), { error: 0, value: 32768 })
      assert.deepStrictEqual(yield* getInt(g, fd, SOL_SOCKET, so.SO_TYPE), { error: 0, value: SOCK_STREAM })
      assert.deepStrictEqual(yield* getInt(g, fd, SOL_SOCKET, so.SO_ERROR), { error: 0, value: 0 })
      assert.strictEqual(yield* setInt(g, fd, netinet.IPPROTO_TCP, 1, 1), 0, "TCP_NODELAY")
      assert.deepStrictEqual(yield* getInt(g, fd, netinet.IPPROTO_TCP, 1), { error: 0, value: 1 })
      assert.strictEqual(yield* setInt(g, fd, SOL_SOCKET, 0x7777, 1), Errno.ENOPROTOOPT)
      assert.strictEqual(yield* setInt(g, fd, SOL_SOCKET, so.SO_TYPE, 1), Errno.ENOPROTOOPT)
      assert.strictEqual((yield* g.call(SYS.setsockopt, fd, SOL_SOCKET, so.SO_REUSEPORT, g.mem.alloc(8), 2)).error, Errno.EINVAL)
      const u = yield* socket(g, AF_LOCAL, SOCK_STREAM)
      assert.strictEqual(yield* setInt(g, u, netinet.IPPROTO_TCP, 1, 1), Errno.ENOPROTOOPT)
    }))

  it.effect("connect, accept and a data round trip between two processes; names; EOF after close; EPIPE + SIGPIPE", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const server = yield* k.guest({ comm: "server" })
      const client = yield* k.guest({ comm: "client" })
      const l = yield* listener(server, 8080)
      const c = yield* socket(client, AF_INET, SOCK_STREAM)
      assert.strictEqual((yield* nameOf(client, SYS.getpeername, c)).error, Errno.ENOTCONN)
      assert.strictEqual(yield* poll(server, l, pollEvents.POLLIN), 0)
      assert.strictEqual(yield* connect(client, c, sin("127.0.0.1", 8080)), 0)
      assert.strictEqual(yield* poll(server, l, pollEvents.POLLIN), pollEvents.POLLIN, "a pending connection")
      const clientName = (yield* nameOf(client, SYS.getsockname, c)).addr
      assert.deepStrictEqual([...clientName.subarray(4, 8)], [127, 0, 0, 1])
      const a = yield* accept(server, l)
      assert.strictEqual(a.error, 0)
      assert.deepStrictEqual(a.addr, clientName, "accept gives the client's address")
      assert.deepStrictEqual((yield* nameOf(client, SYS.getpeername, c)).addr, sin("127.0.0.1", 8080))
      assert.deepStrictEqual((yield* nameOf(server, SYS.getsockname, a.fd)).addr, sin("127.0.0.1", 8080))
      assert.strictEqual(yield* connect(client, c, sin("127.0.0.1", 8080)), Errno.EISCONN)

      assert.strictEqual(ok(yield* write(client, c, text("ping")), "write"), 4)
      assert.strictEqual(decode((yield* read(server, a.fd, 100)).data), "ping")
      // sendto / recvfrom on a connected stream (no address)
      const msg = text("pong!")
      assert.strictEqual(ok(yield* server.call(SYS.sendto, a.fd, server.mem.alloc(msg), msg.length, 0, 0, 0), "sendto"), 5)
      const buf = client.mem.alloc(16)
      const from = client.mem.alloc(16)
      const fromlen = client.mem.alloc(i32(16))
      assert.strictEqual(ok(yield* client.call(SYS.recvfrom, c, buf, 16, 0, from, fromlen), "recvfrom"), 5)
      assert.strictEqual(decode(peek(client, buf, 5)), "pong!")
      assert.strictEqual(peekI32(client, fromlen), 0, "a stream has no source address")

      // FIONREAD and fstat size
      yield* write(client, c, text("abc"))
      const n = server.mem.alloc(4)
      assert.strictEqual((yield* server.call(SYS.ioctl, a.fd, 0x4004667f, n)).error, 0)
      assert.strictEqual(peekI32(server, n), 3)

      // the client closes (FIN): the server reads the rest, then end of file; its next write is
      // answered by a RST (ECONNRESET once), and writing after that is EPIPE with SIGPIPE
      yield* client.call(SYS.close, c)
      assert.strictEqual(decode((yield* read(server, a.fd, 100)).data), "abc")
      assert.strictEqual((yield* read(server, a.fd, 100)).data.length, 0)
      assert.strictEqual(ok(yield* write(server, a.fd, text("late")), "write after the peer closed"), 4)
      assert.deepStrictEqual(server.mem.signals, [])
      assert.strictEqual((yield* read(server, a.fd, 100)).error, Errno.ECONNRESET)
      assert.strictEqual((yield* read(server, a.fd, 100)).data.length, 0, "reported once, then end of file")
      assert.strictEqual((yield* write(server, a.fd, text("x"))).error, Errno.EPIPE)
      assert.deepStrictEqual(server.mem.signals, [signals.SIGPIPE])
      // MSG_NOSIGNAL: no signal
      const x = server.mem.alloc(text("x"))
      assert.strictEqual((yield* server.call(SYS.sendto, a.fd, x, 1, so.MSG_NOSIGNAL, 0, 0)).error, Errno.EPIPE)
      assert.deepStrictEqual(server.mem.signals, [signals.SIGPIPE])
    }))

  it.effect("connect: ECONNREFUSED with no listener, ENETUNREACH off the loopback, the backlog full; INADDR_ANY reaches a wildcard listener", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const c = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* connect(g, c, sin("127.0.0.1", 9)), Errno.ECONNREFUSED)
      // the refusal took the control block with it (tcp_close): this socket connects no more
      assert.strictEqual(yield* connect(g, c, sin("127.0.0.1", 9)), Errno.EINVAL)
      assert.strictEqual(yield* connect(g, yield* socket(g, AF_INET, SOCK_STREAM), sin("8.8.8.8", 53)), Errno.ENETUNREACH)
      // a bound but not listening socket refuses too
      const b = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, b, sin("127.0.0.1", 9)), 0)
      assert.strictEqual(yield* connect(g, yield* socket(g, AF_INET, SOCK_STREAM), sin("127.0.0.1", 9)), Errno.ECONNREFUSED)
      // backlog 2: tcp_input takes a SYN while at most 2 wait, so 3 get in at once; a fourth waits in
      // line (non-blocking: EINPROGRESS, EALREADY, not writable) and is established by the next accept
      const l = yield* listener(g, 5000, 2)
      for (let i = 0; i < 3; i++) {
        const s = yield* socket(g, AF_INET, SOCK_STREAM)
        assert.strictEqual(yield* connect(g, s, sin("127.0.0.1", 5000)), 0, `connection ${i}`)
      }
      const extra = yield* socket(g, AF_INET, SOCK_STREAM | so.SOCK_NONBLOCK)
      assert.strictEqual(yield* connect(g, extra, sin("127.0.0.1", 5000)), Errno.EINPROGRESS)
      assert.strictEqual(yield* poll(g, extra, pollEvents.POLLOUT), 0, "not yet established")
      assert.deepStrictEqual(yield* getInt(g, extra, SOL_SOCKET, so.SO_ERROR), { error: 0, value: 0 })
      assert.strictEqual(yield* connect(g, extra, sin("127.0.0.1", 5000)), Errno.EALREADY)
      assert.strictEqual((yield* read(g, extra, 1)).error, Errno.EAGAIN)
      assert.strictEqual((yield* write(g, extra, text("x"))).error, Errno.ENOTCONN)
      assert.strictEqual((yield* accept(g, l)).error, 0)
      assert.strictEqual(yield* poll(g, extra, pollEvents.POLLOUT), pollEvents.POLLOUT, "room again after an accept")
      assert.deepStrictEqual(yield* getInt(g, extra, SOL_SOCKET, so.SO_ERROR), { error: 0, value: 0 })
      assert.strictEqual(yield* connect(g, extra, sin("127.0.0.1", 5000)), Errno.EISCONN)
      assert.deepStrictEqual((yield* nameOf(g, SYS.getpeername, extra)).addr, sin("127.0.0.1", 5000))
      // a wildcard listener answers 127.0.0.5 and 0.0.0.0
      const w = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, w, sin("0.0.0.0", 5001)), 0)
      assert.strictEqual(yield* listen(g, w), 0)
      const c1 = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* connect(g, c1, sin("127.0.0.5", 5001)), 0)
      const c2 = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* connect(g, c2, sin("0.0.0.0", 5001)), 0)
      const a1 = yield* accept(g, w)
      assert.deepStrictEqual([...(yield* nameOf(g, SYS.getsockname, a1.fd)).addr.subarray(4, 8)], [127, 0, 0, 5])
      // listen with no bind gets an ephemeral port
      const e = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* listen(g, e), 0)
      assert.isTrue(portOf((yield* nameOf(g, SYS.getsockname, e)).addr) >= 49152)
      // accept on a socket not listening: EINVAL
      assert.strictEqual((yield* accept(g, c1)).error, Errno.EINVAL)
    }))

  it.effect("O_NONBLOCK: accept and read EAGAIN, connect EINPROGRESS (already connected), paccept flags", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const l = yield* socket(g, AF_INET, SOCK_STREAM | so.SOCK_NONBLOCK)
      assert.strictEqual(yield* bind(g, l, sin("127.0.0.1", 6000)), 0)
      assert.strictEqual(yield* listen(g, l), 0)
      assert.strictEqual((yield* accept(g, l)).error, Errno.EAGAIN)
      const c = yield* socket(g, AF_INET, SOCK_STREAM | so.SOCK_NONBLOCK)
      assert.strictEqual(yield* connect(g, c, sin("127.0.0.1", 6000)), Errno.EINPROGRESS)
      assert.strictEqual(yield* poll(g, c, pollEvents.POLLOUT), pollEvents.POLLOUT)
      assert.deepStrictEqual(yield* getInt(g, c, SOL_SOCKET, so.SO_ERROR), { error: 0, value: 0 })
      assert.strictEqual(yield* connect(g, c, sin("127.0.0.1", 6000)), Errno.EISCONN)
      assert.strictEqual((yield* read(g, c, 10)).error, Errno.EAGAIN)
      // paccept with SOCK_CLOEXEC and without SOCK_NONBLOCK: a blocking, close-on-exec socket
      const r = yield* g.call(SYS.paccept, l, 0, 0, 0, so.SOCK_CLOEXEC)
      const a = ok(r, "paccept")
      assert.strictEqual((yield* g.call(SYS.fcntl, a, fcntlCmds.F_GETFD, 0)).retval0, BigInt(fdFlags.FD_CLOEXEC))
      assert.strictEqual(Number((yield* g.call(SYS.fcntl, a, fcntlCmds.F_GETFL, 0)).retval0) & openFlags.O_NONBLOCK, 0)
      assert.strictEqual((yield* g.call(SYS.paccept, l, 0, 0, 0, 0x1234)).error, Errno.EINVAL)
      // plain accept inherits the listener's O_NONBLOCK
      const c2 = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* connect(g, c2, sin("127.0.0.1", 6000)), 0)
      const a2 = yield* accept(g, l)
      assert.strictEqual(Number((yield* g.call(SYS.fcntl, a2.fd, fcntlCmds.F_GETFL, 0)).retval0) & openFlags.O_NONBLOCK, openFlags.O_NONBLOCK)
    }))

  it.effect("shutdown: SHUT_WR gives the peer end of file and this side EPIPE; ENOTCONN and EINVAL", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const l = yield* listener(g, 6100)
      const c = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual((yield* g.call(SYS.shutdown, c, so.SHUT_WR)).error, Errno.ENOTCONN)
      assert.strictEqual(yield* connect(g, c, sin("127.0.0.1", 6100)), 0)
      const a = (yield* accept(g, l)).fd
      assert.strictEqual((yield* g.call(SYS.shutdown, c, 7)).error, Errno.EINVAL)
      yield* write(g, c, text("bye"))
      assert.strictEqual((yield* g.call(SYS.shutdown, c, so.SHUT_WR)).error, 0)
      assert.strictEqual((yield* g.call(SYS.sendto, c, g.mem.alloc(1), 1, so.MSG_NOSIGNAL, 0, 0)).error, Errno.EPIPE)
      assert.strictEqual(decode((yield* read(g, a, 10)).data), "bye")
      assert.strictEqual((yield* read(g, a, 10)).data.length, 0, "end of file")
      // the other direction still works
      yield* write(g, a, text("ok"))
      assert.strictEqual(decode((yield* read(g, c, 10)).data), "ok")
    }))

  it.live("blocking accept and read wake when a connection or data comes, and lwpExit ends them with EINTR", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const server = yield* k.guest()
      const client = yield* k.guest()
      const l = yield* listener(server, 6200)
      const acc = yield* inLwp(server, SYS.accept, l, 0, 0)
      yield* untilAsleep(acc.lwp)
      const c = yield* socket(client, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* connect(client, c, sin("127.0.0.1", 6200)), 0)
      const a = ok(yield* Fiber.join(acc.fiber), "accept")
      const buf = server.mem.alloc(16)
      const rd = yield* inLwp(server, SYS.read, a, buf, 16)
      yield* untilAsleep(rd.lwp)
      yield* write(client, c, text("wake"))
      assert.strictEqual(ok(yield* Fiber.join(rd.fiber), "read"), 4)
      assert.strictEqual(decode(peek(server, buf, 4)), "wake")

      const acc2 = yield* inLwp(server, SYS.accept, l, 0, 0)
      const rd2 = yield* inLwp(server, SYS.recvfrom, a, buf, 16, 0, 0, 0)
      yield* untilAsleep(acc2.lwp)
      yield* untilAsleep(rd2.lwp)
      yield* k.hypervisor.lwpExit(server.handle)
      assert.strictEqual((yield* Fiber.join(acc2.fiber)).error, Errno.EINTR)
      assert.strictEqual((yield* Fiber.join(rd2.fiber)).error, Errno.EINTR)
    }))

  it.live("a writer blocked on a full peer buffer goes on when the reader reads", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const l = yield* listener(g, 6300)
      const c = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* connect(g, c, sin("127.0.0.1", 6300)), 0)
      const a = (yield* accept(g, l)).fd
      const size = 32768 + 1000
      const w = yield* inLwp(g, SYS.write, c, g.mem.alloc(new Uint8Array(size).fill(7)), size)
      yield* untilAsleep(w.lwp)
      assert.strictEqual(yield* poll(g, c, pollEvents.POLLOUT), 0, "not writable while full")
      let got = 0
      while (got < size) got += (yield* read(g, a, 65536)).data.length
      assert.strictEqual(ok(yield* Fiber.join(w.fiber), "write"), size)
    }))

  it.effect("F_SETOWN + O_ASYNC: SIGIO to the owner when a connection and when data arrive", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const server = yield* k.guest()
      const client = yield* k.guest()
      const l = yield* listener(server, 6400)
      assert.strictEqual((yield* server.call(SYS.fcntl, l, fcntlCmds.F_SETOWN, server.pid)).error, 0)
      assert.strictEqual((yield* server.call(SYS.fcntl, l, fcntlCmds.F_SETFL, openFlags.O_ASYNC)).error, 0)
      const c = yield* socket(client, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* connect(client, c, sin("127.0.0.1", 6400)), 0)
      assert.deepStrictEqual(server.mem.signals, [signals.SIGIO])
      assert.strictEqual(signals.SIGIO, 23)
      // the accepted socket takes the listener's O_ASYNC and owner
      const a = (yield* accept(server, l)).fd
      assert.strictEqual((yield* server.call(SYS.fcntl, a, fcntlCmds.F_GETOWN, 0)).retval0, BigInt(server.pid))
      yield* write(client, c, text("data"))
      assert.deepStrictEqual(server.mem.signals, [signals.SIGIO, signals.SIGIO])
      // without O_ASYNC, none; a process group owner (negative) reaches the group
      yield* server.call(SYS.fcntl, a, fcntlCmds.F_SETFL, 0)
      yield* write(client, c, text("quiet"))
      assert.deepStrictEqual(server.mem.signals, [signals.SIGIO, signals.SIGIO])
      yield* server.call(SYS.fcntl, a, fcntlCmds.F_SETFL, openFlags.O_ASYNC)
      // a group of its own (a new guest is in group 0 with every other guest)
      assert.strictEqual((yield* server.call(SYS.setsid)).retval0, BigInt(server.pid))
      yield* server.call(SYS.fcntl, a, fcntlCmds.F_SETOWN, -server.proc.pgid)
      yield* write(client, c, text("group"))
      assert.deepStrictEqual(server.mem.signals, [signals.SIGIO, signals.SIGIO, signals.SIGIO])
      assert.deepStrictEqual(client.mem.signals, [])
    }))
})

describe("AF_INET connection setup and teardown", () => {
  it.live("a blocking connect to a full queue sleeps until an accept makes room; EALREADY meanwhile; ECONNREFUSED when the listener goes", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const server = yield* k.guest({ comm: "server" })
      const client = yield* k.guest({ comm: "client" })
      const l = yield* listener(server, 7200, 0)
      // backlog 0: one connection waits in the queue; it is established before any accept
      const c1 = yield* socket(client, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* connect(client, c1, sin("127.0.0.1", 7200)), 0)
      const c2 = yield* socket(client, AF_INET, SOCK_STREAM)
      const addr = sin("127.0.0.1", 7200)
      const second = yield* inLwp(client, SYS.connect, c2, client.mem.alloc(addr), addr.length)
      yield* untilAsleep(second.lwp)
      assert.strictEqual(yield* connect(client, c2, addr), Errno.EALREADY)
      assert.strictEqual((yield* nameOf(client, SYS.getpeername, c2)).error, Errno.ENOTCONN)
      const a1 = yield* accept(server, l)
      assert.strictEqual(a1.error, 0)
      assert.strictEqual((yield* Fiber.join(second.fiber)).error, 0, "the accept made room")
      assert.deepStrictEqual((yield* nameOf(client, SYS.getpeername, c2)).addr, addr)

      // c2 now waits in the queue; a third connect waits in line until the listener closes
      const c3 = yield* socket(client, AF_INET, SOCK_STREAM)
      const third = yield* inLwp(client, SYS.connect, c3, client.mem.alloc(addr), addr.length)
      yield* untilAsleep(third.lwp)
      assert.strictEqual((yield* server.call(SYS.close, l)).error, 0)
      assert.strictEqual((yield* Fiber.join(third.fiber)).error, Errno.ECONNREFUSED)
      assert.strictEqual(yield* connect(client, c3, addr), Errno.EINVAL, "a failed connection is gone")
      // c2 was established but never accepted: the closing listener resets it
      assert.strictEqual((yield* read(client, c2, 10)).error, Errno.ECONNRESET)
      // the accepted one is not touched
      assert.strictEqual(ok(yield* write(client, c1, text("still")), "write"), 5)
      assert.strictEqual(decode((yield* read(server, a1.fd, 10)).data), "still")
    }))

  it.live("a connect waiting in line is ended by lwpExit with EINTR", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const server = yield* k.guest()
      const client = yield* k.guest()
      yield* listener(server, 7300, 0)
      const c1 = yield* socket(client, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* connect(client, c1, sin("127.0.0.1", 7300)), 0)
      const c2 = yield* socket(client, AF_INET, SOCK_STREAM)
      const addr = sin("127.0.0.1", 7300)
      const waiting = yield* inLwp(client, SYS.connect, c2, client.mem.alloc(addr), addr.length)
      yield* untilAsleep(waiting.lwp)
      yield* k.hypervisor.lwpExit(client.handle)
      assert.strictEqual((yield* Fiber.join(waiting.fiber)).error, Errno.EINTR)
    }))

  it.effect("a non-blocking connect refused while in line: SO_ERROR ECONNREFUSED once, readable and writable", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const l = yield* listener(g, 7400, 0)
      const c1 = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* connect(g, c1, sin("127.0.0.1", 7400)), 0)
      const c = yield* socket(g, AF_INET, SOCK_STREAM | so.SOCK_NONBLOCK)
      assert.strictEqual(yield* connect(g, c, sin("127.0.0.1", 7400)), Errno.EINPROGRESS)
      const all = pollEvents.POLLIN | pollEvents.POLLOUT
      assert.strictEqual(yield* poll(g, c, all), 0)
      assert.strictEqual((yield* g.call(SYS.close, l)).error, 0)
      assert.strictEqual(yield* poll(g, c, all), all)
      assert.deepStrictEqual(yield* getInt(g, c, SOL_SOCKET, so.SO_ERROR), { error: 0, value: Errno.ECONNREFUSED })
      assert.deepStrictEqual(yield* getInt(g, c, SOL_SOCKET, so.SO_ERROR), { error: 0, value: 0 }, "cleared")
      assert.strictEqual((yield* read(g, c, 10)).data.length, 0, "disconnected: end of file")
      assert.strictEqual((yield* g.call(SYS.sendto, c, g.mem.alloc(1), 1, so.MSG_NOSIGNAL, 0, 0)).error, Errno.EPIPE)
    }))

  it.effect("a non-blocking connect to a port nobody listens on: EINPROGRESS, then SO_ERROR ECONNREFUSED; its port is free", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const c = yield* socket(g, AF_INET, SOCK_STREAM | so.SOCK_NONBLOCK)
      assert.strictEqual(yield* bind(g, c, sin("127.0.0.1", 7450)), 0)
      assert.strictEqual(yield* connect(g, c, sin("127.0.0.1", 7451)), Errno.EINPROGRESS)
      const all = pollEvents.POLLIN | pollEvents.POLLOUT
      assert.strictEqual(yield* poll(g, c, all), all, "the error makes it readable and writable")
      assert.deepStrictEqual(yield* getInt(g, c, SOL_SOCKET, so.SO_ERROR), { error: 0, value: Errno.ECONNREFUSED })
      assert.deepStrictEqual(yield* getInt(g, c, SOL_SOCKET, so.SO_ERROR), { error: 0, value: 0 }, "reported once")
      assert.strictEqual(yield* connect(g, c, sin("127.0.0.1", 7451)), Errno.EINVAL)
      // tcp_close freed the control block: its address may be bound again
      assert.strictEqual(yield* bind(g, yield* socket(g, AF_INET, SOCK_STREAM), sin("127.0.0.1", 7450)), 0)
    }))

  it.effect("MSG_PEEK reports a pending error without clearing it", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const c = yield* socket(g, AF_INET, SOCK_STREAM | so.SOCK_NONBLOCK)
      assert.strictEqual(yield* connect(g, c, sin("127.0.0.1", 7460)), Errno.EINPROGRESS)
      const buf = g.mem.alloc(8)
      const recv = (flags: number) => Effect.map(g.call(SYS.recvfrom, c, buf, 8, flags, 0, 0), (r) => r.error)
      assert.strictEqual(yield* recv(so.MSG_PEEK), Errno.ECONNREFUSED)
      assert.strictEqual(yield* recv(so.MSG_PEEK), Errno.ECONNREFUSED, "still pending after a peek")
      assert.strictEqual(yield* recv(0), Errno.ECONNREFUSED)
      assert.strictEqual(yield* recv(0), 0, "cleared by the plain receive: end of file")
    }))

  it.effect("a connection reset before accept: accept answers ECONNABORTED, the next one is accepted, the port is free", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const l = yield* listener(g, 7470)
      const linger = new Uint8Array(8)
      view(linger).setInt32(0, 1, true) // l_onoff 1, l_linger 0
      const gone = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* connect(g, gone, sin("127.0.0.1", 7470)), 0)
      assert.strictEqual((yield* g.call(SYS.setsockopt, gone, SOL_SOCKET, so.SO_LINGER, g.mem.alloc(linger), 8)).error, 0)
      const kept = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* connect(g, kept, sin("127.0.0.1", 7470)), 0)
      assert.strictEqual((yield* g.call(SYS.close, gone)).error, 0)
      assert.strictEqual((yield* accept(g, l)).error, Errno.ECONNABORTED)
      const a = yield* accept(g, l)
      assert.strictEqual(a.error, 0)
      yield* write(g, kept, text("hi"))
      assert.strictEqual(decode((yield* read(g, a.fd, 10)).data), "hi")

      // a connection reset after accept frees its port too: once the listener goes, a plain bind gets it
      assert.strictEqual((yield* g.call(SYS.setsockopt, kept, SOL_SOCKET, so.SO_LINGER, g.mem.alloc(linger), 8)).error, 0)
      assert.strictEqual((yield* g.call(SYS.close, kept)).error, 0)
      assert.strictEqual((yield* g.call(SYS.close, l)).error, 0)
      assert.strictEqual(yield* bind(g, yield* socket(g, AF_INET, SOCK_STREAM), sin("127.0.0.1", 7470)), 0)
      assert.strictEqual((yield* read(g, a.fd, 10)).error, Errno.ECONNRESET)
    }))

  it.effect("SO_LINGER 0: close resets the peer — queued data first, then ECONNRESET once (read or SO_ERROR), then EPIPE + SIGPIPE", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const server = yield* k.guest()
      const client = yield* k.guest()
      const l = yield* listener(server, 7500)
      const pair = () =>
        Effect.gen(function*() {
          const c = yield* socket(client, AF_INET, SOCK_STREAM)
          assert.strictEqual(yield* connect(client, c, sin("127.0.0.1", 7500)), 0)
          return { c, a: (yield* accept(server, l)).fd }
        })
      const linger = new Uint8Array(8)
      view(linger).setInt32(0, 1, true) // l_onoff 1, l_linger 0
      const setLinger = (fd: number) => server.call(SYS.setsockopt, fd, SOL_SOCKET, so.SO_LINGER, server.mem.alloc(linger), 8)

      const first = yield* pair()
      yield* write(server, first.a, text("last words"))
      assert.strictEqual((yield* setLinger(first.a)).error, 0)
      assert.strictEqual((yield* server.call(SYS.close, first.a)).error, 0)
      assert.strictEqual(decode((yield* read(client, first.c, 100)).data), "last words", "what was queued comes first")
      assert.strictEqual((yield* read(client, first.c, 100)).error, Errno.ECONNRESET)
      assert.strictEqual((yield* read(client, first.c, 100)).data.length, 0)
      assert.strictEqual((yield* write(client, first.c, text("x"))).error, Errno.EPIPE)
      assert.deepStrictEqual(client.mem.signals, [signals.SIGPIPE])
      assert.strictEqual((yield* nameOf(client, SYS.getpeername, first.c)).error, Errno.ENOTCONN)

      const second = yield* pair()
      assert.strictEqual((yield* setLinger(second.a)).error, 0)
      assert.strictEqual((yield* server.call(SYS.close, second.a)).error, 0)
      assert.deepStrictEqual(yield* getInt(client, second.c, SOL_SOCKET, so.SO_ERROR), { error: 0, value: Errno.ECONNRESET })
      assert.deepStrictEqual(yield* getInt(client, second.c, SOL_SOCKET, so.SO_ERROR), { error: 0, value: 0 })
      assert.strictEqual((yield* read(client, second.c, 100)).data.length, 0, "cleared by SO_ERROR: end of file")

      // a plain close with data unread: end of file for the peer, no reset until it writes
      const third = yield* pair()
      yield* write(client, third.c, text("never read"))
      assert.strictEqual((yield* server.call(SYS.close, third.a)).error, 0)
      assert.strictEqual((yield* read(client, third.c, 100)).data.length, 0)
      assert.deepStrictEqual(yield* getInt(client, third.c, SOL_SOCKET, so.SO_ERROR), { error: 0, value: 0 })
      assert.strictEqual(ok(yield* write(client, third.c, text("hello?")), "write"), 6)
      assert.deepStrictEqual(yield* getInt(client, third.c, SOL_SOCKET, so.SO_ERROR), { error: 0, value: Errno.ECONNRESET })
      assert.deepStrictEqual(client.mem.signals, [signals.SIGPIPE], "no second SIGPIPE")
    }))

  it.live("a writer blocked on a full buffer when the peer closes: EPIPE with SIGPIPE (the part written is lost), the reset follows", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const l = yield* listener(g, 7600)
      const c = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* connect(g, c, sin("127.0.0.1", 7600)), 0)
      const a = (yield* accept(g, l)).fd
      const size = 32768 + 4096
      const w = yield* inLwp(g, SYS.write, c, g.mem.alloc(new Uint8Array(size)), size)
      yield* untilAsleep(w.lwp)
      assert.strictEqual((yield* g.call(SYS.close, a)).error, 0)
      // sosend wakes from sbwait to SS_CANTSENDMORE; dofilewrite keeps a partial count only for EINTR/EWOULDBLOCK
      assert.strictEqual((yield* Fiber.join(w.fiber)).error, Errno.EPIPE)
      assert.deepStrictEqual(g.mem.signals, [signals.SIGPIPE])
      assert.strictEqual((yield* read(g, c, 10)).error, Errno.ECONNRESET)
    }))

  it.effect("a write to a closed peer: empty, nothing happens; one the send buffer takes, its count; larger, EPIPE", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const l = yield* listener(g, 7650)
      const pair = () =>
        Effect.gen(function*() {
          const c = yield* socket(g, AF_INET, SOCK_STREAM)
          assert.strictEqual(yield* connect(g, c, sin("127.0.0.1", 7650)), 0)
          const a = (yield* accept(g, l)).fd
          assert.strictEqual((yield* g.call(SYS.close, a)).error, 0)
          return c
        })
      const small = yield* pair()
      assert.strictEqual(ok(yield* g.call(SYS.sendto, small, g.mem.alloc(1), 0, 0, 0, 0), "empty send"), 0)
      assert.deepStrictEqual(yield* getInt(g, small, SOL_SOCKET, so.SO_ERROR), { error: 0, value: 0 }, "no segment, no RST")
      assert.strictEqual(ok(yield* write(g, small, new Uint8Array(32768)), "a write that fits"), 32768)
      assert.deepStrictEqual(yield* getInt(g, small, SOL_SOCKET, so.SO_ERROR), { error: 0, value: Errno.ECONNRESET })
      assert.deepStrictEqual(g.mem.signals, [])

      const big = yield* pair()
      assert.strictEqual((yield* write(g, big, new Uint8Array(32769))).error, Errno.EPIPE)
      assert.deepStrictEqual(g.mem.signals, [signals.SIGPIPE])
      assert.strictEqual((yield* read(g, big, 10)).error, Errno.ECONNRESET)
    }))
})

describe("AF_LOCAL sockets", () => {
  it.effect("socketpair: two connected stream sockets; EOPNOTSUPP for AF_INET", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const sv = g.mem.alloc(8)
      assert.strictEqual((yield* g.call(SYS.socketpair, AF_LOCAL, SOCK_STREAM, 0, sv)).error, 0)
      const [a, b] = [peekI32(g, sv), peekI32(g, sv + 4n)]
      assert.deepStrictEqual([a, b], [3, 4])
      yield* write(g, a, text("to b"))
      assert.strictEqual(decode((yield* read(g, b, 10)).data), "to b")
      yield* write(g, b, text("to a"))
      assert.strictEqual(decode((yield* read(g, a, 10)).data), "to a")
      assert.strictEqual((yield* g.call(SYS.socketpair, AF_INET, SOCK_STREAM, 0, sv)).error, Errno.EOPNOTSUPP)
      yield* g.call(SYS.close, a)
      assert.strictEqual((yield* read(g, b, 10)).data.length, 0)
    }))

  it.effect("a full queue (3 * backlog / 2 + 1) refuses at once; a closed peer makes writes EPIPE at once", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const l = yield* socket(g, AF_LOCAL, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, l, sun("/tmp/q")), 0)
      assert.strictEqual(yield* listen(g, l, 2), 0)
      const clients: Array<number> = []
      for (let i = 0; i < 4; i++) {
        const c = yield* socket(g, AF_LOCAL, SOCK_STREAM)
        assert.strictEqual(yield* connect(g, c, sun("/tmp/q")), 0, `connection ${i}`)
        clients.push(c)
      }
      const extra = yield* socket(g, AF_LOCAL, SOCK_STREAM)
      assert.strictEqual(yield* connect(g, extra, sun("/tmp/q")), Errno.ECONNREFUSED, "unp_connect does not wait")
      const a = (yield* accept(g, l)).fd
      assert.strictEqual(yield* connect(g, extra, sun("/tmp/q")), 0)
      assert.strictEqual((yield* g.call(SYS.close, a)).error, 0)
      const first = clients[0] ?? -1
      assert.strictEqual((yield* read(g, first, 10)).data.length, 0)
      assert.strictEqual((yield* write(g, first, text("x"))).error, Errno.EPIPE)
      assert.deepStrictEqual(g.mem.signals, [signals.SIGPIPE])
    }))

  it.effect("bind to a path: an S_IFSOCK node; EADDRINUSE when the path exists; connect by path; ENOENT, ECONNREFUSED, ENOTSOCK", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const l = yield* socket(g, AF_LOCAL, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, l, sun("/tmp/sock")), 0)
      const sb = g.mem.alloc(Structs.stat.size)
      assert.strictEqual((yield* g.call(SYS.__stat50, g.mem.allocString("/tmp/sock"), sb)).error, 0)
      const modeOff = Structs.stat.fields.find((f) => f.name === "st_mode")?.offset ?? 0
      assert.strictEqual(peekI32(g, sb + BigInt(modeOff)) & modeBits.S_IFMT, modeBits.S_IFSOCK)
      const other = yield* socket(g, AF_LOCAL, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, other, sun("/tmp/sock")), Errno.EADDRINUSE)
      const c = yield* socket(g, AF_LOCAL, SOCK_STREAM)
      assert.strictEqual(yield* connect(g, c, sun("/tmp/sock")), Errno.ECONNREFUSED, "bound, not listening")
      assert.strictEqual(yield* connect(g, c, sun("/tmp/nothing")), Errno.ENOENT)
      assert.strictEqual(yield* connect(g, c, sun("/tmp")), Errno.ENOTSOCK)
      assert.strictEqual(yield* listen(g, l), 0)
      assert.strictEqual(yield* connect(g, c, sun("/tmp/sock")), 0)
      const a = yield* accept(g, l)
      assert.strictEqual(a.error, 0)
      assert.deepStrictEqual((yield* nameOf(g, SYS.getsockname, l)).addr, new Uint8Array([12, AF_LOCAL, ...text("/tmp/sock"), 0]))
      assert.deepStrictEqual((yield* nameOf(g, SYS.getpeername, c)).addr.subarray(2, 11), text("/tmp/sock"))
      yield* write(g, c, text("local"))
      assert.strictEqual(decode((yield* read(g, a.fd, 10)).data), "local")
      // an unbound listener: EINVAL
      const u = yield* socket(g, AF_LOCAL, SOCK_STREAM)
      assert.strictEqual(yield* listen(g, u), Errno.EINVAL)
      // closing the listener leaves the node; connecting to it is refused
      yield* g.call(SYS.close, l)
      const c2 = yield* socket(g, AF_LOCAL, SOCK_STREAM)
      assert.strictEqual(yield* connect(g, c2, sun("/tmp/sock")), Errno.ECONNREFUSED)
      assert.strictEqual((yield* g.call(SYS.unlink, g.mem.allocString("/tmp/sock"))).error, 0)
      assert.strictEqual(yield* bind(g, c2, sun("/tmp/sock")), 0)
    }))

  it.effect("datagrams: sendto / recvfrom with the sender's path, recvmsg", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const r = yield* socket(g, AF_LOCAL, SOCK_DGRAM)
      assert.strictEqual(yield* bind(g, r, sun("/tmp/dg")), 0)
      const s = yield* socket(g, AF_LOCAL, SOCK_DGRAM)
      assert.strictEqual(yield* bind(g, s, sun("/tmp/dg-sender")), 0)
      const to = sun("/tmp/dg")
      const data = text("datagram")
      assert.strictEqual(ok(yield* g.call(SYS.sendto, s, g.mem.alloc(data), data.length, 0, g.mem.alloc(to), to.length), "sendto"), 8)
      assert.strictEqual((yield* g.call(SYS.sendto, s, g.mem.alloc(data), data.length, 0, 0, 0)).error, Errno.ENOTCONN)
      const buf = g.mem.alloc(4)
      const from = g.mem.alloc(106)
      const fromlen = g.mem.alloc(i32(106))
      // a short buffer cuts the record (the rest is gone)
      assert.strictEqual(ok(yield* g.call(SYS.recvfrom, r, buf, 4, 0, from, fromlen), "recvfrom"), 4)
      assert.strictEqual(decode(peek(g, buf, 4)), "data")
      assert.strictEqual(decode(peek(g, from + 2n, 14)), "/tmp/dg-sender")
      assert.strictEqual((yield* g.call(SYS.recvfrom, r, buf, 4, so.MSG_DONTWAIT, 0, 0)).error, Errno.EAGAIN)
    }))
})

describe("poll readiness and more datagrams", () => {
  it.effect("poll: POLLIN with data, POLLOUT while there is room, both after the peer closed; never POLLHUP", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const l = yield* listener(g, 6500)
      const c = yield* socket(g, AF_INET, SOCK_STREAM)
      const all = pollEvents.POLLIN | pollEvents.POLLOUT
      assert.strictEqual(yield* poll(g, c, all), 0, "an unconnected stream is neither readable nor writable")
      assert.strictEqual(yield* connect(g, c, sin("127.0.0.1", 6500)), 0)
      const a = (yield* accept(g, l)).fd
      assert.strictEqual(yield* poll(g, a, all), pollEvents.POLLOUT)
      yield* write(g, c, text("x"))
      assert.strictEqual(yield* poll(g, a, all), all)
      yield* g.call(SYS.close, c)
      // end of file, and still writable (a TCP close is half a close); sopoll has no POLLHUP
      const hup = all | pollEvents.POLLHUP
      assert.strictEqual(yield* poll(g, a, hup), all)
      assert.strictEqual(ok(yield* write(g, a, text("x")), "write"), 1)
      assert.strictEqual(yield* poll(g, a, hup), all, "reset: an error is readable and writable")
    }))

  it.effect("AF_LOCAL datagram socketpair and connect by path: write / read, ENOTCONN, EISCONN with an address", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const r = yield* socket(g, AF_LOCAL, SOCK_DGRAM)
      assert.strictEqual(yield* bind(g, r, sun("/tmp/dgc")), 0)
      const s = yield* socket(g, AF_LOCAL, SOCK_DGRAM)
      assert.strictEqual((yield* write(g, s, text("nowhere"))).error, Errno.ENOTCONN)
      assert.strictEqual(yield* connect(g, s, sun("/tmp/dgc")), 0)
      yield* write(g, s, text("one"))
      yield* write(g, s, text("two"))
      assert.strictEqual(decode((yield* read(g, r, 10)).data), "one", "one record per read")
      assert.strictEqual(decode((yield* read(g, r, 10)).data), "two")
      const to = sun("/tmp/dgc")
      assert.strictEqual((yield* g.call(SYS.sendto, s, g.mem.alloc(3), 3, 0, g.mem.alloc(to), to.length)).error, Errno.EISCONN)
      // a stream socket cannot connect to a datagram one
      const st = yield* socket(g, AF_LOCAL, SOCK_STREAM)
      assert.strictEqual(yield* connect(g, st, sun("/tmp/dgc")), Errno.EPROTOTYPE)
      const sv = g.mem.alloc(8)
      assert.strictEqual((yield* g.call(SYS.socketpair, AF_LOCAL, SOCK_DGRAM, 0, sv)).error, 0)
      yield* write(g, peekI32(g, sv), text("pair"))
      assert.strictEqual(decode((yield* read(g, peekI32(g, sv + 4n), 10)).data), "pair")
    }))
})

describe("AF_INET6 and AF_INET datagram sockets", () => {
  it.effect("AF_INET6 stream on ::1 and ::; EADDRNOTAVAIL for another address", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const l = yield* socket(g, AF_INET6, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, l, sin6(false, 7100)), 0)
      assert.strictEqual(yield* listen(g, l), 0)
      const c = yield* socket(g, AF_INET6, SOCK_STREAM)
      assert.strictEqual(yield* connect(g, c, sin6(true, 7100)), 0)
      const a = yield* accept(g, l)
      assert.strictEqual(a.addr.length, 28)
      assert.strictEqual(a.addr[23], 1, "from ::1")
      yield* write(g, a.fd, text("six"))
      assert.strictEqual(decode((yield* read(g, c, 10)).data), "six")
      const bad = sin6(false, 7101)
      bad[8] = 0x20
      const d = yield* socket(g, AF_INET6, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, d, bad), Errno.EADDRNOTAVAIL)
      // v4 and v6 ports are separate
      const v4 = yield* socket(g, AF_INET, SOCK_STREAM)
      assert.strictEqual(yield* bind(g, v4, sin("127.0.0.1", 7100)), 0)
    }))

  it.effect("UDP: sendto / recvfrom with the source address, connect sets the default destination, sendmsg / recvmsg", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const g = yield* k.guest()
      const r = yield* socket(g, AF_INET, SOCK_DGRAM)
      assert.strictEqual(yield* bind(g, r, sin("127.0.0.1", 5353)), 0)
      const s = yield* socket(g, AF_INET, SOCK_DGRAM)
      const to = sin("127.0.0.1", 5353)
      const data = text("hello udp")
      assert.strictEqual((yield* g.call(SYS.sendto, s, g.mem.alloc(data), data.length, 0, 0, 0)).error, Errno.EDESTADDRREQ)
      assert.strictEqual(ok(yield* g.call(SYS.sendto, s, g.mem.alloc(data), data.length, 0, g.mem.alloc(to), 16), "sendto"), 9)
      const sender = (yield* nameOf(g, SYS.getsockname, s)).addr
      const buf = g.mem.alloc(64)
      const from = g.mem.alloc(16)
      const fromlen = g.mem.alloc(i32(16))
      assert.strictEqual(ok(yield* g.call(SYS.recvfrom, r, buf, 64, 0, from, fromlen), "recvfrom"), 9)
      assert.strictEqual(decode(peek(g, buf, 9)), "hello udp")
      assert.deepStrictEqual(peek(g, from, 16).subarray(2, 4), sender.subarray(2, 4))
      assert.deepStrictEqual([...peek(g, from, 8).subarray(4, 8)], [127, 0, 0, 1])
      // to a port nobody has: dropped
      const none = sin("127.0.0.1", 5354)
      assert.strictEqual(ok(yield* g.call(SYS.sendto, s, g.mem.alloc(data), 9, 0, g.mem.alloc(none), 16), "sendto"), 9)
      // connect, then write; recvmsg with an iovec pair
      assert.strictEqual(yield* connect(g, s, to), 0)
      yield* write(g, s, text("abcdef"))
      const iov = new Uint8Array(32)
      const b1 = g.mem.alloc(2)
      const b2 = g.mem.alloc(10)
      view(iov).setBigUint64(0, b1, true)
      view(iov).setBigUint64(8, 2n, true)
      view(iov).setBigUint64(16, b2, true)
      view(iov).setBigUint64(24, 10n, true)
      const msg = new Uint8Array(48)
      const name = g.mem.alloc(16)
      view(msg).setBigUint64(0, name, true)
      view(msg).setUint32(8, 16, true)
      view(msg).setBigUint64(16, g.mem.alloc(iov), true)
      view(msg).setInt32(24, 2, true)
      const msgp = g.mem.alloc(msg)
      assert.strictEqual(ok(yield* g.call(SYS.recvmsg, r, msgp, 0), "recvmsg"), 6)
      assert.strictEqual(decode(peek(g, b1, 2)) + decode(peek(g, b2, 4)), "abcdef")
      assert.strictEqual(peekI32(g, msgp + 8n), 16)
      // sendmsg from the same iovecs: EISCONN with an address on a connected socket, fine without
      assert.strictEqual((yield* g.call(SYS.sendmsg, s, msgp, 0)).error, Errno.EISCONN)
      view(msg).setBigUint64(0, 0n, true)
      assert.strictEqual(ok(yield* g.call(SYS.sendmsg, s, g.mem.alloc(msg), 0), "sendmsg"), 12)
      assert.strictEqual(ok(yield* g.call(SYS.recvfrom, r, buf, 64, 0, 0, 0), "recvfrom"), 12)
      assert.strictEqual(decode(peek(g, buf, 6)), "abcdef")
    }))
})
