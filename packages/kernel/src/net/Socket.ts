/**
 * Sockets inside the kernel: nothing leaves the process. Stream sockets
 * (AF_INET, AF_INET6, AF_LOCAL) connect only to listeners of this kernel;
 * datagram sockets deliver to sockets of this kernel bound to the
 * destination. A socket is one open File (every descriptor of it, dup or
 * another process's, points there); it closes when the last one goes.
 *
 * What NetBSD does and the model keeps:
 * - a TCP connection is established when it enters the listener's queue
 *   (before accept). tcp_input drops a SYN while the queue holds more than
 *   the backlog, and the connecting side retransmits: here a connect to a
 *   full queue waits (SS_ISCONNECTING) and gets in as soon as an accept
 *   makes room — a blocking connect sleeps until then, a non-blocking one
 *   answers EINPROGRESS (as every non-blocking TCP connect does), a second
 *   connect meanwhile EALREADY. If the listener closes first, the connect
 *   fails with ECONNREFUSED (so_error, for the non-blocking one), as does
 *   a connect to a port nobody listens on (the RST comes back through the
 *   loopback's softint, after connect returned EINPROGRESS). An
 *   AF_LOCAL connect to a full queue (sonewconn's limit, 3 * backlog / 2
 *   + 1) is ECONNREFUSED at once, as unp_connect does.
 * - a TCP close sends FIN: the peer reads end of file and may still write;
 *   what it writes reaches a socket nobody holds, which answers RST: a
 *   write the send buffer takes at once returns its count, one that waits
 *   (or waited) for room is EPIPE (with SIGPIPE); from then on the peer has
 *   ECONNRESET pending (the next read or SO_ERROR reports it once; MSG_PEEK
 *   leaves it) and further writes are EPIPE. A reset or refused socket's
 *   port is free again (tcp_close), and a connection reset before accept
 *   is answered ECONNABORTED there. A close with SO_LINGER and a zero
 *   linger time, and a listener closing with connections not yet
 *   accepted, send RST at once (ECONNRESET for the peer). Unread data is
 *   dropped on close (tcp_disconnect), without a RST. An AF_LOCAL close
 *   disconnects the peer at once: its writes are EPIPE.
 * - a pending error (so_error) is reported once, by SO_ERROR, a read (after
 *   the data still queued) or a write, and makes the socket readable and
 *   writable for poll. poll never reports POLLHUP on a socket (sopoll).
 * - bind conflicts (AF_INET/AF_INET6, per family and type) follow
 *   in_pcbbind_port: the socket on the port that matches the new address
 *   with the fewest wildcards (a connected socket counts one for its peer,
 *   a wildcard against a specific address one more; two different
 *   specific addresses never match) is a conflict unless both set
 *   SO_REUSEPORT; with SO_REUSEADDR or SO_REUSEPORT only exact matches
 *   count. So SO_REUSEADDR lets a specific address share a port with a
 *   wildcard one, and a restarted server bind its port while connections
 *   made on it live; it does not let two unconnected sockets share one
 *   address and port.
 *
 * What the model keeps simple (documented differences from NetBSD):
 * - no connection timer: a connect waiting for room waits until there is
 *   some or the listener goes (NetBSD gives up after 75 s, ETIMEDOUT); no
 *   TIME_WAIT, so a closed socket's port is free at once.
 * - flow control: a stream write fits what the peer's receive buffer
 *   (SO_RCVBUF) has room for, and waits for the rest.
 * - datagrams to an inet port nobody has bound are dropped (UDP); to a full
 *   receive buffer, dropped (UDP) or ENOBUFS (AF_LOCAL).
 */
import { Errno, fileFlagsCompat, fileFlagsKernel, ioctl as ioc, modeBits, pollEvents, signals, socket as so } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { StatInfo } from "../abi/Stat.ts"
import { File, type FileOps, FREAD, FWRITE } from "../fd/File.ts"
import type { KernelState } from "../KernelState.ts"
import { socketKqfilter } from "../kqueue/filters/SocketFilter.ts"
import { KnoteList } from "../kqueue/Knote.ts"
import { WaitQueue } from "../proc/Sleep.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import type { SyscallContext } from "../kern/SyscallContext.ts"
import type { Vnode } from "../vfs/Vnode.ts"
import {
  anyAddr,
  type Inet6Addr,
  type InetAddr,
  isLoopback,
  isWildcard,
  loopbackOf,
  sameHost,
  type SockAddr,
  withPort
} from "./Address.ts"
import { ByteQueue, DatagramQueue } from "./Buffer.ts"

