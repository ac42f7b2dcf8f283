/**
 * The sysproxy server address grammar (RUMP_SERVER and the server's listen URL):
 * `unix://path`, `tcp://A.B.C.D:port`, `tcp://*:port`, `tcp://0:port` and
 * `tcp6://[addr]:port`.
 */
import { isIPv6 } from "node:net"
import { Effect, Result, Schema, SchemaIssue, SchemaTransformation } from "effect"

/** Linux `sun_path` is 108 bytes; one goes to the terminating NUL. */
export const MAX_UNIX_PATH_BYTES = 107

export const MAX_PORT = 65535

export const UnixServerUrl = Schema.TaggedStruct("Unix", { path: Schema.String })
export type UnixServerUrl = typeof UnixServerUrl.Type

export const TcpServerUrl = Schema.TaggedStruct("Tcp", {
  host: Schema.String,
  port: Schema.Number,
  wildcard: Schema.Boolean
})
export type TcpServerUrl = typeof TcpServerUrl.Type

export const Tcp6ServerUrl = Schema.TaggedStruct("Tcp6", {
  host: Schema.String,
  port: Schema.Number,
  wildcard: Schema.Boolean
})
export type Tcp6ServerUrl = typeof Tcp6ServerUrl.Type

/** The parsed form of a server URL (structure only; `parseServerUrl` does the validation). */
export const ServerUrl = Schema.Union([UnixServerUrl, TcpServerUrl, Tcp6ServerUrl]).pipe(
  Schema.toTaggedUnion("_tag")
)
export type ServerUrl = typeof ServerUrl.Type

export const ServerUrlErrorReason = Schema.Literals([
  "UnknownScheme",
  "MissingPort",
  "BadPort",
  "PortOutOfRange",
  "JunkAfterPort",
  "BadAddress",
  "PathTooLong",
  "EmptyPath",
  "WildcardNotAllowed"
])
export type ServerUrlErrorReason = typeof ServerUrlErrorReason.Type

export class ServerUrlError extends Schema.TaggedError<ServerUrlError>()("ServerUrlError", {
  url: Schema.String,
  reason: ServerUrlErrorReason,
  message: Schema.String
}) {}

export type ServerUrlRole = "server" | "client"

export interface ParseServerUrlOptions {
  /** A client may not connect to a wildcard address; defaults to "server". */
  readonly role?: ServerUrlRole | undefined
}

const fail = (url: string, reason: ServerUrlErrorReason, detail: string): Result.Result<never, ServerUrlError> =>
  Result.fail(new ServerUrlError({ url, reason, message: `${JSON.stringify(url)}: ${detail}` }))

const DIGITS = /^[0-9]+$/
const LEADING_DIGITS = /^[0-9]+/

const parsePort = (
  url: string,
  text: string,
  role: ServerUrlRole
): Result.Result<number, ServerUrlError> => {
  if (text.length === 0) return fail(url, "MissingPort", "missing port")
  if (!DIGITS.test(text)) {
    return LEADING_DIGITS.test(text)
      ? fail(url, "JunkAfterPort", `junk after port: ${JSON.stringify(text)}`)
      : fail(url, "BadPort", `port must be decimal digits, got ${JSON.stringify(text)}`)
  }
  // Digit strings only, so Number() is exact up to 2^53 and simply large beyond it.
  const port = Number(text)
  if (port > MAX_PORT) return fail(url, "PortOutOfRange", `port ${text} out of range (0-${MAX_PORT})`)
  if (port === 0 && role === "client") {
    return fail(url, "WildcardNotAllowed", "port 0 only lets a server's OS pick a port; a client needs a real port")
  }
  return Result.succeed(port)
}

const parseUnix = (url: string, path: string): Result.Result<ServerUrl, ServerUrlError> => {
  if (path.length === 0) return fail(url, "EmptyPath", "empty unix socket path")
  // The C side copies the path into sun_path, so a NUL would silently cut it short.
  if (path.includes("\0")) return fail(url, "BadAddress", "unix socket path contains a NUL byte")
  const bytes = Buffer.byteLength(path, "utf8")
  if (bytes > MAX_UNIX_PATH_BYTES) {
    return fail(url, "PathTooLong", `unix socket path is ${bytes} bytes, the limit is ${MAX_UNIX_PATH_BYTES}`)
  }
  return Result.succeed(UnixServerUrl.make({ path }))
}

const OCTET = /^(0|[1-9][0-9]{0,2})$/

/** Strict dotted quad; leading zeros are refused because inet_aton reads them as octal. */
const isDottedQuad = (host: string): boolean => {
  const parts = host.split(".")
  return parts.length === 4 && parts.every((p) => OCTET.test(p) && Number(p) <= 255)
}

