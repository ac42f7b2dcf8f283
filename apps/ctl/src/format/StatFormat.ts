/**
 * stat(1)'s formats, as NetBSD's stat reads them: text copied out, `%n`
 * `%t` `%%` `%@`, and fields `%[flags][size][.prec][fmt][sub]datum`:
 *
 * - flags `#` (alternate form), `+`, space, `0`, `-`, as printf's;
 * - fmt D O U X (numbers: signed, octal, unsigned, hex), F (a time as
 *   seconds.fraction, prec digits, 9 by default), S (a string: the mode as
 *   ls shows it, a time through the -t format, the " -> target" of a link);
 * - sub H, M, L: the mode's type / special / permission bits, a device's
 *   major / minor, size in GB / MB / KB (rounded), the path's directory /
 *   last part, %T's long name;
 * - datum d i p l u g r a m c B z b k f v N T Y Z.
 *
 * Owners print as numbers even as strings (the server has no user
 * database), device names as ??? (it has no /dev names to look up). A
 * field that a datum does not take is BadFormat (`stat: %...: bad
 * format`).
 */
import type { Stat } from "@sysproxy/client"
import { modeBits } from "@sysproxy/protocol/netbsd"
import { deviceMajor, deviceMinor, isDevice, modeString, typeMark } from "./Mode.ts"
import { strftime } from "./Strftime.ts"

/** stat(1)'s built-in formats. */
export const FORMATS = {
  default: `%d %i %Sp %l %Su %Sg %r %z "%Sa" "%Sm" "%Sc" "%SB" %k %b %#Xf %N`,
  raw: "%d %i %#p %l %u %g %r %z %a %m %c %B %k %b %f %N",
  ls: "%Sp %l %Su %Sg %Z %Sm %N%SY",
  lsF: "%Sp %l %Su %Sg %Z %Sm %N%T%SY",
  shell: "st_dev=%d st_ino=%i st_mode=%#p st_nlink=%l st_uid=%u st_gid=%g st_rdev=%r st_size=%z " +
    "st_atime=%a st_mtime=%m st_ctime=%c st_birthtime=%B st_blksize=%k st_blocks=%b st_flags=%f",
  linux: `  File: "%N"%n  Size: %-11z  FileType: %HT%n  Mode: (%04OLp/%.10Sp)         Uid: (%5u/%8Su)  Gid: (%5g/%8Sg)%n` +
    `Device: %Hd,%Ld   Inode: %i    Links: %l%nAccess: %Sa%nModify: %Sm%nChange: %Sc`
} as const

/** stat's default time format. */
export const TIME_FORMAT = "%b %e %T %Y"

/** What a field needs besides the stat: the name as given, the link's target, the time format. */
export interface FieldContext {
  readonly name: string
  readonly linkTarget: string | undefined
  readonly timeFormat: string
}

/** A format that is not one: `%...: bad format`, as stat says it. */
export class BadFormat {
  readonly field: string
  constructor(field: string) {
    this.field = field
  }
}

/** Thrown within this module only: formatStat gives it back as its result. */
class Bad {
  readonly field: string
  constructor(field: string) {
    this.field = field
  }
}

interface Spec {
  readonly pound: boolean
  readonly space: boolean
  readonly plus: boolean
  readonly zero: boolean
  readonly minus: boolean
  readonly size: number | undefined
  readonly prec: number | undefined
  readonly fmt: "D" | "O" | "U" | "X" | "F" | "S" | undefined
  readonly sub: "H" | "M" | "L" | undefined
}

const U64 = (n: number | bigint) => BigInt.asUintN(64, BigInt(n))

/** printf's %[flags][size][.prec]s. */
const formatString = (s: string, spec: Spec) => {
  const text = spec.prec === undefined ? s : s.slice(0, spec.prec)
  const width = spec.size ?? 0
  return spec.minus ? text.padEnd(width) : text.padStart(width)
}

/** printf's %[flags][size][.prec]ll{d,o,u,X}. */
const formatNumber = (given: bigint, spec: Spec, fmt: "D" | "O" | "U" | "X") => {
  // the datum is a 64-bit unsigned: %lld reads it as signed (NODEV is -1), the others as it is
  const value = fmt === "D" ? BigInt.asIntN(64, given) : U64(given)
  const negative = value < 0n
  const magnitude = negative ? -value : value
  let digits = fmt === "O" ? magnitude.toString(8) : fmt === "X" ? magnitude.toString(16).toUpperCase() : magnitude.toString(10)
  if (spec.prec !== undefined) digits = digits.padStart(spec.prec, "0")
  if (spec.prec === 0 && magnitude === 0n) digits = ""
  let prefix = ""
  if (fmt === "D") prefix = negative ? "-" : spec.plus ? "+" : spec.space ? " " : ""
  if (spec.pound && fmt === "O" && !digits.startsWith("0")) digits = `0${digits}`
  if (spec.pound && fmt === "X" && magnitude !== 0n) prefix = "0X"
  const width = spec.size ?? 0
  const body = prefix + digits
  if (spec.minus) return body.padEnd(width)
  if (spec.zero && spec.prec === undefined) return prefix + digits.padStart(width - prefix.length, "0")
  return body.padStart(width)
}

