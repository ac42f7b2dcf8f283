/**
 * The sockets family: socket (__socket30), socketpair, bind, listen,
 * accept, paccept, connect, shutdown, getsockname, getpeername,
 * setsockopt, getsockopt, sendto, recvfrom, sendmsg, recvmsg, sendmmsg,
 * recvmmsg. The sockets
 * themselves are net/Socket.ts (read, write, poll, fstat and close go
 * through their FileOps); these calls move arguments, addresses and
 * options between the caller and them.
 *
 * Addresses are copied in and out as NetBSD does: a length given in is
 * checked against SOCK_MAXADDRLEN (EINVAL); an address copied out is cut
 * to the caller's length, and the length written back is what was copied
 * (copyout_sockname), never more than asked. Control data (msg_control)
 * is not supported: recvmsg returns none (msg_controllen 0), sendmsg with
 * any is EOPNOTSUPP. paccept's signal mask is not applied. A traced
 * caller gets a KTR_GENIO record of the data each message moved, as
 * do_sys_sendmsg_so and do_sys_recvmsg_so write one.
 */
import { Errno, fileFlagsCompat, fileFlagsKernel, netinet, signals, socket as so, Structs, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { File } from "../fd/File.ts"
import { releaseFile } from "../fd/FileTable.ts"
import {
  decodeSockAddr,
  encodeSockAddr,
  anyAddr,
  SOCK_MAXADDRLEN,
  type SockAddr
} from "../net/Address.ts"
import {
  accept as acceptOn,
  awaitConnection,
  bindInet,
  bindLocal,
  boundAt,
  connectInet,
  connectLocal,
  listen as listenOn,
  makeSocketFile,
  optionKey,
  pair,
  receive,
  send,
  shutdown as shutdownOn,
  Socket,
  socketOf
} from "../net/Socket.ts"
import { checkAccess, VWRITE } from "../vfs/Access.ts"
import { AT_FDCWD, lookupAt, nodeAt } from "../vfs/At.ts"
import { makeSocketNode } from "../vfs/Create.ts"
import { CHUNK, type Segment, SSIZE_MAX } from "./descriptors/Transfer.ts"
import { decodeTimespec, TIMESPEC_SIZE } from "../abi/Timespec.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { copyin, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import { recordGenio, UIO_READ, UIO_WRITE } from "../ktrace/Ktrace.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

const { SOCK_CLOEXEC, SOCK_NONBLOCK, SOCK_NOSIGPIPE, SOCK_FLAGS_MASK } = so
const SOCK_FLAGS = SOCK_CLOEXEC | SOCK_NONBLOCK | SOCK_NOSIGPIPE
/** The listener's file flags an accepted socket's file takes. */
const INHERITED = fileFlagsKernel.FNONBLOCK | fileFlagsKernel.FNOSIGPIPE | fileFlagsCompat.FASYNC

/** netinet/tcp.h */
export const TCP_NODELAY = 1
export const TCP_MAXSEG = 2
/** netinet6/in6.h: IPV6_V6ONLY, on by default in NetBSD. */
export const IPV6_V6ONLY = 27

const IOVEC_SIZE = Structs.iovec.size
const IOV_MAX = 1024

// ----------------------------------------------------------------- helpers

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength)

const int32 = (n: number): Uint8Array => {
  const b = new Uint8Array(4)
  view(b).setInt32(0, n, true)
  return b
}

interface SockFd {
  readonly fd: number
  readonly file: File
  readonly socket: Socket
}

/** fd_getsock: EBADF when not open, ENOTSOCK when not a socket. */
const getSock = (ctx: SyscallContext, fd: number): Effect.Effect<SockFd, SysErr> =>
  Effect.suspend(() => {
    const file = ctx.proc.fds.get(fd)?.file
    if (file === undefined) return sysErr(Errno.EBADF)
    const socket = socketOf(file)
    return socket === undefined ? sysErr(Errno.ENOTSOCK) : Effect.succeed({ fd, file, socket })
  })

/** The kernel file flags SOCK_NONBLOCK and SOCK_NOSIGPIPE stand for. */
const fileFlags = (flags: number): number =>
  ((flags & SOCK_NONBLOCK) !== 0 ? fileFlagsKernel.FNONBLOCK : 0) |
  ((flags & SOCK_NOSIGPIPE) !== 0 ? fileFlagsKernel.FNOSIGPIPE : 0)

/** Puts a new file (whose reference the table takes) on the lowest free descriptor; EMFILE closes it again. */
const installNew = (ctx: SyscallContext, file: File, cloexec: boolean): Effect.Effect<number, SysErr> =>
  Effect.suspend(() => {
    const fd = ctx.proc.fds.lowestFree()
    if (fd === undefined) return Effect.andThen(releaseFile(file), sysErr(Errno.EMFILE))
    ctx.proc.fds.install(fd, file, cloexec)
    return Effect.succeed(fd)
  })

