/**
 * struct dirent records as __getdents30 returns them (Structs.dirent):
 * d_fileno u64, d_reclen u16, d_namlen u16, d_type u8, then the name and
 * its NUL, the record padded with zeros to a multiple of 8.
 */
import { Structs } from "@sysproxy/protocol/netbsd"

export interface DirentRecord {
  readonly fileno: number
  /** A DT_* value. */
  readonly type: number
  /** The name's bytes (no NUL). */
  readonly name: Uint8Array
}

const offsets = new Map<string, number>(Structs.dirent.fields.map((f) => [f.name, f.offset]))
const at = (name: string): number => offsets.get(name) ?? 0
const NAME = at("d_name")
const ALIGN = Structs.dirent.align

/** d_reclen of a record with a name of `namlen` bytes: `.` and `..` take 16. */
export const direntSize = (namlen: number): number => Math.ceil((NAME + namlen + 1) / ALIGN) * ALIGN

/** One record, d_reclen bytes long. */
export const encodeDirent = (rec: DirentRecord): Uint8Array => {
  const reclen = direntSize(rec.name.length)
  const bytes = new Uint8Array(reclen)
  const view = new DataView(bytes.buffer)
  view.setBigUint64(at("d_fileno"), BigInt(rec.fileno), true)
  view.setUint16(at("d_reclen"), reclen, true)
  view.setUint16(at("d_namlen"), rec.name.length, true)
  view.setUint8(at("d_type"), rec.type)
  bytes.set(rec.name, NAME)
  return bytes
}