const { POLLIN, POLLRDNORM, POLLOUT, POLLWRNORM } = pollEvents
const READ_EVENTS = POLLIN | POLLRDNORM
const WRITE_EVENTS = POLLOUT | POLLWRNORM

/** The first and last ephemeral port (net.inet.ip.anonportmin / anonportmax). */
export const EPHEMERAL_MIN = 49152
export const EPHEMERAL_MAX = 65535
/** Ports below this need root (IPPORT_RESERVED). */
export const IPPORT_RESERVED = 1024

/** Default buffer sizes: tcp_sendspace/recvspace, udp, and the AF_LOCAL stream/datagram ones. */
const defaultBuffers = (domain: number, type: number): { snd: number; rcv: number } =>
  domain === so.AF_LOCAL
    ? type === so.SOCK_STREAM ? { snd: 8192, rcv: 8192 } : { snd: 2048, rcv: 16384 }
    : type === so.SOCK_STREAM
    ? { snd: 32768, rcv: 32768 }
    : { snd: 9216, rcv: 41600 }

/** The kernel's sockets, by what the bind and connect lookups need. */
interface NetState {
  /** AF_INET / AF_INET6 sockets that have a local port. */
  readonly bound: Set<Socket>
  nextEphemeral: number
}

const netStates = new WeakMap<KernelState, NetState>()

const netOf = (kernel: KernelState): NetState => {
  let n = netStates.get(kernel)
  if (n === undefined) {
    n = { bound: new Set(), nextEphemeral: EPHEMERAL_MIN }
    netStates.set(kernel, n)
  }
  return n
}

/** AF_LOCAL sockets bound to a VFS node. */
const localBindings = new WeakMap<Vnode, Socket>()

type InetLike = InetAddr | Inet6Addr

const isInet = (a: SockAddr | undefined): a is InetLike =>
  a !== undefined && (a.family === so.AF_INET || a.family === so.AF_INET6)

export class Socket {
  readonly kernel: KernelState
  readonly domain: number
  readonly type: number
  readonly protocol: number
  readonly uid: number
  readonly gid: number
  /** SO_* boolean options set (so_options). */
  options = 0
  sndbuf: number
  rcvbuf: number
  /** Other options set, by "level:name", as the caller gave them (returned by getsockopt). */
  readonly stored = new Map<string, Uint8Array>()
  /** so_error: a pending error, reported (and cleared) by SO_ERROR. */
  error = 0

  local: SockAddr | undefined = undefined
  /** The connected peer's address (a stream's peer, a datagram socket's default destination). */
  peerAddr: SockAddr | undefined = undefined
  /** The other end of a connected stream; the socket a connected AF_LOCAL datagram socket sends to. */
  peer: Socket | undefined = undefined
  connected = false
  listening = false
  backlog = 0
  /** Connections made and not yet accepted (listeners). */
  readonly pending: Array<Socket> = []
  /** The listener whose queue holds this socket, until accepted. */
  listener: Socket | undefined = undefined
  /** The listener a connect waits on for room in its queue (SS_ISCONNECTING). */
  connecting: Socket | undefined = undefined
  /** Connects waiting for room in this listener's queue, oldest first. */
  readonly waiting: Array<Socket> = []
  /** Nothing more will arrive: the peer shut its writing side or went, or SHUT_RD. */
  cantRcvMore = false
  /** SHUT_WR (or the peer went away). */
  cantSendMore = false
  closed = false

  readonly stream = new ByteQueue()
  readonly dgrams = new DatagramQueue()
  /** Every sleeper on this socket (readers, writers, accept, poll) is woken on any change. */
  readonly queue = new WaitQueue()
  /** Knotes on the socket (EVFILT_READ, EVFILT_WRITE), told of every change. */
  readonly knotes = new KnoteList()
  /** The open file, for SIGIO to its owner. */
  file: File | undefined = undefined
  /** The VFS node an AF_LOCAL socket is bound to. */
  vnode: Vnode | undefined = undefined

  constructor(kernel: KernelState, domain: number, type: number, protocol: number, cred: { readonly uid: number; readonly gid: number }) {
    this.kernel = kernel
    this.domain = domain
    this.type = type
    this.protocol = protocol
    this.uid = cred.uid
    this.gid = cred.gid
    const b = defaultBuffers(domain, type)
    this.sndbuf = b.snd
    this.rcvbuf = b.rcv
  }

  get isStream(): boolean {
    return this.type === so.SOCK_STREAM
  }

  get isInet(): boolean {
    return this.domain === so.AF_INET || this.domain === so.AF_INET6
  }

  get received(): number {
    return this.isStream ? this.stream.count : this.dgrams.count
  }

  has(option: number): boolean {
    return (this.options & option) !== 0
  }