/** sockargs: the caller's sockaddr of `len` bytes (EINVAL beyond SOCK_MAXADDRLEN or under the header). */
const addrIn: (ctx: SyscallContext, s: Socket, ptr: bigint, len: number) => Effect.Effect<SockAddr, SysErr> = Effect.fnUntraced(
  function*(ctx, s, ptr, len) {
    if (len > SOCK_MAXADDRLEN || len < 2) return yield* sysErr(Errno.EINVAL)
    const bytes = yield* copyin(ctx, ptr, len)
    return yield* decodeSockAddr(s.domain, bytes)
  })

/** The caller's socklen_t at `lenPtr` (nothing when `addrPtr` is NULL). */
const lenIn = (ctx: SyscallContext, addrPtr: bigint, lenPtr: bigint): Effect.Effect<number | undefined, SysErr> =>
  addrPtr === 0n ? Effect.succeed(undefined) : Effect.map(copyin(ctx, lenPtr, 4), (b) => view(b).getUint32(0, true))

/** copyout_sockname: at most `len` bytes of `addr`, then the length copied. */
const addrOut = Effect.fnUntraced(
  function*(ctx: SyscallContext, addrPtr: bigint, lenPtr: bigint, len: number | undefined, addr: SockAddr | undefined) {
    if (addrPtr === 0n || len === undefined) return
    const bytes = addr === undefined ? new Uint8Array(0) : encodeSockAddr(addr)
    const n = Math.min(len, bytes.length)
    if (n > 0) yield* copyout(ctx, addrPtr, bytes.subarray(0, n))
    yield* copyout(ctx, lenPtr, int32(n))
  })

/** The AF_LOCAL socket bound at `path` (the node looked up under the VFS lock, write access checked). */
const localTarget = (ctx: SyscallContext, path: string) => ctx.kernel.vfs.exclusive(localNode(ctx, path))

const localNode = Effect.fnUntraced(function*(ctx: SyscallContext, path: string) {
  if (path === "") return yield* sysErr(Errno.ENOENT)
  const node = yield* nodeAt(ctx, AT_FDCWD, path, true)
  if (node.type !== "sock") return yield* sysErr(Errno.ENOTSOCK)
  yield* checkAccess(ctx.proc, node, VWRITE)
  return node
})

// ---------------------------------------------------------------- socket

const checkKind = (domain: number, type: number, protocol: number): Effect.Effect<void, SysErr> => {
  if (domain !== so.AF_INET && domain !== so.AF_INET6 && domain !== so.AF_LOCAL) return sysErr(Errno.EAFNOSUPPORT)
  if (type !== so.SOCK_STREAM && type !== so.SOCK_DGRAM) return sysErr(protocol === 0 ? Errno.EPROTOTYPE : Errno.EPROTONOSUPPORT)
  if (protocol === 0) return Effect.void
  if (domain === so.AF_LOCAL) return sysErr(Errno.EPROTONOSUPPORT)
  const want = type === so.SOCK_STREAM ? netinet.IPPROTO_TCP : netinet.IPPROTO_UDP
  return protocol === want ? Effect.void : sysErr(Errno.EPROTONOSUPPORT)
}

/** The type argument split into the type and its SOCK_* flags (EINVAL for an unknown flag). */
const splitType = (raw: number): Effect.Effect<{ readonly type: number; readonly flags: number }, SysErr> => {
  const flags = (raw & SOCK_FLAGS_MASK) >>> 0
  if ((flags & ~SOCK_FLAGS) !== 0) return sysErr(Errno.EINVAL)
  return Effect.succeed({ type: raw & ~SOCK_FLAGS_MASK, flags })
}

/** __socket30(domain, type, protocol) */
const socket: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const domain = ctx.args.int(0)
    const { type, flags } = yield* splitType(ctx.args.int(1))
    const protocol = ctx.args.int(2)
    yield* checkKind(domain, type, protocol)
    const s = new Socket(ctx.kernel, domain, type, protocol, ctx.proc)
    return yield* installNew(ctx, makeSocketFile(s, fileFlags(flags)), (flags & SOCK_CLOEXEC) !== 0)
  })

