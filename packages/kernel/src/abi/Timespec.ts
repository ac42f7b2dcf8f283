/**
 * struct timespec and struct timeval as NetBSD/amd64 lays them out
 * (Structs.timespec, Structs.timeval): 16 bytes each, little-endian.
 */
import { Structs } from "@sysproxy/protocol/netbsd"

/** A point in time (or a duration): whole seconds and nanoseconds in [0, 1e9). */
export interface Timespec {
  readonly sec: bigint
  readonly nsec: number
}

const field = (layout: { readonly fields: ReadonlyArray<{ readonly name: string; readonly offset: number }> }, name: string) =>
  layout.fields.find((f) => f.name === name)?.offset ?? 0

export const TIMESPEC_SIZE = Structs.timespec.size
export const TIMEVAL_SIZE = Structs.timeval.size
const TS_SEC = field(Structs.timespec, "tv_sec")
const TS_NSEC = field(Structs.timespec, "tv_nsec")
const TV_SEC = field(Structs.timeval, "tv_sec")
const TV_USEC = field(Structs.timeval, "tv_usec")

const viewOf = (bytes: Uint8Array) => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/** Writes `ts` at `offset` of `view`. */
export const writeTimespec = (view: DataView, offset: number, ts: Timespec): void => {
  view.setBigInt64(offset + TS_SEC, ts.sec, true)
  view.setBigInt64(offset + TS_NSEC, BigInt(ts.nsec), true)
}

export const encodeTimespec = (ts: Timespec): Uint8Array => {
  const bytes = new Uint8Array(TIMESPEC_SIZE)
  writeTimespec(viewOf(bytes), 0, ts)
  return bytes
}

/**
 * The timespec at `offset` as the caller sent it. tv_nsec is a long: it is
 * kept as a bigint so a caller's out-of-range value can be refused.
 */
export const decodeTimespec = (bytes: Uint8Array, offset = 0): { readonly sec: bigint; readonly nsec: bigint } => {
  const view = viewOf(bytes)
  return { sec: view.getBigInt64(offset + TS_SEC, true), nsec: view.getBigInt64(offset + TS_NSEC, true) }
}

/** The timeval at `offset`: tv_sec (int64) and tv_usec (int32). */
export const decodeTimeval = (bytes: Uint8Array, offset = 0): { readonly sec: bigint; readonly usec: number } => {
  const view = viewOf(bytes)
  return { sec: view.getBigInt64(offset + TV_SEC, true), usec: view.getInt32(offset + TV_USEC, true) }
}

/** Wall-clock time now, with the sub-millisecond part performance.now() gives. */
export const wallClock = (): Timespec => {
  const ns = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e6))
  return { sec: ns / 1_000_000_000n, nsec: Number(ns % 1_000_000_000n) }
}

/** a < b, a == b, a > b as -1, 0, 1. */
export const compareTimespec = (a: Timespec, b: Timespec): number =>
  a.sec < b.sec ? -1 : a.sec > b.sec ? 1 : a.nsec < b.nsec ? -1 : a.nsec > b.nsec ? 1 : 0