  /** Wakes every sleeper and tells the owner (SIGIO) when `io` and the file is O_ASYNC. */
  changed(io: boolean): Effect.Effect<void> {
    this.queue.wakeAll()
    this.knotes.notify(0)
    return io ? signalOwner(this) : Effect.void
  }
}

/** SIGIO to the F_SETOWN owner (a pid, or a process group when negative) of an O_ASYNC socket. */
const signalOwner = (s: Socket): Effect.Effect<void> =>
  Effect.suspend(() => {
    const f = s.file
    if (f === undefined || (f.flag & fileFlagsCompat.FASYNC) === 0 || f.owner === 0) return Effect.void
    const owner = f.owner
    const procs = [...s.kernel.procs.values()].filter((p) =>
      !p.released && (owner > 0 ? p.pid === owner : p.pgid === -owner)
    )
    return Effect.forEach(procs, (p) => p.client?.raise(signals.SIGIO) ?? Effect.void, { discard: true })
  })

/** Where setsockopt keeps an option's value in `Socket.stored`. */
export const optionKey = (level: number, name: number): string => `${level}:${name}`

const LINGER_KEY = optionKey(so.SOL_SOCKET, so.SO_LINGER)

const nonblocking = (file: File | undefined, flags: number): boolean =>
  (flags & so.MSG_DONTWAIT) !== 0 || (file !== undefined && (file.flag & fileFlagsKernel.FNONBLOCK) !== 0)

// ---------------------------------------------------------------- binding

/**
 * in_pcblookup_port: the socket holding `a`'s port that matches `a` with
 * the fewest wildcards — a connected socket counts one for its peer, a
 * wildcard address against a specific one another, two different
 * specific addresses do not match; with `wild` false only exact matches.
 */
const holderOf = (s: Socket, a: InetLike, wild: boolean): Socket | undefined => {
  let match: Socket | undefined
  let fewest = 3
  for (const o of netOf(s.kernel).bound) {
    const ol = o.local
    if (o === s || !isInet(ol) || o.domain !== s.domain || o.type !== s.type || ol.port !== a.port) continue
    let wildcards = isInet(o.peerAddr) && !isWildcard(o.peerAddr) ? 1 : 0
    if (isWildcard(ol) !== isWildcard(a)) wildcards++
    else if (!isWildcard(a) && !sameHost(ol, a)) continue
    if (wildcards > 0 && !wild) continue
    if (wildcards < fewest) {
      match = o
      fewest = wildcards
      if (fewest === 0) break
    }
  }
  return match
}

/** in_pcbbind_port: `a`'s port is taken unless the holder and `s` both set SO_REUSEPORT. */
const portTaken = (s: Socket, a: InetLike): boolean => {
  const holder = holderOf(s, a, !s.has(so.SO_REUSEADDR) && !s.has(so.SO_REUSEPORT))
  return holder !== undefined && !(s.has(so.SO_REUSEPORT) && holder.has(so.SO_REUSEPORT))
}

const portInUse = (net: NetState, s: Socket, port: number): boolean => {
  for (const o of net.bound) {
    if (o.domain === s.domain && o.type === s.type && isInet(o.local) && o.local.port === port) return true
  }
  return false
}

/** A free ephemeral port for `s` (EAGAIN when all are taken). */
const ephemeralPort = (s: Socket): Effect.Effect<number, SysErr> =>
  Effect.suspend(() => {
    const net = netOf(s.kernel)
    const span = EPHEMERAL_MAX - EPHEMERAL_MIN + 1
    for (let i = 0; i < span; i++) {
      const port = net.nextEphemeral
      net.nextEphemeral = port >= EPHEMERAL_MAX ? EPHEMERAL_MIN : port + 1
      if (!portInUse(net, s, port)) return Effect.succeed(port)
    }
    return sysErr(Errno.EAGAIN)
  })

/** bind for AF_INET/AF_INET6: EADDRNOTAVAIL for an address the kernel does not have, EADDRINUSE on a clash. */
export const bindInet: (s: Socket, a: InetLike) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(s, a) {
    if (s.local !== undefined || s.closed) return yield* sysErr(Errno.EINVAL)
    if (!isWildcard(a) && !isLoopback(a)) return yield* sysErr(Errno.EADDRNOTAVAIL)
    if (a.port !== 0 && a.port < IPPORT_RESERVED && s.uid !== 0) return yield* sysErr(Errno.EACCES)
    const net = netOf(s.kernel)
    let addr = a
    if (a.port === 0) addr = withPort(a, yield* ephemeralPort(s))
    else if (portTaken(s, a)) return yield* sysErr(Errno.EADDRINUSE)
    s.local = addr.family === so.AF_INET6 ? { ...addr, flowinfo: 0, scope: 0 } : addr
    net.bound.add(s)
  })