const parseTcp = (url: string, rest: string, role: ServerUrlRole): Result.Result<ServerUrl, ServerUrlError> => {
  const colon = rest.indexOf(":")
  const host = colon < 0 ? rest : rest.slice(0, colon)
  if (host.length === 0) return fail(url, "BadAddress", "missing host")
  const wildcard = host === "*" || host === "0" || host === "0.0.0.0"
  if (!wildcard && !isDottedQuad(host)) {
    return fail(
      url,
      "BadAddress",
      `bad IPv4 address ${JSON.stringify(host)}: expected A.B.C.D with each part 0-255 (or * / 0 for any address)`
    )
  }
  if (colon < 0) return fail(url, "MissingPort", "missing port")
  if (wildcard && role === "client") {
    return fail(url, "WildcardNotAllowed", "a client cannot connect to the wildcard address")
  }
  return Result.map(
    parsePort(url, rest.slice(colon + 1), role),
    (port): ServerUrl => TcpServerUrl.make({ host: wildcard ? "0.0.0.0" : host, port, wildcard })
  )
}

/** Every group of a valid IPv6 address is zero exactly when only 0, ':' and '.' occur. */
const isUnspecifiedV6 = (addr: string): boolean => /^[0:.]+$/.test(addr)

const parseTcp6 = (url: string, rest: string, role: ServerUrlRole): Result.Result<ServerUrl, ServerUrlError> => {
  if (!rest.startsWith("[")) {
    return fail(url, "BadAddress", "the IPv6 address must be in brackets: tcp6://[addr]:port")
  }
  const close = rest.indexOf("]")
  if (close < 0) return fail(url, "BadAddress", "missing ']' after the IPv6 address")
  const addr = rest.slice(1, close)
  if (!isIPv6(addr)) return fail(url, "BadAddress", `bad IPv6 address ${JSON.stringify(addr)}`)
  const after = rest.slice(close + 1)
  if (after.length === 0) return fail(url, "MissingPort", "missing port")
  if (!after.startsWith(":")) {
    return fail(url, "BadAddress", `expected ':' after ']', got ${JSON.stringify(after)}`)
  }
  const wildcard = isUnspecifiedV6(addr)
  if (wildcard && role === "client") {
    return fail(url, "WildcardNotAllowed", "a client cannot connect to the wildcard address")
  }
  return Result.map(
    parsePort(url, after.slice(1), role),
    (port): ServerUrl => Tcp6ServerUrl.make({ host: wildcard ? "::" : addr, port, wildcard })
  )
}

const SCHEME_HINT = "expected unix://, tcp:// or tcp6://"

/** Parses a server URL. Wildcard addresses and port 0 are refused when `role` is "client". */
export const parseServerUrl = (
  input: string,
  options?: ParseServerUrlOptions
): Result.Result<ServerUrl, ServerUrlError> => {
  const role = options?.role ?? "server"
  const sep = input.indexOf("://")
  if (sep < 0) return fail(input, "UnknownScheme", `no scheme, ${SCHEME_HINT}`)
  const scheme = input.slice(0, sep)
  const rest = input.slice(sep + 3)
  switch (scheme) {
    case "unix":
      return parseUnix(input, rest)
    case "tcp":
      return parseTcp(input, rest, role)
    case "tcp6":
      return parseTcp6(input, rest, role)
    default:
      return fail(input, "UnknownScheme", `unknown scheme ${JSON.stringify(scheme)}, ${SCHEME_HINT}`)
  }
}

/** `parseServerUrl` as an Effect. */
export const decodeServerUrl = (
  input: string,
  options?: ParseServerUrlOptions
): Effect.Effect<ServerUrl, ServerUrlError> => Effect.fromResult(parseServerUrl(input, options))

/** The canonical URL; `parseServerUrl(formatServerUrl(u))` gives `u` back for any parsed `u`. */
export const formatServerUrl = (url: ServerUrl): string => {
  switch (url._tag) {
    case "Unix":
      return `unix://${url.path}`
    case "Tcp":
      return `tcp://${url.host}:${url.port}`
    case "Tcp6":
      return `tcp6://[${url.host}]:${url.port}`
  }
}

/** A string <-> ServerUrl schema for config and CLI code; the role decides if wildcards pass. */
export const serverUrlFromString = (options?: ParseServerUrlOptions) => {
  const toIssue = (e: ServerUrlError, input: unknown) => new SchemaIssue.InvalidValue({ message: e.message }, input)
  return Schema.String.pipe(
    Schema.decodeTo(
      ServerUrl,
      SchemaTransformation.transformEffect({
        decode: (s: string) =>
          Effect.fromResult(parseServerUrl(s, options)).pipe(
            Effect.mapError((e) => toIssue(e, s))
          ),
        // Re-parse so that a hand-built ServerUrl with a bad host or port cannot be encoded.
        encode: (u: ServerUrl) =>
          Effect.fromResult(parseServerUrl(formatServerUrl(u), options)).pipe(
            Effect.mapBoth({ onFailure: (e) => toIssue(e, u), onSuccess: formatServerUrl })
          )
      })
    )
  )
}

/** Server role: wildcards allowed. */
export const ServerUrlFromString = serverUrlFromString({ role: "server" })

/** Client role: wildcards and port 0 refused. */
export const ClientServerUrlFromString = serverUrlFromString({ role: "client" })
