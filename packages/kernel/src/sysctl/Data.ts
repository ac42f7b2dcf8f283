/**
 * Leaf values as sysctl_lookup reads and writes them: strings with their
 * NUL, ints (4 bytes), quads (8), bools (1), each read from (and written
 * to) wherever the kernel keeps it. A setter returning an errno refuses
 * the new value, leaving the old one.
 */
import { allocBytes, viewOf } from "@sysproxy/protocol"
import type { SyscallContext } from "../kern/SyscallContext.ts"
import type { SysctlData } from "./Node.ts"

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** A string as sysctl copies it: its UTF-8 bytes and a NUL. */
export const cString = (s: string): Uint8Array => {
  const utf8 = encoder.encode(s)
  const bytes = new Uint8Array(utf8.byteLength + 1)
  bytes.set(utf8)
  return bytes
}

/** A string read through `get` (its bytes cached while it stays the same string), stored through `set`. */
export const stringData = (
  get: (ctx: SyscallContext) => string,
  set?: (ctx: SyscallContext, value: string) => number | void
): SysctlData => {
  let last: string | undefined
  let lastBytes: Uint8Array = new Uint8Array(1)
  return {
    get: (ctx) => {
      const s = get(ctx)
      if (s !== last) {
        last = s
        lastBytes = cString(s)
      }
      return lastBytes
    },
    ...(set === undefined ? {} : { set: (ctx, value) => set(ctx, decoder.decode(value)) })
  }
}

export const constString = (s: string): SysctlData => {
  const bytes = cString(s)
  return { get: () => bytes }
}

export const int32 = (n: number): Uint8Array => {
  const bytes = allocBytes(4)
  viewOf(bytes).setInt32(bytes.byteOffset, n, true)
  return bytes
}

const readInt = (bytes: Uint8Array) => viewOf(bytes).getInt32(bytes.byteOffset, true)

export const intData = (
  get: (ctx: SyscallContext) => number,
  set?: (ctx: SyscallContext, value: number) => number | void
): SysctlData => ({
  get: (ctx) => int32(get(ctx)),
  ...(set === undefined ? {} : { set: (ctx, value) => set(ctx, readInt(value)) })
})

/** An int the kernel keeps in the node itself (a variable no other code reads), optionally checked. */
export const intVariable = (initial: number, accept?: (value: number) => boolean): SysctlData => {
  let value = initial
  return intData(() => value, (_ctx, next) => {
    if (accept !== undefined && !accept(next)) return 22 // EINVAL
    value = next
  })
}

export const quadData = (
  get: (ctx: SyscallContext) => bigint,
  set?: (ctx: SyscallContext, value: bigint) => number | void
): SysctlData => ({
  get: (ctx) => {
    const bytes = allocBytes(8)
    viewOf(bytes).setBigInt64(bytes.byteOffset, BigInt.asIntN(64, get(ctx)), true)
    return bytes
  },
  ...(set === undefined ? {} : {
    set: (ctx, value) => set(ctx, viewOf(value).getBigInt64(value.byteOffset, true))
  })
})

export const boolVariable = (initial: boolean): SysctlData => {
  let value = initial
  return {
    get: () => new Uint8Array([value ? 1 : 0]),
    set: (_ctx, next) => {
      value = next[0] === 1
    }
  }
}