/** An inet socket with no local port gets an ephemeral one (on `host`, or the wildcard). */
const autobind = (s: Socket, host?: InetLike): Effect.Effect<void, SysErr> =>
  s.local !== undefined ? Effect.void : bindInet(s, withPort(host ?? anyAddr(s.domain) as InetLike, 0))

/** bind for AF_LOCAL, once the syscall layer made the socket node. */
export const bindLocal = (s: Socket, path: string, node: Vnode): void => {
  s.local = { family: so.AF_LOCAL, path }
  s.vnode = node
  localBindings.set(node, s)
}

/** The socket bound to an AF_LOCAL node, if one still is. */
export const boundAt = (node: Vnode): Socket | undefined => {
  const s = localBindings.get(node)
  return s === undefined || s.closed ? undefined : s
}

// ------------------------------------------------------------- listening

/**
 * The listen queue is full: TCP takes a SYN while the queue holds at most
 * the backlog (tcp_input); AF_LOCAL makes a connection while it holds at
 * most 3 * backlog / 2 (sonewconn).
 */
const queueFull = (l: Socket): boolean =>
  l.pending.length > (l.isInet ? l.backlog : Math.floor((3 * l.backlog) / 2))

export const listen: (s: Socket, backlog: number) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(s, backlog) {
    if (!s.isStream) return yield* sysErr(Errno.EOPNOTSUPP)
    if (s.connected || s.peer !== undefined || s.connecting !== undefined) return yield* sysErr(Errno.EINVAL)
    if (s.domain === so.AF_LOCAL) {
      if (s.local === undefined) return yield* sysErr(Errno.EINVAL)
    } else {
      yield* autobind(s)
    }
    s.listening = true
    s.options |= so.SO_ACCEPTCONN
    s.backlog = backlog < 0 || backlog > so.SOMAXCONN ? so.SOMAXCONN : backlog
    // a larger backlog given again may make room for connects waiting
    yield* admitWaiting(s)
  })

/** The listener an inet connect to `dest` reaches: the exact address first, else a wildcard one. */
const findListener = (s: Socket, dest: InetLike): Socket | undefined => {
  let wild: Socket | undefined
  for (const o of netOf(s.kernel).bound) {
    const ol = o.local
    if (!o.listening || o.closed || o.domain !== s.domain || !isInet(ol) || ol.port !== dest.port) continue
    if (sameHost(ol, dest)) return o
    if (isWildcard(ol)) wild ??= o
  }
  return wild
}

/** Joins `client` to a new socket on `listener`'s queue: the connection is established. */
const joinListener: (client: Socket, listener: Socket, serverLocal: SockAddr) => Effect.Effect<void> = Effect.fnUntraced(
  function*(client, listener, serverLocal) {
    const server = new Socket(listener.kernel, listener.domain, listener.type, listener.protocol, listener)
    // the new socket inherits the listener's options (sonewconn), but not its listening
    server.options = listener.options & ~so.SO_ACCEPTCONN
    server.sndbuf = listener.sndbuf
    server.rcvbuf = listener.rcvbuf
    const linger = listener.stored.get(LINGER_KEY)
    if (linger !== undefined) server.stored.set(LINGER_KEY, linger)
    server.local = serverLocal
    server.peerAddr = client.local ?? anyAddr(client.domain)
    server.peer = client
    server.connected = true
    server.listener = listener
    if (isInet(serverLocal)) netOf(listener.kernel).bound.add(server)
    client.peer = server
    client.peerAddr = listener.domain === so.AF_LOCAL ? listener.local : serverLocal
    client.connected = true
    listener.pending.push(server)
    yield* client.changed(true)
    yield* listener.changed(true)
  })

/** Connects waiting on `l` get in while its queue has room (their SYN, sent again, is taken now). */
const admitWaiting: (l: Socket) => Effect.Effect<void> = Effect.fnUntraced(
  function*(l) {
    while (l.listening && !l.closed && !queueFull(l)) {
      const c = l.waiting.shift()
      if (c === undefined) return
      c.connecting = undefined
      yield* joinListener(c, l, c.peerAddr ?? anyAddr(l.domain))
    }
  })

/**
 * connect for an inet socket: a datagram socket takes its default
 * destination; a stream one joins a listener of this kernel, or waits in
 * line while its queue is full (the caller waits with `awaitConnection`
 * or answers EINPROGRESS).
 */
