/**
 * struct timeval as NetBSD/amd64 lays it out (Structs.timeval):
 * { time_t tv_sec; suseconds_t tv_usec; 4 bytes of padding }, 16 bytes,
 * little-endian, and gettimeofday's struct timezone. The timespec codecs
 * (and NS_PER_SEC) live in Timespec.ts. Times inside the kernel are bigint
 * nanoseconds.
 */
import { Structs } from "@sysproxy/protocol/netbsd"
import { fieldOffset } from "@sysproxy/protocol"
import { NS_PER_SEC, viewOf } from "./Timespec.ts"

export const TIMEVAL_SIZE = Structs.timeval.size
/** struct timezone { int tz_minuteswest; int tz_dsttime }: gettimeofday fills it with zeros. */
export const TIMEZONE_SIZE = 8

const TV_SEC = fieldOffset(Structs.timeval, "tv_sec")
const TV_USEC = fieldOffset(Structs.timeval, "tv_usec")

/** The timeval at `offset`: tv_sec (int64) and tv_usec (int32). */
export const decodeTimeval = (bytes: Uint8Array, offset = 0): { readonly sec: bigint; readonly usec: number } => {
  const view = viewOf(bytes)
  return { sec: view.getBigInt64(offset + TV_SEC, true), usec: view.getInt32(offset + TV_USEC, true) }
}

/** Non-negative nanoseconds as a struct timeval (microseconds truncated, as microtime does). */
export const encodeTimevalNs = (ns: bigint): Uint8Array => {
  const bytes = new Uint8Array(TIMEVAL_SIZE)
  const view = viewOf(bytes)
  view.setBigInt64(TV_SEC, ns / NS_PER_SEC, true)
  view.setInt32(TV_USEC, Number((ns % NS_PER_SEC) / 1000n), true)
  return bytes
}
