/** struct timespec (Structs.timespec) as the client reads it. */
import { Structs } from "@sysproxy/protocol/netbsd"
import { structReader } from "./StructReader.ts"

/** Whole seconds since the epoch and nanoseconds in [0, 1e9). */
export interface Timespec {
  readonly sec: bigint
  readonly nsec: number
}

const read = structReader(Structs.timespec)

/** The timespec that starts `offset` bytes into `bytes`. */
export const decodeTimespec = (bytes: Uint8Array, offset = 0): Timespec => {
  const r = read(bytes, offset)
  return { sec: r.big("tv_sec"), nsec: r.int("tv_nsec") }
}

/** The time as a Date (millisecond precision). */
export const timespecToDate = (ts: Timespec): Date => new Date(Number(ts.sec) * 1000 + Math.floor(ts.nsec / 1e6))