export const connectInet: (s: Socket, dest: InetLike) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(s, dest) {
    if (s.connecting !== undefined) return yield* sysErr(Errno.EALREADY)
    if (s.listening) return yield* sysErr(Errno.EOPNOTSUPP)
    if (s.isStream && (s.connected || s.peer !== undefined)) {
      // a connection that was reset or refused took its control block with it (tcp_close)
      return yield* sysErr(s.connected ? Errno.EISCONN : Errno.EINVAL)
    }
    if (s.isStream && s.cantRcvMore && s.cantSendMore) return yield* sysErr(Errno.EINVAL)
    // connecting to the wildcard address reaches this host (in_pcbconnect uses the first address)
    const to = isWildcard(dest) ? withPort(loopbackOf(s.domain), dest.port) : dest
    if (!isLoopback(to)) return yield* sysErr(Errno.ENETUNREACH)
    if (to.port === 0) return yield* sysErr(Errno.EADDRNOTAVAIL)
    if (!s.isStream) {
      yield* autobind(s, loopbackOf(s.domain))
      s.peerAddr = to
      s.connected = true
      return
    }
    const listener = findListener(s, to)
    yield* autobind(s, loopbackOf(s.domain))
    // the SYN goes out, the RST comes back through the loopback's softint: the
    // connect fails after it started (EINPROGRESS, then so_error, for a non-blocking one)
    if (listener === undefined) return yield* drop(s, Errno.ECONNREFUSED)
    // a socket bound to the wildcard gets the address it connects from
    const mine = s.local as InetLike
    if (isWildcard(mine)) s.local = withPort(loopbackOf(s.domain), mine.port)
    s.error = 0
    if (!queueFull(listener)) return yield* joinListener(s, listener, to)
    s.connecting = listener
    s.peerAddr = to
    listener.waiting.push(s)
  })

/** A blocking connect: waits while the connection is in line; its error if it failed (EINTR leaves it in line). */
export const awaitConnection: (ctx: SyscallContext, s: Socket) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(ctx, s) {
    for (;;) {
      if (s.connecting === undefined) return yield* takeError(s)
      const why = yield* s.queue.sleep(ctx.lwp, undefined, () => s.connecting === undefined)
      if (why === "interrupted") return yield* sysErr(Errno.EINTR)
    }
  })

/** Reports a pending error, and clears it unless `peek` (soreceive keeps it for MSG_PEEK). */
const takeError = (s: Socket, peek = false): Effect.Effect<void, SysErr> => {
  const e = s.error
  if (e === 0) return Effect.void
  if (!peek) s.error = 0
  return sysErr(e)
}

/**
 * connect for an AF_LOCAL socket to the socket bound at `node` (found by
 * the syscall layer): ECONNREFUSED when none listens there, EPROTOTYPE
 * for another type.
 */
export const connectLocal: (s: Socket, node: Vnode, path: string) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(s, node, path) {
    if (s.listening) return yield* sysErr(Errno.EOPNOTSUPP)
    if (s.isStream && (s.connected || s.peer !== undefined)) return yield* sysErr(Errno.EISCONN)
    const target = boundAt(node)
    if (target === undefined) return yield* sysErr(Errno.ECONNREFUSED)
    if (target.type !== s.type) return yield* sysErr(Errno.EPROTOTYPE)
    if (!s.isStream) {
      // a connected datagram socket sends to that very socket (unp_conn), wherever its name goes
      s.peer = target
      s.peerAddr = { family: so.AF_LOCAL, path }
      s.connected = true
      return
    }
    if (!target.listening || queueFull(target)) return yield* sysErr(Errno.ECONNREFUSED)
    yield* joinListener(s, target, target.local ?? anyAddr(so.AF_LOCAL))
  })

/** Two connected sockets (socketpair). */
export const pair = (a: Socket, b: Socket): void => {
  a.peer = b
  b.peer = a
  a.connected = true
  b.connected = true
  a.peerAddr = anyAddr(a.domain)
  b.peerAddr = anyAddr(b.domain)
}

/**
 * accept: the oldest connection on the queue (EAGAIN non-blocking, EINTR
 * when ordered out). One reset while it waited is taken off the queue and
 * answered ECONNABORTED (TCP's PR_ABRTACPTDIS in soaccept).
 */
export const accept: (ctx: SyscallContext, l: Socket, file: File) => Effect.Effect<Socket, SysErr> = Effect.fnUntraced(
  function*(ctx, l, file) {
    if (!l.listening) return yield* sysErr(Errno.EINVAL)
    for (;;) {
      const next = l.pending.shift()
      if (next !== undefined) {
        next.listener = undefined
        yield* admitWaiting(l)
        if (next.isInet && !next.connected) {
          yield* closeSocket(next)
          return yield* sysErr(Errno.ECONNABORTED)
        }
        return next
      }
      if (l.closed) return yield* sysErr(Errno.ECONNABORTED)
      if (nonblocking(file, 0)) return yield* sysErr(Errno.EAGAIN)
      const why = yield* l.queue.sleep(ctx.lwp, undefined, () => l.pending.length > 0 || l.closed)
      if (why === "interrupted") return yield* sysErr(Errno.EINTR)
    }
  })

