/**
 * adjtime's struct timeval arguments as microseconds (time_adjtime), the
 * way adjtime1 converts them: tv_sec * 1000000 + tv_usec, unchecked, and
 * back with tv_usec made non-negative (-1.5 s is { -2, 500000 }).
 */
import { fieldOffset } from "@sysproxy/protocol"
import { Structs } from "@sysproxy/protocol/netbsd"
import { viewOf } from "../../abi/Timespec.ts"
import { decodeTimeval, TIMEVAL_SIZE } from "../../abi/Timeval.ts"

const US_PER_SEC = 1_000_000n
const TV_SEC = fieldOffset(Structs.timeval, "tv_sec")
const TV_USEC = fieldOffset(Structs.timeval, "tv_usec")

/** The microseconds a delta asks for (int64 arithmetic, wrapping as C's does). */
export const adjustment = (bytes: Uint8Array): bigint => {
  const tv = decodeTimeval(bytes)
  return BigInt.asIntN(64, tv.sec * US_PER_SEC + BigInt(tv.usec))
}

/** Microseconds as olddelta. */
export const encodeAdjustment = (us: bigint): Uint8Array => {
  let sec = us / US_PER_SEC
  let usec = us % US_PER_SEC
  if (usec < 0n) {
    usec += US_PER_SEC
    sec--
  }
  const bytes = new Uint8Array(TIMEVAL_SIZE)
  const view = viewOf(bytes)
  view.setBigInt64(TV_SEC, sec, true)
  view.setInt32(TV_USEC, Number(usec), true)
  return bytes
}
