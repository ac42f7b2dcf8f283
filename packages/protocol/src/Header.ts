/**
 * The 24-byte frame header as a Schema over bytes.
 *
 * class and type are kept as plain u16 numbers here: a frame of an unknown
 * class or type still has a valid length, so the stream can be cut past it
 * and the server can answer MALFORMED_REQUEST with its reqno. The literal
 * unions are enforced one level up, when the header and body become a Frame.
 */
import { Schema, SchemaTransformation } from "effect"
import { viewOf } from "./Bytes.ts"
import { HEADER_SIZE } from "./Constants.ts"

const U16 = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xffff }))
const U32 = Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xffffffff }))
const U64 = Schema.BigInt.check(Schema.isBetweenBigInt({ minimum: 0n, maximum: 0xffffffffffffffffn }))

export const Header = Schema.Struct({
  /** Whole frame length, header included. */
  len: U64.check(Schema.isGreaterThanOrEqualToBigInt(BigInt(HEADER_SIZE))),
  reqno: U64,
  class: U16,
  type: U16,
  /** The union: syscall number, error code, handshake kind or signal. */
  arg: U32
})
export type Header = typeof Header.Type

const HeaderBytes = Schema.Uint8Array.check(
  Schema.makeFilter((u: Uint8Array) =>
    u.byteLength === HEADER_SIZE || `expected ${HEADER_SIZE} header bytes, got ${u.byteLength}`
  )
)

/** Reads the header fields of a 24-byte little-endian view. */
export const readHeaderFields = (b: Uint8Array): typeof Header.Encoded => {
  const v = viewOf(b)
  const o = b.byteOffset
  return {
    len: v.getBigUint64(o, true),
    reqno: v.getBigUint64(o + 8, true),
    class: v.getUint16(o + 16, true),
    type: v.getUint16(o + 18, true),
    arg: v.getUint32(o + 20, true)
  }
}

/**
 * The `len` of the header at `at` in `b`, as a number, without making a header (or any bigint):
 * what cutting the stream needs. A length past 2^53 comes out inexact but
 * still far over any frame limit.
 */
export const readFrameLength = (b: Uint8Array, at = 0): number => {
  const v = viewOf(b)
  const o = b.byteOffset + at
  return v.getUint32(o, true) + v.getUint32(o + 4, true) * 0x1_0000_0000
}

/** The header's class, type and union as numbers (what picks the message kind). */
export interface KindFields {
  readonly class: number
  readonly type: number
  readonly arg: number
}

/** Reads class, type and arg of a header into `into` (reused: no object per frame). */
export const readKindFields = (b: Uint8Array, into: { class: number; type: number; arg: number }): void => {
  const v = viewOf(b)
  const o = b.byteOffset
  into.class = v.getUint16(o + 16, true)
  into.type = v.getUint16(o + 18, true)
  into.arg = v.getUint32(o + 20, true)
}

/** Writes a header at the start of `view` (which may be a whole frame). */
export const writeHeaderFields = (view: DataView, h: Header): void => {
  view.setBigUint64(0, h.len, true)
  view.setBigUint64(8, h.reqno, true)
  view.setUint16(16, h.class, true)
  view.setUint16(18, h.type, true)
  view.setUint32(20, h.arg, true)
}

export const HeaderFromBytes = HeaderBytes.pipe(
  Schema.decodeTo(
    Header,
    SchemaTransformation.transform({
      decode: (b) => readHeaderFields(b),
      encode: (h) => {
        const bytes = new Uint8Array(HEADER_SIZE)
        writeHeaderFields(new DataView(bytes.buffer), h)
        return bytes
      }
    })
  )
)
