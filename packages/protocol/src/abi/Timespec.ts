/**
 * struct timespec as NetBSD/amd64 lays it out (Structs.timespec):
 * { time_t tv_sec; long tv_nsec }, 16 bytes, little-endian. Shared by the
 * kernel (which writes it) and the client (which reads it).
 */
import { Structs } from "../netbsd/index.ts"
import { fieldOffset } from "./Fields.ts"

/** A point in time (or a duration): whole seconds and nanoseconds in [0, 1e9). */
export interface Timespec {
  readonly sec: bigint
  readonly nsec: number
}

export const TIMESPEC_SIZE = Structs.timespec.size
const TS_SEC = fieldOffset(Structs.timespec, "tv_sec")
const TS_NSEC = fieldOffset(Structs.timespec, "tv_nsec")

/** Writes `ts` at byte `offset` of `view`. */
export const writeTimespec = (view: DataView, offset: number, ts: Timespec): void => {
  view.setBigInt64(offset + TS_SEC, ts.sec, true)
  view.setBigInt64(offset + TS_NSEC, BigInt(ts.nsec), true)
}

/** The timespec at byte `offset` of `view`. */
export const readTimespec = (view: DataView, offset: number): Timespec => ({
  sec: view.getBigInt64(offset + TS_SEC, true),
  nsec: Number(view.getBigInt64(offset + TS_NSEC, true))
})