/** socketpair(domain, type, protocol, rsv): AF_LOCAL only (EOPNOTSUPP for inet). */
const socketpair: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const domain = ctx.args.int(0)
    const { type, flags } = yield* splitType(ctx.args.int(1))
    const protocol = ctx.args.int(2)
    yield* checkKind(domain, type, protocol)
    if (domain !== so.AF_LOCAL) return yield* sysErr(Errno.EOPNOTSUPP)
    const a = new Socket(ctx.kernel, domain, type, protocol, ctx.proc)
    const b = new Socket(ctx.kernel, domain, type, protocol, ctx.proc)
    pair(a, b)
    const cloexec = (flags & SOCK_CLOEXEC) !== 0
    const fa = yield* installNew(ctx, makeSocketFile(a, fileFlags(flags)), cloexec)
    const fileB = makeSocketFile(b, fileFlags(flags))
    const fb = yield* installNew(ctx, fileB, cloexec).pipe(
      Effect.tapError(() => {
        const fileA = ctx.proc.fds.remove(fa)
        return fileA === undefined ? Effect.void : releaseFile(fileA)
      })
    )
    const out = new Uint8Array(8)
    view(out).setInt32(0, fa, true)
    view(out).setInt32(4, fb, true)
    yield* copyout(ctx, ctx.args.ptr(3), out).pipe(
      Effect.tapError(() =>
        Effect.forEach([fa, fb], (fd) => {
          const f = ctx.proc.fds.remove(fd)
          return f === undefined ? Effect.void : releaseFile(f)
        }, { discard: true })
      )
    )
  })

// ------------------------------------------------------ bind, listen, connect

/** bind(s, name, namelen) */
const bind: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const { socket: s } = yield* getSock(ctx, ctx.args.int(0))
    const addr = yield* addrIn(ctx, s, ctx.args.ptr(1), ctx.args.uint(2))
    if (addr.family !== so.AF_LOCAL) return yield* bindInet(s, addr)
    if (s.local !== undefined) return yield* sysErr(Errno.EINVAL)
    const path = addr.path
    if (path === "") return yield* sysErr(Errno.ENOENT)
    const node = yield* ctx.kernel.vfs.exclusive(
      Effect.flatMap(lookupAt(ctx, AT_FDCWD, path, false), (l) => makeSocketNode(ctx.proc, l, 0o777 & ~ctx.proc.umask))
    )
    bindLocal(s, path, node)
  })

/** listen(s, backlog) */
const listen: SyscallImpl = (ctx) =>
  Effect.flatMap(getSock(ctx, ctx.args.int(0)), ({ socket: s }) => listenOn(s, ctx.args.int(1)))

/**
 * connect(s, name, namelen): a non-blocking inet stream connect answers
 * EINPROGRESS (whether it got in at once, waits for room in the
 * listener's queue, or was refused: SO_ERROR tells); a blocking one waits
 * until it is established or refused.
 */
const connect: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const { file, socket: s } = yield* getSock(ctx, ctx.args.int(0))
    const addr = yield* addrIn(ctx, s, ctx.args.ptr(1), ctx.args.uint(2))
    if (addr.family === so.AF_LOCAL) {
      const node = yield* localTarget(ctx, addr.path)
      return yield* connectLocal(s, node, addr.path)
    }
    yield* connectInet(s, addr)
    if (!s.isStream) return
    if ((file.flag & fileFlagsKernel.FNONBLOCK) !== 0) return yield* sysErr(Errno.EINPROGRESS)
    yield* awaitConnection(ctx, s)
  })

/**
 * accept and paccept: the new socket's file takes the listener's flags
 * (accept: O_NONBLOCK, O_NOSIGPIPE, O_ASYNC) or the flags given (paccept),
 * and the listener's F_SETOWN owner (sonewconn copies so_pgid).
 */
const doAccept = Effect.fnUntraced(
  function*(ctx: SyscallContext, flags: number, clearFlags: number) {
    if ((flags & ~SOCK_FLAGS) !== 0) return yield* sysErr(Errno.EINVAL)
    const { file, socket: l } = yield* getSock(ctx, ctx.args.int(0))
    const namePtr = ctx.args.ptr(1)
    const lenPtr = ctx.args.ptr(2)
    const len = yield* lenIn(ctx, namePtr, lenPtr)
    const s = yield* acceptOn(ctx, l, file)
    const kernelFlags = (file.flag & ~clearFlags & INHERITED) | fileFlags(flags)
    const newFile = makeSocketFile(s, kernelFlags)
    newFile.owner = file.owner
    const fd = yield* installNew(ctx, newFile, (flags & SOCK_CLOEXEC) !== 0)
    yield* addrOut(ctx, namePtr, lenPtr, len, s.peerAddr)
    return fd
  })

/** accept(s, name, anamelen) */
const accept: SyscallImpl = (ctx) => doAccept(ctx, 0, 0)