// ---------------------------------------------------------------- data

export interface Received {
  readonly data: Uint8Array
  readonly from: SockAddr | undefined
  /** A datagram longer than the buffer was cut (MSG_TRUNC). */
  readonly truncated: boolean
}

/** recv: what the buffer has (up to len), 0 bytes at end of file; sleeps when there is nothing yet. */
export const receive: (ctx: SyscallContext, s: Socket, file: File | undefined, len: number, flags: number) => Effect.Effect<Received, SysErr> = Effect.fnUntraced(
  function*(ctx, s, file, len, flags) {
    const peek = (flags & so.MSG_PEEK) !== 0
    for (;;) {
      // what is queued comes first, then a pending error, then end of file (soreceive)
      if (s.isStream) {
        if (s.stream.count > 0) {
          const data = s.stream.take(len, !peek)
          if (!peek && s.peer !== undefined) yield* s.peer.changed(false)
          return { data, from: s.peerAddr, truncated: false }
        }
      } else {
        const d = s.dgrams.shift(!peek)
        if (d !== undefined) {
          return { data: d.data.subarray(0, Math.min(len, d.data.length)), from: d.from, truncated: d.data.length > len }
        }
      }
      yield* takeError(s, peek)
      if (s.cantRcvMore) return { data: new Uint8Array(0), from: s.isStream ? s.peerAddr : undefined, truncated: false }
      if (s.isStream && !s.connected && s.connecting === undefined) return yield* sysErr(Errno.ENOTCONN)
      if (len === 0) return { data: new Uint8Array(0), from: undefined, truncated: false }
      if (nonblocking(file, flags)) return yield* sysErr(Errno.EAGAIN)
      const why = yield* s.queue.sleep(
        ctx.lwp,
        undefined,
        () => s.received > 0 || s.cantRcvMore || s.error !== 0 || (s.isStream && !s.connected && s.connecting === undefined)
      )
      if (why === "interrupted") return yield* sysErr(Errno.EINTR)
    }
  })

/**
 * tcp_drop: so_error `errno`, the connection gone both ways
 * (soisdisconnected), and the control block with its port freed
 * (tcp_close), so the port may be bound again.
 */
const drop = (s: Socket, errno: number): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (s.closed) return Effect.void
    s.error = errno
    s.cantRcvMore = true
    s.cantSendMore = true
    s.connected = false
    netOf(s.kernel).bound.delete(s)
    return s.changed(true)
  })

/** RST received: ECONNRESET. */
const reset = (s: Socket): Effect.Effect<void> => drop(s, Errno.ECONNRESET)

/**
 * send on a connected stream: EPIPE once the writing side is shut or the
 * peer gone; waits for room. Data for a TCP peer nobody holds is answered
 * by a RST after the send buffer took it: a write that fits there at once
 * returns its count; one that would wait for room (or was waiting already)
 * sees the RST first: EPIPE (sosend checks SS_CANTSENDMORE after sbwait).
 */
const sendStream: (ctx: SyscallContext, s: Socket, file: File | undefined, data: Uint8Array, flags: number) => Effect.Effect<number, SysErr> = Effect.fnUntraced(
  function*(ctx, s, file, data, flags) {
    let done = 0
    for (;;) {
      if (s.cantSendMore) return done > 0 ? done : yield* sysErr(Errno.EPIPE)
      if (s.error !== 0) {
        if (done > 0) return done
        yield* takeError(s)
      }
      const peer = s.peer
      if (peer === undefined || !s.connected) return yield* sysErr(Errno.ENOTCONN)
      if (s.isInet && peer.closed) {
        // nothing is sent for an empty write, so nothing is answered
        if (data.length === 0) return 0
        // the data reaches a socket nobody holds any more, which answers RST (tcp_input)
        yield* reset(s)
        if (done === 0 && data.length <= s.sndbuf) return data.length
        return yield* sysErr(Errno.EPIPE)
      }
      // TCP drops data for a side that shut its reading; AF_LOCAL refuses it
      if (s.isInet && peer.cantRcvMore) return data.length
      if (peer.closed || peer.cantRcvMore) return done > 0 ? done : yield* sysErr(Errno.EPIPE)
      if (done >= data.length) return done
      const room = peer.rcvbuf - peer.stream.count
      if (room > 0) {
        const n = Math.min(room, data.length - done)
        peer.stream.put(data.subarray(done, done + n))
        done += n
        yield* peer.changed(true)
        continue
      }
      if (nonblocking(file, flags)) return done > 0 ? done : yield* sysErr(Errno.EAGAIN)
      const why = yield* s.queue.sleep(
        ctx.lwp,
        undefined,
        () => s.cantSendMore || s.error !== 0 || peer.closed || peer.cantRcvMore || peer.rcvbuf - peer.stream.count > 0
      )
      if (why === "interrupted") return done > 0 ? done : yield* sysErr(Errno.EINTR)
    }
  })

