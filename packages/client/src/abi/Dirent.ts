/**
 * The struct dirent records __getdents30 fills a buffer with
 * (Structs.dirent): each says its own length (d_reclen), so the buffer is
 * walked record by record.
 */
import { fieldOffset } from "@sysproxy/protocol"
import { Structs } from "@sysproxy/protocol/netbsd"
import { Result } from "effect"
import { structReader } from "./StructReader.ts"

export interface Dirent {
  readonly fileno: number
  /** A DT_* value (direntTypes). */
  readonly type: number
  readonly name: string
}

const read = structReader(Structs.dirent)
const NAME = fieldOffset(Structs.dirent, "d_name")
const utf8 = new TextDecoder("utf-8")

/**
 * Every record in `bytes`; a failure (with the reason) on a record whose
 * length is zero or runs past the end, which a correct kernel never sends.
 */
export const decodeDirents = (bytes: Uint8Array): Result.Result<Array<Dirent>, string> => {
  const entries: Array<Dirent> = []
  let at = 0
  while (at < bytes.byteLength) {
    if (bytes.byteLength - at < NAME) return Result.fail(`a truncated record at byte ${at}`)
    const r = read(bytes, at)
    const reclen = r.int("d_reclen")
    const namlen = r.int("d_namlen")
    if (reclen === 0 || at + reclen > bytes.byteLength || NAME + namlen > reclen) {
      return Result.fail(`a record of bad length ${reclen} at byte ${at}`)
    }
    entries.push({
      fileno: r.int("d_fileno"),
      type: r.int("d_type"),
      name: utf8.decode(bytes.subarray(at + NAME, at + NAME + namlen))
    })
    at += reclen
  }
  return Result.succeed(entries)
}