/** paccept(s, name, anamelen, mask, flags): the signal mask is not applied. */
const paccept: SyscallImpl = (ctx) => doAccept(ctx, ctx.args.int(4), fileFlagsKernel.FNONBLOCK | fileFlagsKernel.FNOSIGPIPE)

/** shutdown(s, how) */
const shutdown: SyscallImpl = (ctx) =>
  Effect.flatMap(getSock(ctx, ctx.args.int(0)), ({ socket: s }) => shutdownOn(s, ctx.args.int(1)))

/** getsockname(fd, asa, alen): an unbound socket shows its family's unspecified address. */
const getsockname: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const { socket: s } = yield* getSock(ctx, ctx.args.int(0))
    const len = yield* lenIn(ctx, ctx.args.ptr(1), ctx.args.ptr(2))
    yield* addrOut(ctx, ctx.args.ptr(1), ctx.args.ptr(2), len, s.local ?? anyAddr(s.domain))
  })

/** getpeername(fd, asa, alen): ENOTCONN unless connected. */
const getpeername: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const { socket: s } = yield* getSock(ctx, ctx.args.int(0))
    if (!s.connected || s.peerAddr === undefined) return yield* sysErr(Errno.ENOTCONN)
    const len = yield* lenIn(ctx, ctx.args.ptr(1), ctx.args.ptr(2))
    yield* addrOut(ctx, ctx.args.ptr(1), ctx.args.ptr(2), len, s.peerAddr)
  })

// ------------------------------------------------------------ options

const BOOLEAN_OPTIONS = [
  so.SO_DEBUG,
  so.SO_KEEPALIVE,
  so.SO_DONTROUTE,
  so.SO_BROADCAST,
  so.SO_REUSEADDR,
  so.SO_REUSEPORT,
  so.SO_OOBINLINE,
  so.SO_TIMESTAMP,
  so.SO_NOSIGPIPE,
  so.SO_USELOOPBACK
] as ReadonlyArray<number>


/** The size an option's value has (ints are 4 bytes; sizes checked exactly, as sockopt_getint does). */
const optionSize = (level: number, name: number): number =>
  level === so.SOL_SOCKET && (name === so.SO_SNDTIMEO || name === so.SO_RCVTIMEO)
    ? 16
    : level === so.SOL_SOCKET && name === so.SO_LINGER
    ? 8
    : 4

/** setsockopt(s, level, name, val, valsize) */
const setsockopt: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const { socket: s } = yield* getSock(ctx, ctx.args.int(0))
    const level = ctx.args.int(1)
    const name = ctx.args.int(2)
    const valsize = ctx.args.uint(4)
    const size = optionSize(level, name)
    const known = level === so.SOL_SOCKET
      ? BOOLEAN_OPTIONS.includes(name) || [so.SO_SNDBUF, so.SO_RCVBUF, so.SO_SNDLOWAT, so.SO_RCVLOWAT, so.SO_LINGER, so.SO_SNDTIMEO, so.SO_RCVTIMEO].includes(name as never)
      : level === netinet.IPPROTO_TCP
      ? s.isInet && s.isStream
      : level === netinet.IPPROTO_IP
      ? s.domain === so.AF_INET
      : level === netinet.IPPROTO_IPV6 && s.domain === so.AF_INET6
    if (!known) return yield* sysErr(Errno.ENOPROTOOPT)
    if (valsize !== size) return yield* sysErr(Errno.EINVAL)
    const bytes = yield* copyin(ctx, ctx.args.ptr(3), size)
    const value = view(bytes).getInt32(0, true)
    if (level === so.SOL_SOCKET) {
      if (BOOLEAN_OPTIONS.includes(name)) {
        s.options = value !== 0 ? s.options | name : s.options & ~name
        return
      }
      if (name === so.SO_SNDBUF || name === so.SO_RCVBUF) {
        if (value <= 0) return yield* sysErr(Errno.EINVAL)
        if (name === so.SO_SNDBUF) s.sndbuf = value
        else s.rcvbuf = value
        // more room may have been made for a writer
        yield* (s.peer ?? s).changed(false)
        yield* s.changed(false)
        return
      }
      if (name === so.SO_LINGER) s.options = value !== 0 ? s.options | so.SO_LINGER : s.options & ~so.SO_LINGER
    }
    s.stored.set(optionKey(level, name), bytes)
  })

