/** struct timespec as the client reads it: the shared codec, and a Date for it. */
import { readTimespec, type Timespec } from "@sysproxy/protocol"

export type { Timespec }

/** The timespec that starts `offset` bytes into `bytes`. */
export const decodeTimespec = (bytes: Uint8Array, offset = 0): Timespec =>
  readTimespec(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset)

/** The time as a Date (millisecond precision). */
export const timespecToDate = (ts: Timespec): Date => new Date(Number(ts.sec) * 1000 + Math.floor(ts.nsec / 1e6))
