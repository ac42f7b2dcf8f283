/**
 * Socket addresses in NetBSD's layout (with the leading length byte):
 * struct sockaddr_in (16 bytes), sockaddr_in6 (28) and sockaddr_un (106,
 * of which sun_path holds 104). Ports and IPv4/IPv6 addresses are in
 * network byte order in memory; here an IPv4 address is a host-order
 * number and an IPv6 address its 16 bytes.
 */
import { Errno, socket as so } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"

export const SOCKADDR_IN_SIZE = 16
export const SOCKADDR_IN6_SIZE = 28
export const SOCKADDR_UN_SIZE = 106
/** sun_path's offset: the length and family bytes come first. */
export const SUN_PATH_OFFSET = 2
/** The most a sockaddr may be (NetBSD's MLEN-bound check in sockargs; 255 since sa_len is a byte). */
export const SOCK_MAXADDRLEN = 255

export interface InetAddr {
  readonly family: typeof so.AF_INET
  /** Host order. */
  readonly addr: number
  readonly port: number
}

export interface Inet6Addr {
  readonly family: typeof so.AF_INET6
  readonly addr: Uint8Array
  readonly port: number
  readonly flowinfo: number
  readonly scope: number
}

export interface LocalAddr {
  readonly family: typeof so.AF_LOCAL
  /** The path, one char per byte; "" for an unnamed socket. */
  readonly path: string
}

export type SockAddr = InetAddr | Inet6Addr | LocalAddr

export const INADDR_ANY = 0
export const INADDR_LOOPBACK = 0x7f000001
export const IN6ADDR_ANY = new Uint8Array(16)
export const IN6ADDR_LOOPBACK = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1])

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength)

/**
 * Decodes a caller's sockaddr of `len` bytes for a socket of `domain`:
 * EINVAL when too short for its family, EAFNOSUPPORT when the family is
 * not the socket's.
 */
export const decodeSockAddr = (domain: number, bytes: Uint8Array): Effect.Effect<SockAddr, SysErr> =>
  Effect.suspend((): Effect.Effect<SockAddr, SysErr> => {
    if (bytes.length < 2) return sysErr(Errno.EINVAL)
    const family = bytes[1] ?? 0
    // AF_UNSPEC on an inet socket is taken as AF_INET by old programs (in_nam2sin accepts it for bind); we refuse it
    if (family !== domain) return sysErr(Errno.EAFNOSUPPORT)
    const v = view(bytes)
    if (family === so.AF_INET) {
      if (bytes.length < SOCKADDR_IN_SIZE) return sysErr(Errno.EINVAL)
      return Effect.succeed({ family: so.AF_INET, port: v.getUint16(2, false), addr: v.getUint32(4, false) })
    }
    if (family === so.AF_INET6) {
      if (bytes.length < SOCKADDR_IN6_SIZE) return sysErr(Errno.EINVAL)
      return Effect.succeed({
        family: so.AF_INET6,
        port: v.getUint16(2, false),
        flowinfo: v.getUint32(4, false),
        addr: bytes.slice(8, 24),
        scope: v.getUint32(24, false)
      })
    }
    if (family === so.AF_LOCAL) {
      const raw = bytes.subarray(SUN_PATH_OFFSET)
      const nul = raw.indexOf(0)
      const path = raw.subarray(0, nul < 0 ? raw.length : nul)
      return Effect.succeed({ family: so.AF_LOCAL, path: String.fromCharCode(...path) })
    }
    return sysErr(Errno.EAFNOSUPPORT)
  })

/** The address as the caller's struct (sin_len/sin6_len/sun_len filled in). */
export const encodeSockAddr = (a: SockAddr): Uint8Array => {
  if (a.family === so.AF_INET) {
    const b = new Uint8Array(SOCKADDR_IN_SIZE)
    b[0] = SOCKADDR_IN_SIZE
    b[1] = so.AF_INET
    view(b).setUint16(2, a.port, false)
    view(b).setUint32(4, a.addr >>> 0, false)
    return b
  }
  if (a.family === so.AF_INET6) {
    const b = new Uint8Array(SOCKADDR_IN6_SIZE)
    b[0] = SOCKADDR_IN6_SIZE
    b[1] = so.AF_INET6
    view(b).setUint16(2, a.port, false)
    view(b).setUint32(4, a.flowinfo >>> 0, false)
    b.set(a.addr, 8)
    view(b).setUint32(24, a.scope >>> 0, false)
    return b
  }
  // a named socket: the path and its NUL; an unnamed one: just the header
  const len = a.path === "" ? SUN_PATH_OFFSET : Math.min(SOCKADDR_UN_SIZE, SUN_PATH_OFFSET + a.path.length + 1)
  const b = new Uint8Array(len)
  b[0] = len
  b[1] = so.AF_LOCAL
  for (let i = 0; i < a.path.length && SUN_PATH_OFFSET + i < len; i++) b[SUN_PATH_OFFSET + i] = a.path.charCodeAt(i) & 0xff
  return b
}

/** The unspecified address of a family, port 0 (getsockname of an unbound socket). */
export const anyAddr = (domain: number): SockAddr =>
  domain === so.AF_INET
    ? { family: so.AF_INET, addr: INADDR_ANY, port: 0 }
    : domain === so.AF_INET6
    ? { family: so.AF_INET6, addr: IN6ADDR_ANY, port: 0, flowinfo: 0, scope: 0 }
    : { family: so.AF_LOCAL, path: "" }

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i])

/** The wildcard address (INADDR_ANY, ::). */
export const isWildcard = (a: InetAddr | Inet6Addr): boolean =>
  a.family === so.AF_INET ? a.addr === INADDR_ANY : sameBytes(a.addr, IN6ADDR_ANY)

/** An address of the kernel's loopback interface: 127.0.0.0/8 or ::1. */
export const isLoopback = (a: InetAddr | Inet6Addr): boolean =>
  a.family === so.AF_INET ? a.addr >>> 24 === 127 : sameBytes(a.addr, IN6ADDR_LOOPBACK)

/** The host part of two inet addresses is the same. */
export const sameHost = (a: InetAddr | Inet6Addr, b: InetAddr | Inet6Addr): boolean =>
  a.family === so.AF_INET && b.family === so.AF_INET
    ? a.addr === b.addr
    : a.family === so.AF_INET6 && b.family === so.AF_INET6 && sameBytes(a.addr, b.addr)

/** The same address with another port. */
export const withPort = <A extends InetAddr | Inet6Addr>(a: A, port: number): A => ({ ...a, port })

/** The address the loopback interface answers from (the source of an outgoing connection). */
export const loopbackOf = (domain: number): InetAddr | Inet6Addr =>
  domain === so.AF_INET
    ? { family: so.AF_INET, addr: INADDR_LOOPBACK, port: 0 }
    : { family: so.AF_INET6, addr: IN6ADDR_LOOPBACK, port: 0, flowinfo: 0, scope: 0 }