/** getsockopt(s, level, name, val, avalsize) */
const getsockopt: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const { socket: s } = yield* getSock(ctx, ctx.args.int(0))
    const level = ctx.args.int(1)
    const name = ctx.args.int(2)
    const valPtr = ctx.args.ptr(3)
    const lenPtr = ctx.args.ptr(4)
    const asked = valPtr === 0n ? 0 : view(yield* copyin(ctx, lenPtr, 4)).getUint32(0, true)
    let value: Uint8Array | undefined = s.stored.get(optionKey(level, name))
    if (level === so.SOL_SOCKET) {
      if (BOOLEAN_OPTIONS.includes(name) || name === so.SO_ACCEPTCONN) value = int32(s.has(name) ? 1 : 0)
      else if (name === so.SO_SNDBUF) value = int32(s.sndbuf)
      else if (name === so.SO_RCVBUF) value = int32(s.rcvbuf)
      else if (name === so.SO_TYPE) value = int32(s.type)
      else if (name === so.SO_ERROR) {
        value = int32(s.error)
        s.error = 0
      } else if (value === undefined) {
        value = name === so.SO_SNDLOWAT
          ? int32(2048)
          : name === so.SO_RCVLOWAT
          ? int32(1)
          : name === so.SO_LINGER
          ? new Uint8Array(8)
          : name === so.SO_SNDTIMEO || name === so.SO_RCVTIMEO
          ? new Uint8Array(16)
          : undefined
      }
    } else if (level === netinet.IPPROTO_TCP) {
      if (!(s.isInet && s.isStream)) return yield* sysErr(Errno.ENOPROTOOPT)
      if (value === undefined && name === TCP_NODELAY) value = int32(0)
      if (value === undefined && name === TCP_MAXSEG) value = int32(16344)
    } else if (level === netinet.IPPROTO_IPV6 && s.domain === so.AF_INET6) {
      if (value === undefined && name === IPV6_V6ONLY) value = int32(1)
    }
    if (value === undefined) return yield* sysErr(Errno.ENOPROTOOPT)
    if (valPtr === 0n) return
    const n = Math.min(asked, value.length)
    if (n > 0) yield* copyout(ctx, valPtr, value.subarray(0, n))
    yield* copyout(ctx, lenPtr, int32(n))
  })

// --------------------------------------------------------------- transfer

/** The caller's iovec array (1..IOV_MAX entries, total at most SSIZE_MAX). */
const iovecs: (ctx: SyscallContext, iovp: bigint, iovcnt: number) => Effect.Effect<ReadonlyArray<Segment>, SysErr> = Effect.fnUntraced(
  function*(ctx, iovp, iovcnt) {
    if (iovcnt < 0 || iovcnt > IOV_MAX) return yield* sysErr(Errno.EMSGSIZE)
    if (iovcnt === 0) return []
    const bytes = yield* copyin(ctx, iovp, iovcnt * IOVEC_SIZE)
    const segs: Array<Segment> = []
    let total = 0n
    for (let i = 0; i < iovcnt; i++) {
      const base = view(bytes).getBigUint64(i * IOVEC_SIZE, true)
      const len = view(bytes).getBigUint64(i * IOVEC_SIZE + 8, true)
      total += len
      if (total > SSIZE_MAX) return yield* sysErr(Errno.EINVAL)
      segs.push({ base, len })
    }
    return segs
  })

const totalOf = (segs: ReadonlyArray<Segment>): number => Number(segs.reduce((n, s) => n + s.len, 0n))

/** Copies `segs` in: at most `max` bytes. */
const gather = Effect.fnUntraced(
  function*(ctx: SyscallContext, segs: ReadonlyArray<Segment>, max: number) {
    const total = Math.min(totalOf(segs), max)
    const out = new Uint8Array(total)
    let at = 0
    for (const seg of segs) {
      if (at >= total) break
      const n = Math.min(Number(seg.len), total - at)
      if (n > 0) out.set(yield* copyin(ctx, seg.base, n), at)
      at += n
    }
    return out
  })

/** Copies `data` out over `segs`. */
const scatter = Effect.fnUntraced(
  function*(ctx: SyscallContext, segs: ReadonlyArray<Segment>, data: Uint8Array) {
    let at = 0
    for (const seg of segs) {
      if (at >= data.length) break
      const n = Math.min(Number(seg.len), data.length - at)
      if (n > 0) yield* copyout(ctx, seg.base, data.subarray(at, at + n))
      at += n
    }
  })