/** The datagram socket `dest` names in this kernel (inet: exact address first, then wildcard). */
const findDatagramTarget = (s: Socket, dest: InetLike): Socket | undefined => {
  let wild: Socket | undefined
  for (const o of netOf(s.kernel).bound) {
    const ol = o.local
    if (o.closed || o.type !== s.type || o.domain !== s.domain || !isInet(ol) || ol.port !== dest.port) continue
    if (sameHost(ol, dest)) return o
    if (isWildcard(ol)) wild ??= o
  }
  return wild
}

/**
 * send on a datagram socket to `to` (or its connected address): one
 * record, EMSGSIZE beyond SO_SNDBUF. `target` is the AF_LOCAL socket the
 * syscall layer looked up by path.
 */
const sendDatagram: (
  s: Socket,
  data: Uint8Array,
  to: SockAddr | undefined,
  target: Socket | undefined
) => Effect.Effect<number, SysErr> = Effect.fnUntraced(
  function*(s, data, to, target) {
    if (s.cantSendMore) return yield* sysErr(Errno.EPIPE)
    if (data.length > s.sndbuf) return yield* sysErr(Errno.EMSGSIZE)
    const dest = to ?? s.peerAddr
    if (dest === undefined) return yield* sysErr(s.domain === so.AF_LOCAL ? Errno.ENOTCONN : Errno.EDESTADDRREQ)
    let r: Socket | undefined = target ?? (to === undefined ? s.peer : undefined)
    if (isInet(dest)) {
      const d = isWildcard(dest) ? withPort(loopbackOf(s.domain), dest.port) : dest
      if (!isLoopback(d)) return yield* sysErr(Errno.ENETUNREACH)
      yield* autobind(s)
      r = findDatagramTarget(s, d)
      // UDP: nobody there, or no room: the datagram is lost
      if (r === undefined || r.cantRcvMore || r.dgrams.count + data.length > r.rcvbuf) return data.length
    } else {
      if (r === undefined || r.closed) return yield* sysErr(Errno.ECONNREFUSED)
      if (r.dgrams.count + data.length > r.rcvbuf) return yield* sysErr(Errno.ENOBUFS)
    }
    const from = isInet(s.local) && isWildcard(s.local) ? withPort(loopbackOf(s.domain), s.local.port) : s.local
    r.dgrams.put({ data: data.slice(), from: from ?? anyAddr(s.domain) })
    yield* r.changed(true)
    return data.length
  })

/**
 * send/sendto/write: a connected stream ignores `to` (tcp_usrreq's
 * PRU_SEND never looks at it); a connected datagram socket given one is
 * EISCONN (udp_usrreq, unp_usrreq).
 */
export const send = (
  ctx: SyscallContext,
  s: Socket,
  file: File | undefined,
  data: Uint8Array,
  flags: number,
  to?: SockAddr,
  target?: Socket
): Effect.Effect<number, SysErr> => {
  if (s.isStream) return sendStream(ctx, s, file, data, flags)
  if (to !== undefined && s.connected) return sysErr(Errno.EISCONN)
  return sendDatagram(s, data, to, target)
}

// ------------------------------------------------------------- shutdown

export const shutdown: (s: Socket, how: number) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(s, how) {
    if (how !== so.SHUT_RD && how !== so.SHUT_WR && how !== so.SHUT_RDWR) return yield* sysErr(Errno.EINVAL)
    if (!s.connected) return yield* sysErr(Errno.ENOTCONN)
    if (how !== so.SHUT_WR) {
      s.cantRcvMore = true
      s.stream.clear()
      s.dgrams.clear()
    }
    if (how !== so.SHUT_RD) {
      s.cantSendMore = true
      if (s.peer !== undefined) {
        s.peer.cantRcvMore = true
        yield* s.peer.changed(true)
      }
    }
    yield* s.changed(false)
  })

