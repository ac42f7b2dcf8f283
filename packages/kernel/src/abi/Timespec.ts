/**
 * struct timespec as the kernel needs it beyond the shared codec
 * (@sysproxy/protocol: the Timespec type, its layout and writer): what a
 * caller sent, checked as NetBSD checks it, and the clocks. struct
 * timeval's codecs are in Timeval.ts.
 */
import { fieldOffset, type Timespec, TIMESPEC_SIZE, writeTimespec } from "@sysproxy/protocol"
import { Structs } from "@sysproxy/protocol/netbsd"

export { type Timespec, TIMESPEC_SIZE, writeTimespec }

export const NS_PER_SEC = 1_000_000_000n

/** A timespec as the caller wrote it; tv_nsec (a long) stays a bigint so a bad value can be refused. */
export interface RawTimespec {
  readonly sec: bigint
  readonly nsec: bigint
}

const TS_SEC = fieldOffset(Structs.timespec, "tv_sec")
const TS_NSEC = fieldOffset(Structs.timespec, "tv_nsec")

export const viewOf = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

export const encodeTimespec = (ts: Timespec): Uint8Array => {
  const bytes = new Uint8Array(TIMESPEC_SIZE)
  writeTimespec(viewOf(bytes), 0, ts)
  return bytes
}

/** Splits non-negative nanoseconds into a struct timespec. */
export const encodeTimespecNs = (ns: bigint): Uint8Array => {
  const bytes = new Uint8Array(TIMESPEC_SIZE)
  const view = viewOf(bytes)
  view.setBigInt64(TS_SEC, ns / NS_PER_SEC, true)
  view.setBigInt64(TS_NSEC, ns % NS_PER_SEC, true)
  return bytes
}

/** The timespec at `offset` as the caller sent it. */
export const decodeTimespec = (bytes: Uint8Array, offset = 0): RawTimespec => {
  const view = viewOf(bytes)
  return { sec: view.getBigInt64(offset + TS_SEC, true), nsec: view.getBigInt64(offset + TS_NSEC, true) }
}

/** tv_nsec in [0, 1e9): what NetBSD's timespec checks accept. */
export const validNsec = (ts: RawTimespec): boolean => ts.nsec >= 0n && ts.nsec < NS_PER_SEC

/** The timespec as nanoseconds (meaningful once validNsec holds). */
export const timespecNs = (ts: RawTimespec): bigint => ts.sec * NS_PER_SEC + ts.nsec

/** Wall-clock time now, with the sub-millisecond part performance.now() gives. */
export const wallClock = (): Timespec => {
  const ns = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6))
  return { sec: ns / NS_PER_SEC, nsec: Number(ns % NS_PER_SEC) }
}

/** a < b, a == b, a > b as -1, 0, 1. */
export const compareTimespec = (a: Timespec, b: Timespec): number =>
  a.sec < b.sec ? -1 : a.sec > b.sec ? 1 : a.nsec < b.nsec ? -1 : a.nsec > b.nsec ? 1 : 0