/** sosend's data: a datagram as one record, a stream in chunks (a short count when interrupted or would block after progress). */
const sendData: (
  ctx: SyscallContext,
  sock: SockFd,
  segs: ReadonlyArray<Segment>,
  flags: number,
  to: SockAddr | undefined,
  target: Socket | undefined
) => Effect.Effect<number, SysErr> = Effect.fnUntraced(
  function*(ctx, { file, socket: s }, segs, flags, to, target) {
    const total = totalOf(segs)
    if (!s.isStream) {
      if (total > s.sndbuf) return yield* sysErr(Errno.EMSGSIZE)
      return yield* send(ctx, s, file, yield* gather(ctx, segs, total), flags, to, target)
    }
    let done = 0
    let segIndex = 0
    let segPos = 0n
    // a zero-byte send still checks the connection
    if (total === 0) return yield* send(ctx, s, file, new Uint8Array(0), flags)
    while (done < total) {
      const seg = segs[segIndex]
      if (seg === undefined) break
      if (segPos >= seg.len) {
        segIndex++
        segPos = 0n
        continue
      }
      const want = Math.min(Number(seg.len - segPos), CHUNK)
      const data = yield* copyin(ctx, seg.base + segPos, want)
      const r = yield* Effect.result(send(ctx, s, file, data, flags))
      if (r._tag === "Failure") {
        if (done > 0 && (r.failure.errno === Errno.EINTR || r.failure.errno === Errno.EAGAIN)) return done
        return yield* Effect.fail(r.failure)
      }
      done += r.success
      segPos += BigInt(r.success)
      if (r.success < want) return done
    }
    return done
  })

/**
 * sosend: a stream in chunks (a short count when interrupted or would
 * block after progress), a datagram as one record. EPIPE raises SIGPIPE
 * unless MSG_NOSIGNAL, SO_NOSIGPIPE or the file's FNOSIGPIPE.
 */
const sendSegs: (
  ctx: SyscallContext,
  sock: SockFd,
  segs: ReadonlyArray<Segment>,
  flags: number,
  to: SockAddr | undefined
) => Effect.Effect<number, SysErr> = Effect.fnUntraced(
  function*(ctx, sock, segs, flags, to) {
    const { file, socket: s } = sock
    let target: Socket | undefined
    if (to !== undefined && to.family === so.AF_LOCAL && !s.isStream) {
      const node = yield* localTarget(ctx, to.path)
      target = boundAt(node)
      if (target === undefined) return yield* sysErr(Errno.ECONNREFUSED)
      if (target.type !== s.type) return yield* sysErr(Errno.EPROTOTYPE)
    }
    return yield* sendData(ctx, sock, segs, flags, to, target).pipe(
      Effect.tapError((e) =>
        e.errno === Errno.EPIPE && (flags & so.MSG_NOSIGNAL) === 0 && !s.has(so.SO_NOSIGPIPE) &&
          (file.flag & fileFlagsKernel.FNOSIGPIPE) === 0
          ? ctx.mem.raise(signals.SIGPIPE)
          : Effect.void
      )
    )
  })

interface RecvResult {
  readonly count: number
  readonly from: SockAddr | undefined
  readonly truncated: boolean
}

/** soreceive: what is there (MSG_WAITALL: until the buffers are full or end of file) into `segs`. */
const recvSegs: (ctx: SyscallContext, sock: SockFd, segs: ReadonlyArray<Segment>, flags: number) => Effect.Effect<RecvResult, SysErr> = Effect.fnUntraced(
  function*(ctx, sock, segs, flags) {
    const { file, socket: s } = sock
    const total = Math.min(totalOf(segs), CHUNK)
    const first = yield* receive(ctx, s, file, total, flags)
    let data = first.data
    if (s.isStream && (flags & so.MSG_WAITALL) !== 0 && (flags & so.MSG_PEEK) === 0) {
      const parts = [data]
      let have = data.length
      while (have < total && data.length > 0) {
        const r = yield* Effect.result(receive(ctx, s, file, total - have, flags))
        if (r._tag === "Failure") {
          if (r.failure.errno === Errno.EINTR || r.failure.errno === Errno.EAGAIN) break
          return yield* Effect.fail(r.failure)
        }
        data = r.success.data
        parts.push(data)
        have += data.length
      }
      const all = new Uint8Array(have)
      let at = 0
      for (const p of parts) {
        all.set(p, at)
        at += p.length
      }
      data = all
    }
    yield* scatter(ctx, segs, data)
    // a stream reports no source address (PR_ADDR is a datagram protocol's)
    return { count: data.length, from: s.isStream ? undefined : first.from, truncated: first.truncated }
  })

/** sendto(s, buf, len, flags, to, tolen) */
const sendto: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const sock = yield* getSock(ctx, ctx.args.int(0))
    const len = ctx.args.ulong(2)
    if (len > SSIZE_MAX) return yield* sysErr(Errno.EINVAL)
    const toPtr = ctx.args.ptr(4)
    const to = toPtr === 0n ? undefined : yield* addrIn(ctx, sock.socket, toPtr, ctx.args.uint(5))
    const segs = [{ base: ctx.args.ptr(1), len }]
    const n = yield* sendSegs(ctx, sock, segs, ctx.args.int(3), to)
    if (ctx.proc.trace !== undefined) yield* recordGenio(ctx, sock.fd, UIO_WRITE, segs, n)
    return n
  })