const typeName = (mode: number): string => {
  switch (mode & modeBits.S_IFMT) {
    case modeBits.S_IFIFO:
      return "Fifo File"
    case modeBits.S_IFCHR:
      return "Character Device"
    case modeBits.S_IFDIR:
      return "Directory"
    case modeBits.S_IFBLK:
      return "Block Device"
    case modeBits.S_IFREG:
      return "Regular File"
    case modeBits.S_IFLNK:
      return "Symbolic Link"
    case modeBits.S_IFSOCK:
      return "Socket"
    case modeBits.S_IFWHT:
      return "Whiteout File"
    default:
      return "???"
  }
}

/** A 64-bit dev_t's major and minor (the numbers are in its low 32 bits). */
const major = (dev: bigint) => BigInt(deviceMajor(Number(dev & 0xffffffffn)))
const minor = (dev: bigint) => BigInt(deviceMinor(Number(dev & 0xffffffffn)))

/** The data that are numbers and nothing more: ino, nlink, blocks, blksize, flags, gen. */
const PLAIN: Readonly<Record<string, (st: Stat) => number>> = {
  i: (st) => st.ino,
  l: (st) => st.nlink,
  b: (st) => st.blocks,
  k: (st) => st.blksize,
  f: (st) => st.flags,
  v: (st) => st.gen
}

/** The path's directory (H) or last part (L), as stat trims them. */
const namePiece = (name: string, sub: "H" | "L") => {
  let path = name
  while (path.length > 1 && path.endsWith("/")) path = path.slice(0, -1)
  const slash = path.lastIndexOf("/")
  if (sub === "L") return slash === -1 || slash === path.length - 1 ? path : path.slice(slash + 1)
  if (slash === -1) return "."
  let dir = path.slice(0, slash)
  while (dir.length > 1 && dir.endsWith("/")) dir = dir.slice(0, -1)
  return dir === "" ? "/" : dir
}

/** One field's text. */
const field = (st: Stat, ctx: FieldContext, spec: Spec, datum: string, raw: string): string => {
  const bad = (): never => {
    throw new Bad(raw)
  }
  let sub = spec.sub
  let data: bigint
  let text: string | undefined
  let formats: string
  let fmt: string | undefined = spec.fmt
  let small = false
  let shift = 0
  let when: Stat["atime"] | undefined
  switch (datum) {
    case "d":
    case "r": {
      data = U64(datum === "d" ? st.dev : st.rdev)
      text = "???"
      if (sub === "H") data = major(data)
      else if (sub === "L") data = minor(data)
      else if (sub === "M") bad()
      sub = undefined
      formats = "DOUXS"
      fmt ??= "U"
      break
    }
    case "p": {
      small = true
      data = BigInt(st.mode)
      const s = modeString(st.mode)
      text = s
      if (sub === "H") {
        data >>= 12n
        text = s.slice(1, 4)
      } else if (sub === "M") {
        data = (data >> 9n) & 7n
        text = s.slice(4, 7)
      } else if (sub === "L") {
        data &= 0o777n
        text = s.slice(7, 10)
      }
      sub = undefined
      formats = "DOUXS"
      fmt ??= "O"
      break
    }
    case "u":
    case "g":
      small = true
      data = BigInt(datum === "u" ? st.uid : st.gid)
      text = String(data)
      formats = "DOUXS"
      fmt ??= "U"
      break
    case "a":
    case "m":
    case "c":
    case "B":
      when = datum === "a" ? st.atime : datum === "m" ? st.mtime : datum === "c" ? st.ctime : st.birthtime
      data = BigInt(when.sec)
      text = strftime(ctx.timeFormat, new Date(Number(when.sec) * 1000 + Math.floor(when.nsec / 1e6)))
      formats = "DOUXFS"
      fmt ??= "D"
      break
    case "z":
      data = BigInt(st.size)
      formats = "DOUX"
      fmt ??= "U"
      shift = sub === "H" ? 30 : sub === "M" ? 20 : sub === "L" ? 10 : 0
      sub = undefined
      break
    case "Y": {
      data = 0n
      const isLink = (st.mode & modeBits.S_IFMT) === modeBits.S_IFLNK
      text = isLink && ctx.linkTarget !== undefined ? (fmt === "S" ? ` -> ${ctx.linkTarget}` : ctx.linkTarget) : ""
      formats = "S"
      fmt ??= "S"
      break
    }
    case "T":
      if (sub === "M") bad()
      data = 0n
      text = sub === "H" ? typeName(st.mode) : typeMark(st.mode, true)
      sub = undefined
      formats = "S"
      fmt ??= "S"
      break
    case "N":
      if (sub === "M") bad()
      data = 0n
      text = sub === "H" || sub === "L" ? namePiece(ctx.name, sub) : ctx.name
      sub = undefined
      formats = "S"
      fmt ??= "S"
      break
    case "Z":
      if (isDevice(st.mode)) {
        const rdev = U64(st.rdev)
        const part = (d: bigint) => formatNumber(d, spec, (spec.fmt ?? "U") as "D" | "O" | "U" | "X")
        if (spec.fmt !== undefined && !"DOUX".includes(spec.fmt)) bad()
        return `${part(major(rdev))},${part(minor(rdev))}`
      }
      return field(st, ctx, spec, "z", raw)
    default: {
      const plain = PLAIN[datum]
      if (plain === undefined) return bad()
      data = BigInt(plain(st))
      formats = "DOUX"
      fmt ??= "U"
    }
  }
  if (sub !== undefined || fmt === undefined || !formats.includes(fmt)) return bad()
  if (fmt === "F") {
    const t = when!
    const secs = BigInt(t.sec)
    const prec = spec.prec ?? 9
    if (prec === 0) return formatNumber(secs, { ...spec, prec: undefined }, "D")
    const fraction = String(t.nsec).padStart(9, "0").slice(0, Math.min(prec, 9)).padEnd(prec, "0")
    const width = spec.size === undefined ? undefined : spec.size - prec - 1
    const whole = formatNumber(secs, { ...spec, size: width !== undefined && width > 0 ? width : undefined, prec: undefined }, "D")
    return `${whole}.${fraction}`
  }
  if (fmt === "S") {
    if (text === undefined) bad()
    return formatString(text!, spec)
  }
  let value = data
  if (small && fmt !== "D") value = BigInt.asUintN(32, value)
  // to the nearest kilo-, mega- or gigabyte
  if (shift > 0) value = ((value >> BigInt(shift - 1)) + 1n) >> 1n
  return formatNumber(value, spec, fmt as "D" | "O" | "U" | "X")
}

