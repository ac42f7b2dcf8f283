/** Readers for a syscall's argument block (8-byte little-endian slots). */
import type { SyscallArgs } from "./TestKernel.ts"

const SLOT = 8

export const makeSyscallArgs = (block: Uint8Array): SyscallArgs => {
  const view = new DataView(block.buffer, block.byteOffset, block.byteLength)
  const slots = Math.floor(block.byteLength / SLOT)
  // A short block reads as zeros rather than throwing a RangeError at the handler.
  const inRange = (slot: number, bytes: number) =>
    Number.isInteger(slot) && slot >= 0 && slot * SLOT + bytes <= block.byteLength
  return {
    view,
    slots,
    u64: (slot) => (inRange(slot, 8) ? view.getBigUint64(slot * SLOT, true) : 0n),
    i64: (slot) => (inRange(slot, 8) ? view.getBigInt64(slot * SLOT, true) : 0n),
    i32: (slot) => (inRange(slot, 4) ? view.getInt32(slot * SLOT, true) : 0),
    u32: (slot) => (inRange(slot, 4) ? view.getUint32(slot * SLOT, true) : 0)
  }
}

/** Packs values into an argument block, one slot each (negative numbers two's complement). */
export const packArgs = (...values: ReadonlyArray<bigint | number>): Uint8Array => {
  const block = new Uint8Array(values.length * SLOT)
  const view = new DataView(block.buffer)
  values.forEach((value, i) => view.setBigUint64(i * SLOT, BigInt.asUintN(64, BigInt(value)), true))
  return block
}