/** recvfrom(s, buf, len, flags, from, fromlenaddr) */
const recvfrom: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const sock = yield* getSock(ctx, ctx.args.int(0))
    const len = ctx.args.ulong(2)
    if (len > SSIZE_MAX) return yield* sysErr(Errno.EINVAL)
    const fromPtr = ctx.args.ptr(4)
    const lenPtr = ctx.args.ptr(5)
    const fromLen = yield* lenIn(ctx, fromPtr, lenPtr)
    const segs = [{ base: ctx.args.ptr(1), len }]
    const r = yield* recvSegs(ctx, sock, segs, ctx.args.int(3))
    if (ctx.proc.trace !== undefined) yield* recordGenio(ctx, sock.fd, UIO_READ, segs, r.count)
    yield* addrOut(ctx, fromPtr, lenPtr, fromLen, r.from)
    return r.count
  })

const MSGHDR_SIZE = Structs.msghdr.size

interface Msghdr {
  readonly name: bigint
  readonly namelen: number
  readonly iov: bigint
  readonly iovlen: number
  readonly control: bigint
  readonly controllen: number
}

const msghdrIn = (ctx: SyscallContext, ptr: bigint): Effect.Effect<Msghdr, SysErr> =>
  Effect.map(copyin(ctx, ptr, MSGHDR_SIZE), (b) => ({
    name: view(b).getBigUint64(0, true),
    namelen: view(b).getUint32(8, true),
    iov: view(b).getBigUint64(16, true),
    iovlen: view(b).getInt32(24, true),
    control: view(b).getBigUint64(32, true),
    controllen: view(b).getUint32(40, true)
  }))

/** One message out (do_sys_sendmsg_so): no control data (EOPNOTSUPP with any). */
const sendOne: (ctx: SyscallContext, sock: SockFd, msg: Msghdr, flags: number) => Effect.Effect<number, SysErr> = Effect.fnUntraced(
  function*(ctx, sock, msg, flags) {
    if (msg.control !== 0n && msg.controllen > 0) return yield* sysErr(Errno.EOPNOTSUPP)
    const segs = yield* iovecs(ctx, msg.iov, msg.iovlen)
    const to = msg.name === 0n ? undefined : yield* addrIn(ctx, sock.socket, msg.name, msg.namelen)
    const n = yield* sendSegs(ctx, sock, segs, flags, to)
    // no iovecs, no record (do_sys_sendmsg_so: iovsz > 0)
    if (ctx.proc.trace !== undefined && segs.length > 0) yield* recordGenio(ctx, sock.fd, UIO_WRITE, segs, n)
    return n
  })

/**
 * One message in (do_sys_recvmsg_so) for the msghdr at `msgPtr`: the
 * source address and its length, no control data (msg_controllen 0),
 * MSG_TRUNC in msg_flags.
 */
const recvOne: (ctx: SyscallContext, sock: SockFd, msgPtr: bigint, msg: Msghdr, flags: number) => Effect.Effect<number, SysErr> = Effect.fnUntraced(
  function*(ctx, sock, msgPtr, msg, flags) {
    const segs = yield* iovecs(ctx, msg.iov, msg.iovlen)
    const r = yield* recvSegs(ctx, sock, segs, flags)
    if (ctx.proc.trace !== undefined && segs.length > 0) yield* recordGenio(ctx, sock.fd, UIO_READ, segs, r.count)
    let namelen = 0
    if (msg.name !== 0n && r.from !== undefined) {
      const bytes = encodeSockAddr(r.from)
      namelen = Math.min(msg.namelen, bytes.length)
      if (namelen > 0) yield* copyout(ctx, msg.name, bytes.subarray(0, namelen))
    }
    yield* copyout(ctx, msgPtr + 8n, int32(namelen))
    yield* copyout(ctx, msgPtr + 40n, int32(0))
    yield* copyout(ctx, msgPtr + 44n, int32(r.truncated ? so.MSG_TRUNC : 0))
    return r.count
  })

/** sendmsg(s, msg, flags) */
const sendmsg: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const sock = yield* getSock(ctx, ctx.args.int(0))
    const msg = yield* msghdrIn(ctx, ctx.args.ptr(1))
    return yield* sendOne(ctx, sock, msg, ctx.args.int(2))
  })

/** recvmsg(s, msg, flags) */
const recvmsg: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const sock = yield* getSock(ctx, ctx.args.int(0))
    const msgPtr = ctx.args.ptr(1)
    return yield* recvOne(ctx, sock, msgPtr, yield* msghdrIn(ctx, msgPtr), ctx.args.int(2))
  })

