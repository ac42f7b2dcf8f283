/**
 * The banner the server writes right after accepting:
 * `RUMPSP-<major>.<minor>-<ostype>-<osrelease>/<machine>\n`.
 */
import { Result, Schema } from "effect"

export const PROTOCOL_MAJOR = 0
export const PROTOCOL_MINOR = 4
/** Bytes, including the newline. */
export const MAX_BANNER = 96

const MAGIC = "RUMPSP-"
const NEWLINE = 0x0a

export interface Identity {
  readonly ostype: string
  readonly osrelease: string
  readonly machine: string
}

export interface ParsedBanner {
  readonly major: number
  readonly minor: number
  readonly identity: Identity
}

export const BannerErrorReason = Schema.Literals([
  "TooLong",
  "MissingNewline",
  "NotPrintable",
  "EmptyField",
  "BadField",
  "BadMagic",
  "BadVersion",
  "BadIdentity"
])
export type BannerErrorReason = typeof BannerErrorReason.Type

export class BannerError extends Schema.TaggedError<BannerError>()("BannerError", {
  reason: BannerErrorReason,
  message: Schema.String
}) {}

const fail = (reason: BannerErrorReason, message: string): Result.Result<never, BannerError> =>
  Result.fail(new BannerError({ reason, message }))

const isPrintable = (c: number): boolean => c >= 0x20 && c <= 0x7e

const firstUnprintable = (s: string): number => {
  for (let i = 0; i < s.length; i++) {
    if (!isPrintable(s.charCodeAt(i))) return i
  }
  return -1
}

/** A failure for a bad field, or undefined when it is fine. */
const checkField = (name: keyof Identity, value: string): Result.Result<never, BannerError> | undefined => {
  if (value.length === 0) return fail("EmptyField", `${name} is empty`)
  const bad = firstUnprintable(value)
  if (bad >= 0) {
    const code = value.charCodeAt(bad).toString(16).padStart(2, "0")
    return fail("NotPrintable", `${name} has a non-printable or non-ASCII character (0x${code}) at offset ${bad}`)
  }
  return undefined
}

/** The banner as text, without the length check. */
const bannerText = (identity: Identity, major: number, minor: number): string =>
  `${MAGIC}${major}.${minor}-${identity.ostype}-${identity.osrelease}/${identity.machine}\n`

/**
 * Builds the banner for this protocol version. The fields are restricted so that
 * `parseBanner` gets the same identity back: ostype has no '-', machine has no '/'.
 */
export const makeBanner = (identity: Identity): Result.Result<Uint8Array<ArrayBuffer>, BannerError> => {
  for (const name of ["ostype", "osrelease", "machine"] as const) {
    const bad = checkField(name, identity[name])
    if (bad !== undefined) return bad
  }
  if (identity.ostype.includes("-")) {
    return fail("BadField", `ostype ${JSON.stringify(identity.ostype)} must not contain '-'`)
  }
  if (identity.machine.includes("/")) {
    return fail("BadField", `machine ${JSON.stringify(identity.machine)} must not contain '/'`)
  }
  // Printable ASCII only, so one char is one byte.
  const text = bannerText(identity, PROTOCOL_MAJOR, PROTOCOL_MINOR)
  if (text.length > MAX_BANNER) {
    return fail("TooLong", `banner is ${text.length} bytes with the newline, the limit is ${MAX_BANNER}`)
  }
  return Result.succeed(new TextEncoder().encode(text))
}

const VERSION = /^([0-9]{1,9})\.([0-9]{1,9})-/

/** Parses a complete banner line (newline included). The version is reported, not checked. */
export const parseBanner = (input: Uint8Array | string): Result.Result<ParsedBanner, BannerError> => {
  const bytes = typeof input === "string" ? new TextEncoder().encode(input) : input
  if (bytes.byteLength > MAX_BANNER) {
    return fail("TooLong", `banner is ${bytes.byteLength} bytes, the limit is ${MAX_BANNER}`)
  }
  if (bytes.byteLength === 0 || bytes[bytes.byteLength - 1] !== NEWLINE) {
    return fail("MissingNewline", "banner does not end with a newline")
  }
  const end = bytes.byteLength - 1
  let text = ""
  for (let i = 0; i < end; i++) {
    const c = bytes[i] ?? 0
    if (!isPrintable(c)) {
      return fail("NotPrintable", `banner has byte 0x${c.toString(16).padStart(2, "0")} at offset ${i}`)
    }
    text += String.fromCharCode(c)
  }
  if (!text.startsWith(MAGIC)) {
    return fail("BadMagic", `banner does not start with ${JSON.stringify(MAGIC)}`)
  }
  const afterMagic = text.slice(MAGIC.length)
  const version = VERSION.exec(afterMagic)
  if (version === null) {
    return fail("BadVersion", `expected <major>.<minor>- after ${JSON.stringify(MAGIC)}`)
  }
  const rest = afterMagic.slice(version[0].length)
  // ostype ends at the first '-', machine starts after the last '/': osrelease may hold either.
  const dash = rest.indexOf("-")
  const slash = rest.lastIndexOf("/")
  if (dash <= 0 || slash <= dash + 1 || slash === rest.length - 1) {
    return fail("BadIdentity", `expected <ostype>-<osrelease>/<machine>, got ${JSON.stringify(rest)}`)
  }
  return Result.succeed({
    major: Number(version[1]),
    minor: Number(version[2]),
    identity: {
      ostype: rest.slice(0, dash),
      osrelease: rest.slice(dash + 1, slash),
      machine: rest.slice(slash + 1)
    }
  })
}
