/**
 * sysctl values by node type, both ways: what __sysctl copies out, and
 * what a write hands it (a string goes with its NUL, as sysctl(8) sends it).
 */
import { Result } from "effect"
import type { SysctlType } from "./SysctlNames.ts"
import { viewOf } from "./StructReader.ts"

/** A node's value: a string, an int, a quad (bigint), a bool, or the raw bytes of a struct or an unknown node. */
export type SysctlValue = string | number | bigint | boolean | Uint8Array

const utf8Decoder = new TextDecoder("utf-8")
const utf8Encoder = new TextEncoder()

/** The value in `bytes` read as `type`; raw bytes when the type is unknown or the length does not fit it. */
export const decodeSysctlValue = (type: SysctlType | undefined, bytes: Uint8Array): SysctlValue => {
  const view = viewOf(bytes)
  switch (type) {
    case "string": {
      const nul = bytes.indexOf(0)
      return utf8Decoder.decode(nul === -1 ? bytes : bytes.subarray(0, nul))
    }
    case "int":
      if (bytes.byteLength === 4) return view.getInt32(0, true)
      if (bytes.byteLength === 8) return Number(view.getBigInt64(0, true))
      return bytes
    case "quad":
      return bytes.byteLength === 8 ? view.getBigInt64(0, true) : bytes
    case "bool":
      return bytes.byteLength === 1 ? bytes[0] !== 0 : bytes
    default:
      return bytes
  }
}

const int32 = (n: number): Uint8Array => {
  const bytes = new Uint8Array(4)
  viewOf(bytes).setInt32(0, n, true)
  return bytes
}

const int64 = (n: bigint): Uint8Array => {
  const bytes = new Uint8Array(8)
  viewOf(bytes).setBigInt64(0, n, true)
  return bytes
}

/** An integer written as a number, a decimal string, a bigint or a boolean; undefined otherwise. */
const integerOf = (value: string | number | bigint | boolean): bigint | undefined => {
  if (typeof value === "bigint") return value
  if (typeof value === "boolean") return value ? 1n : 0n
  if (typeof value === "number") return Number.isSafeInteger(value) ? BigInt(value) : undefined
  return /^-?\d+$/.test(value) ? BigInt(value) : undefined
}

/** The bytes to write for `value`; a failure says why it does not fit the node. */
export const encodeSysctlValue = (
  type: SysctlType | undefined,
  value: SysctlValue
): Result.Result<Uint8Array, string> => {
  if (value instanceof Uint8Array) return Result.succeed(value)
  switch (type) {
    case "string": {
      const text = utf8Encoder.encode(String(value))
      const bytes = new Uint8Array(text.byteLength + 1)
      bytes.set(text)
      return Result.succeed(bytes)
    }
    case "int": {
      const n = integerOf(value)
      return n !== undefined && n >= -(1n << 31n) && n < 1n << 31n
        ? Result.succeed(int32(Number(n)))
        : Result.fail(`${String(value)} is not a 32-bit integer`)
    }
    case "quad": {
      const n = integerOf(value)
      return n !== undefined && n >= -(1n << 63n) && n < 1n << 63n
        ? Result.succeed(int64(n))
        : Result.fail(`${String(value)} is not a 64-bit integer`)
    }
    case "bool": {
      const n = integerOf(value)
      return n === 0n || n === 1n ? Result.succeed(new Uint8Array([Number(n)])) : Result.fail(`${String(value)} is not a boolean`)
    }
    default:
      return Result.fail(`a ${type ?? "node of unknown type"} takes raw bytes`)
  }
}