/** struct mmsghdr: a msghdr and the byte count of its message (msg_len, padded to 8). */
const MMSGHDR_SIZE = MSGHDR_SIZE + 8
/** Messages one sendmmsg or recvmmsg handles at most (the rest is left for the next call). */
const MMSG_MAX = 1024

/**
 * The end of sendmmsg and recvmmsg: the count done. An error after some
 * messages is kept as the socket's pending error (SO_ERROR, the next call)
 * and the call succeeds with what it did.
 */
const mmsgResult = (s: Socket, done: number, error: SysErr | undefined): Effect.Effect<number, SysErr> => {
  if (error === undefined) return Effect.succeed(done)
  s.error = error.errno
  return done > 0 ? Effect.succeed(done) : Effect.fail(error)
}

/** sendmmsg(s, mmsg, vlen, flags): each message as sendmsg, its count into msg_len. */
const sendmmsg: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const sock = yield* getSock(ctx, ctx.args.int(0))
    const base = ctx.args.ptr(1)
    const vlen = Math.min(ctx.args.uint(2), MMSG_MAX)
    const flags = ctx.args.uint(3) & so.MSG_USERFLAGS
    let done = 0
    for (; done < vlen; done++) {
      const at = base + BigInt(done * MMSGHDR_SIZE)
      const r = yield* Effect.result(
        Effect.flatMap(msghdrIn(ctx, at), (msg) => sendOne(ctx, sock, msg, flags)).pipe(
          Effect.tap((n) => copyout(ctx, at + BigInt(MSGHDR_SIZE), int32(n)))
        )
      )
      if (r._tag === "Failure") return yield* mmsgResult(sock.socket, done, r.failure)
    }
    return yield* mmsgResult(sock.socket, done, undefined)
  })

/**
 * recvmmsg(s, mmsg, vlen, flags, timeout): each message as recvmsg, its
 * count into msg_len. MSG_WAITFORONE: only the first may wait. EAGAIN after
 * a message is not an error. The timeout is looked at between messages
 * only (it does not bound a wait), as NetBSD's.
 */
const recvmmsg: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const timeoutPtr = ctx.args.ptr(4)
    const deadline = timeoutPtr === 0n
      ? undefined
      : Effect.map(copyin(ctx, timeoutPtr, TIMESPEC_SIZE), (b) => {
        const t = decodeTimespec(b, 0)
        return ctx.kernel.clock.realtimeNs() + t.sec * 1_000_000_000n + t.nsec
      })
    const until = deadline === undefined ? undefined : yield* deadline
    const sock = yield* getSock(ctx, ctx.args.int(0))
    const base = ctx.args.ptr(1)
    const vlen = Math.min(ctx.args.uint(2), MMSG_MAX)
    let flags = ctx.args.uint(3) & so.MSG_USERFLAGS
    let done = 0
    while (done < vlen) {
      const at = base + BigInt(done * MMSGHDR_SIZE)
      const r = yield* Effect.result(
        Effect.flatMap(msghdrIn(ctx, at), (msg) => recvOne(ctx, sock, at, msg, flags & ~so.MSG_WAITFORONE)).pipe(
          Effect.tap((n) => copyout(ctx, at + BigInt(MSGHDR_SIZE), int32(n)))
        )
      )
      if (r._tag === "Failure") {
        if (r.failure.errno === Errno.EAGAIN && done > 0) break
        return yield* mmsgResult(sock.socket, done, r.failure)
      }
      done++
      // a full second past the deadline ends it (timespecsub, then tv_sec > 0)
      if (until !== undefined && ctx.kernel.clock.realtimeNs() - until >= 1_000_000_000n) break
      if ((flags & so.MSG_WAITFORONE) !== 0) flags |= so.MSG_DONTWAIT
    }
    return done
  })

export const family: SyscallFamily = [
  [SYS.__socket30, socket],
  [SYS.socketpair, socketpair],
  [SYS.bind, bind],
  [SYS.listen, listen],
  [SYS.accept, accept],
  [SYS.paccept, paccept],
  [SYS.connect, connect],
  [SYS.shutdown, shutdown],
  [SYS.getsockname, getsockname],
  [SYS.getpeername, getpeername],
  [SYS.setsockopt, setsockopt],
  [SYS.getsockopt, getsockopt],
  [SYS.sendto, sendto],
  [SYS.recvfrom, recvfrom],
  [SYS.sendmsg, sendmsg],
  [SYS.recvmsg, recvmsg],
  [SYS.sendmmsg, sendmmsg],
  [SYS.recvmmsg, recvmmsg]
]
