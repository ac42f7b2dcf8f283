/**
 * Reading a NetBSD struct out of the bytes the kernel copied out, by field
 * name, from the layouts in @sysproxy/protocol/netbsd (offsets, widths and
 * signedness come from there; nothing here knows a struct by heart).
 */
import type { StructLayout } from "@sysproxy/protocol/netbsd"

export interface StructReader<F extends string> {
  /** An integer field of up to 8 bytes, at its width and signedness, as a number. */
  readonly int: (name: F) => number
  /** An integer field as a bigint (for 64-bit values that need every bit). */
  readonly big: (name: F) => bigint
  /** A char array as the string before its first NUL (UTF-8). */
  readonly chars: (name: F) => string
  /** Where a field starts, relative to the struct. */
  readonly offset: (name: F) => number
  readonly view: DataView
  /** Where the struct starts in `view`. */
  readonly base: number
}

type FieldName<L extends StructLayout> = L["fields"][number]["name"]

const utf8 = new TextDecoder("utf-8")

export const viewOf = (bytes: Uint8Array): DataView => new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)

/**
 * A reader factory for one layout: `reader(bytes, base)` reads the struct
 * that starts at `base`. A field name the layout lacks is a programming
 * error and throws.
 */
export const structReader = <L extends StructLayout>(layout: L) => {
  const fields = new Map(layout.fields.map((f) => [f.name, f]))
  const field = (name: string) => {
    const f = fields.get(name)
    if (f === undefined) throw new Error(`no field ${name} in this struct layout`)
    return f
  }
  return (bytes: Uint8Array, base = 0): StructReader<FieldName<L>> => {
    const view = viewOf(bytes)
    const big = (name: string): bigint => {
      const f = field(name)
      const at = base + f.offset
      const signed = f.signed === true
      switch (f.size) {
        case 1:
          return BigInt(signed ? view.getInt8(at) : view.getUint8(at))
        case 2:
          return BigInt(signed ? view.getInt16(at, true) : view.getUint16(at, true))
        case 4:
          return BigInt(signed ? view.getInt32(at, true) : view.getUint32(at, true))
        case 8:
          return signed ? view.getBigInt64(at, true) : view.getBigUint64(at, true)
        default:
          throw new Error(`field ${name} is ${f.size} bytes, not an integer`)
      }
    }
    return {
      int: (name) => Number(big(name)),
      big,
      chars: (name) => {
        const f = field(name)
        const raw = new Uint8Array(view.buffer, view.byteOffset + base + f.offset, f.size)
        const nul = raw.indexOf(0)
        return utf8.decode(nul === -1 ? raw : raw.subarray(0, nul))
      },
      offset: (name) => field(name).offset,
      view,
      base
    }
  }
}