/**
 * The format applied to one file (the `number`th operand, for %@); a
 * newline is added unless the output is empty or already ends with one,
 * or `noNewline`. A field it cannot print gives BadFormat.
 */
export const formatStat = (
  format: string,
  st: Stat,
  ctx: FieldContext,
  number: number,
  noNewline = false
): string | BadFormat => {
  try {
    return formatFields(format, st, ctx, number, noNewline)
  } catch (e) {
    if (e instanceof Bad) return new BadFormat(e.field)
    throw e
  }
}

const formatFields = (format: string, st: Stat, ctx: FieldContext, number: number, noNewline: boolean): string => {
  let out = ""
  let i = 0
  while (i < format.length) {
    const ch = format[i]!
    if (ch !== "%") {
      out += ch
      i++
      continue
    }
    const start = i
    i++
    const simple = format[i]
    if (simple === "n" || simple === "t" || simple === "%" || simple === "@") {
      out += simple === "n" ? "\n" : simple === "t" ? "\t" : simple === "%" ? "%" : String(number)
      i++
      continue
    }
    const flags = { pound: false, space: false, plus: false, zero: false, minus: false }
    for (;; i++) {
      const f = format[i]
      if (f === "#") flags.pound = true
      else if (f === " ") flags.space = true
      else if (f === "+") flags.plus = true
      else if (f === "0") flags.zero = true
      else if (f === "-") flags.minus = true
      else break
    }
    const size = /^\d+/.exec(format.slice(i))?.[0]
    if (size !== undefined) i += size.length
    let prec: number | undefined
    if (format[i] === ".") {
      const digits = /^\d*/.exec(format.slice(i + 1))![0]
      prec = digits === "" ? 0 : Number(digits)
      i += 1 + digits.length
    }
    const fmtChar = format[i]
    const fmt = fmtChar !== undefined && "DOUXFS".includes(fmtChar) ? (fmtChar as Spec["fmt"]) : undefined
    if (fmt !== undefined) i++
    const subChar = format[i]
    const sub = subChar !== undefined && "HML".includes(subChar) ? (subChar as Spec["sub"]) : undefined
    if (sub !== undefined) i++
    const datum = format[i]
    if (datum === undefined) throw new Bad(format.slice(start))
    i++
    const spec: Spec = { ...flags, size: size === undefined ? undefined : Number(size), prec, fmt, sub }
    out += field(st, ctx, spec, datum, format.slice(start, i))
  }
  return noNewline || out === "" || out.endsWith("\n") ? out : `${out}\n`
}
