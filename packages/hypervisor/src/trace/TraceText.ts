/**
 * A trace record as strace prints a syscall with `-f -tt -T`, the pid
 * followed by the program name:
 *
 *   [pid 4<myprog>] 12:34:56.789012 open("/tmp/log", 513, 0644) = 3 <0.000120>
 *   [pid 4<myprog>] 12:34:56.790001 write(3, 0x10000000<6 bytes>, 6) = -1 ENOSPC (No space left on device) <0.000031>
 *
 * Buffers show their address and the bytes the kernel copied there, not
 * their contents; a string is shown when the kernel read it. The time is
 * UTC (the record's own clock), so traces from two machines line up.
 */
import { errnoMessage, Errno } from "@sysproxy/protocol/netbsd"
import type { TraceArg, TraceRecord } from "./TraceRecord.ts"

const ERRNOS: Readonly<Record<string, number>> = Errno

const quote = (s: string): string => {
  let out = '"'
  for (const ch of s) {
    const c = ch.codePointAt(0)!
    if (ch === '"' || ch === "\\") out += `\\${ch}`
    else if (ch === "\n") out += "\\n"
    else if (ch === "\t") out += "\\t"
    else if (c < 0x20 || c === 0x7f) out += `\\x${c.toString(16).padStart(2, "0")}`
    else out += ch
  }
  return `${out}"`
}

const formatArg = (a: TraceArg): string => {
  if (a.string !== undefined) return quote(a.string)
  if (a.addr !== undefined) {
    if (a.addr === "0x0") return "NULL"
    return a.bytes === undefined ? a.addr : `${a.addr}<${a.bytes} bytes>`
  }
  if (a.mode === true && typeof a.value === "number") return `0${a.value.toString(8)}`
  return String(a.value)
}

const formatResult = (r: TraceRecord): string => {
  if (r.interrupted === true) return "? <interrupted>"
  if (r.errno !== null) {
    const n = ERRNOS[r.errno]
    return `-1 ${r.errno} (${n === undefined ? r.errno : errnoMessage(n)})`
  }
  return String(r.retval)
}

/** `12:34:56.789012` from the record's ISO time. */
const clock = (iso: string): string => /T(\d\d:\d\d:\d\d(?:\.\d+)?)/.exec(iso)?.[1] ?? iso

/** One line, without its newline. */
export const formatTraceLine = (r: TraceRecord): string =>
  `[pid ${r.pid}${r.comm === null ? "" : `<${r.comm}>`}] ${clock(r.time)} ${r.syscall}(${
    r.args.map(formatArg).join(", ")
  }) = ${formatResult(r)} <${r.duration.toFixed(6)}>`
