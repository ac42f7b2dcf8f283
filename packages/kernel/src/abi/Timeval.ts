/**
 * The time structs the time syscalls and sysctl move, as NetBSD/amd64 lays
 * them out: struct timespec { time_t tv_sec; long tv_nsec } and struct
 * timeval { time_t tv_sec; suseconds_t tv_usec; 4 bytes of padding }, both
 * 16 bytes, little-endian. Times inside the kernel are bigint nanoseconds.
 */
import { Structs } from "@sysproxy/protocol/netbsd"

export const NS_PER_SEC = 1_000_000_000n

export const TIMESPEC_SIZE = Structs.timespec.size
export const TIMEVAL_SIZE = Structs.timeval.size
/** struct timezone { int tz_minuteswest; int tz_dsttime }: gettimeofday fills it with zeros. */
export const TIMEZONE_SIZE = 8

const offsetOf = (layout: { readonly fields: ReadonlyArray<{ readonly name: string; readonly offset: number }> }, name: string) =>
  layout.fields.find((f) => f.name === name)?.offset ?? 0

const TS_SEC = offsetOf(Structs.timespec, "tv_sec")
const TS_NSEC = offsetOf(Structs.timespec, "tv_nsec")
const TV_SEC = offsetOf(Structs.timeval, "tv_sec")
const TV_USEC = offsetOf(Structs.timeval, "tv_usec")

const viewOf = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** A timespec as the caller wrote it; tv_nsec stays a bigint so a bad value can be refused. */
export interface RawTimespec {
  readonly sec: bigint
  readonly nsec: bigint
}

export const decodeTimespec = (bytes: Uint8Array): RawTimespec => {
  const view = viewOf(bytes)
  return { sec: view.getBigInt64(TS_SEC, true), nsec: view.getBigInt64(TS_NSEC, true) }
}

/** Splits non-negative nanoseconds into a struct timespec. */
export const encodeTimespecNs = (ns: bigint): Uint8Array => {
  const bytes = new Uint8Array(TIMESPEC_SIZE)
  const view = viewOf(bytes)
  view.setBigInt64(TS_SEC, ns / NS_PER_SEC, true)
  view.setBigInt64(TS_NSEC, ns % NS_PER_SEC, true)
  return bytes
}

/** Non-negative nanoseconds as a struct timeval (microseconds truncated, as microtime does). */
export const encodeTimevalNs = (ns: bigint): Uint8Array => {
  const bytes = new Uint8Array(TIMEVAL_SIZE)
  const view = viewOf(bytes)
  view.setBigInt64(TV_SEC, ns / NS_PER_SEC, true)
  view.setInt32(TV_USEC, Number((ns % NS_PER_SEC) / 1000n), true)
  return bytes
}

/** tv_nsec in [0, 1e9): what NetBSD's timespec checks accept. */
export const validNsec = (ts: RawTimespec): boolean => ts.nsec >= 0n && ts.nsec < NS_PER_SEC

/** The timespec as nanoseconds (meaningful once validNsec holds). */
export const timespecNs = (ts: RawTimespec): bigint => ts.sec * NS_PER_SEC + ts.nsec
