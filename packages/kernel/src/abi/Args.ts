/**
 * Reading a syscall's argument block: one 8-byte little-endian slot per
 * argument, of which only the C type's own width counts (an `int` -1
 * arrives as ff ff ff ff 00 00 00 00). Slots past the end read as zero.
 */
import { viewOf } from "@sysproxy/protocol"

export class Args {
  readonly bytes: Uint8Array

  constructor(bytes: Uint8Array) {
    this.bytes = bytes
  }

  /** The shared view over the buffer behind the block (Bytes.viewOf): no DataView per call. */
  private get view(): DataView {
    return viewOf(this.bytes)
  }

  private has(slot: number, width: number): boolean {
    return slot * 8 + width <= this.bytes.byteLength
  }

  /** int, pid_t, mode_t as signed 32-bit. */
  int(slot: number): number {
    return this.has(slot, 4) ? this.view.getInt32(this.bytes.byteOffset + slot * 8, true) : 0
  }

  /** u_int, mode_t, uid_t, gid_t: unsigned 32-bit. */
  uint(slot: number): number {
    return this.has(slot, 4) ? this.view.getUint32(this.bytes.byteOffset + slot * 8, true) : 0
  }

  /** long, off_t, ssize_t, time_t: signed 64-bit. */
  long(slot: number): bigint {
    return this.has(slot, 8) ? this.view.getBigInt64(this.bytes.byteOffset + slot * 8, true) : 0n
  }

  /** u_long, size_t, pointers: unsigned 64-bit. */
  ulong(slot: number): bigint {
    return this.has(slot, 8) ? this.view.getBigUint64(this.bytes.byteOffset + slot * 8, true) : 0n
  }

  /** A client pointer (0 is NULL). */
  ptr(slot: number): bigint {
    return this.ulong(slot)
  }

  /** size_t as a number, saturating where a JS number cannot hold it exactly. */
  size(slot: number): number {
    const v = this.ulong(slot)
    return v > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(v)
  }
}

/** Builds an argument block (for in-process callers and tests). */
export const packArgs = (...values: ReadonlyArray<bigint | number>): Uint8Array => {
  const bytes = new Uint8Array(values.length * 8)
  const view = new DataView(bytes.buffer)
  values.forEach((v, i) => view.setBigUint64(i * 8, BigInt.asUintN(64, BigInt(v)), true))
  return bytes
}
