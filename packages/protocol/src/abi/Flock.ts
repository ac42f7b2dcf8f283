/**
 * struct flock as NetBSD/amd64 lays it out (Structs.flock, 24 bytes): the
 * record lock fcntl's F_GETLK/F_SETLK/F_SETLKW read and F_GETLK writes.
 */
import { allocBytes, viewOf } from "../Bytes.ts"
import { Structs } from "../netbsd/index.ts"
import { fieldOffset } from "./Fields.ts"

export interface Flock {
  readonly start: bigint
  /** 0: to the end of the file, however far it grows; negative: the bytes before start. */
  readonly len: bigint
  readonly pid: number
  /** F_RDLCK, F_WRLCK, F_UNLCK. */
  readonly type: number
  /** SEEK_SET, SEEK_CUR, SEEK_END: what start counts from. */
  readonly whence: number
}

export const FLOCK_SIZE = Structs.flock.size

const at = (name: string) => fieldOffset(Structs.flock, name)
const START = at("l_start")
const LEN = at("l_len")
const PID = at("l_pid")
const TYPE = at("l_type")
const WHENCE = at("l_whence")

/** The struct flock at the start of `bytes` (at least FLOCK_SIZE of them). */
export const decodeFlock = (bytes: Uint8Array): Flock => {
  const v = viewOf(bytes)
  const o = bytes.byteOffset
  return {
    start: v.getBigInt64(o + START, true),
    len: v.getBigInt64(o + LEN, true),
    pid: v.getInt32(o + PID, true),
    type: v.getInt16(o + TYPE, true),
    whence: v.getInt16(o + WHENCE, true)
  }
}

/** The 24 bytes of a struct flock (start and len wrapped to 64 bits). */
export const encodeFlock = (f: Flock): Uint8Array => {
  const bytes = allocBytes(FLOCK_SIZE)
  const v = viewOf(bytes)
  const o = bytes.byteOffset
  v.setBigInt64(o + START, BigInt.asIntN(64, f.start), true)
  v.setBigInt64(o + LEN, BigInt.asIntN(64, f.len), true)
  v.setInt32(o + PID, f.pid, true)
  v.setInt16(o + TYPE, f.type, true)
  v.setInt16(o + WHENCE, f.whence, true)
  return bytes
}