/** SO_LINGER on with a zero linger time: close drops the connection with a RST (tcp_disconnect). */
const lingersZero = (s: Socket): boolean => {
  const l = s.stored.get(LINGER_KEY)
  return s.has(so.SO_LINGER) && (l === undefined || l.length < 8 || new DataView(l.buffer, l.byteOffset, 8).getInt32(4, true) === 0)
}

/**
 * The last reference went. A TCP peer gets FIN (end of file; it may still
 * write, and is reset then) or, with SO_LINGER 0, a RST; an AF_LOCAL peer
 * is disconnected. Connections not yet accepted are reset, connects
 * waiting in line refused; the port is free.
 */
export const closeSocket: (s: Socket) => Effect.Effect<void> = Effect.fnUntraced(
  function*(s) {
    if (s.closed) return
    s.closed = true
    s.cantRcvMore = true
    s.cantSendMore = true
    s.stream.clear()
    s.dgrams.clear()
    netOf(s.kernel).bound.delete(s)
    if (s.vnode !== undefined && localBindings.get(s.vnode) === s) localBindings.delete(s.vnode)
    if (s.connecting !== undefined) {
      const line = s.connecting.waiting
      const at = line.indexOf(s)
      if (at >= 0) line.splice(at, 1)
      s.connecting = undefined
    }
    const peer = s.peer
    // a datagram socket's target does not notice
    if (peer !== undefined && s.isStream && !peer.closed) {
      if (s.isInet && lingersZero(s)) yield* reset(peer)
      else {
        peer.cantRcvMore = true
        if (!s.isInet) peer.cantSendMore = true
        yield* peer.changed(true)
      }
    }
    for (const p of s.pending.splice(0)) {
      // soabort: the connection is dropped with a RST
      if (p.peer !== undefined && s.isInet) yield* reset(p.peer)
      yield* closeSocket(p)
    }
    // the SYN sent again is answered by a RST: the connection failed (tcp_drop, soisdisconnected)
    for (const c of s.waiting.splice(0)) {
      c.connecting = undefined
      c.peerAddr = undefined
      yield* drop(c, Errno.ECONNREFUSED)
    }
    yield* s.changed(false)
  })

// ---------------------------------------------------------------- file

/** sowritable: room at the peer (a connected stream), or nothing more can be sent, or an error waits. */
const writable = (s: Socket): boolean => {
  if (s.cantSendMore || s.error !== 0) return true
  if (s.isStream) {
    const peer = s.peer
    return s.connected && peer !== undefined && (peer.closed || peer.cantRcvMore || peer.rcvbuf - peer.stream.count > 0)
  }
  return true
}

/** soo_poll: a listener is readable with a connection queued; an error makes a socket readable and writable. */
export const pollSocket = (s: Socket, events: number): number => {
  let revents = 0
  const readable = s.error !== 0 || (s.listening ? s.pending.length > 0 : s.received > 0 || s.cantRcvMore)
  if (readable) revents |= events & READ_EVENTS
  if (!s.listening && writable(s)) revents |= events & WRITE_EVENTS
  return revents
}

const zeroTime = { sec: 0n, nsec: 0 }

const statSocket = (s: Socket): StatInfo => ({
  dev: 0,
  ino: 0,
  nlink: 0,
  rdev: 0,
  mode: modeBits.S_IFSOCK,
  uid: s.uid,
  gid: s.gid,
  blksize: s.sndbuf,
  size: s.received,
  blocks: 0,
  atime: zeroTime,
  mtime: zeroTime,
  ctime: zeroTime,
  birthtime: zeroTime
})

export const socketOps = (s: Socket): FileOps => ({
  kind: "socket",
  seekable: false,
  read: (ctx, file, len) => Effect.map(receive(ctx, s, file, len, 0), (r) => r.data),
  write: (ctx, file, data) => send(ctx, s, file, data, 0),
  ioctl: (_ctx, _file, cmd) => (cmd === ioc.FIONREAD ? Effect.succeed(BigInt(s.received)) : sysErr(Errno.ENOTTY)),
  poll: (_file, events) => pollSocket(s, events),
  pollQueue: () => s.queue,
  kqfilter: (_file, kn) => socketKqfilter(s, kn),
  stat: () => statSocket(s),
  close: () => closeSocket(s)
})

/** The socket behind an open file's ops, if it is one. */
const sockets = new WeakMap<FileOps, Socket>()

/** The open file of a socket, read and write, with the kernel flags given (FNONBLOCK, FNOSIGPIPE, FASYNC). */
export const makeSocketFile = (s: Socket, flags: number): File => {
  const ops = socketOps(s)
  sockets.set(ops, s)
  const file = new File(ops, FREAD | FWRITE | flags, undefined)
  s.file = file
  return file
}

export const socketOf = (file: File): Socket | undefined => sockets.get(file.ops)
