import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Result, Schema } from "effect"
import {
  ClientServerUrlFromString,
  decodeServerUrl,
  formatServerUrl,
  MAX_UNIX_PATH_BYTES,
  parseServerUrl,
  type ServerUrl,
  ServerUrlError,
  type ServerUrlErrorReason,
  ServerUrlFromString
} from "../src/ServerUrl.ts"

const ok = (input: string, role: "server" | "client" = "server"): ServerUrl => {
  const r = parseServerUrl(input, { role })
  if (Result.isFailure(r)) throw new Error(`expected success for ${input}: ${r.failure.message}`)
  return r.success
}

const err = (input: string, role: "server" | "client" = "server"): ServerUrlError => {
  const r = parseServerUrl(input, { role })
  if (Result.isSuccess(r)) throw new Error(`expected failure for ${input}, got ${JSON.stringify(r.success)}`)
  return r.failure
}

describe("parseServerUrl: accepted forms", () => {
  it.each<[string, ServerUrl]>([
    ["unix://sock", { _tag: "Unix", path: "sock" }],
    ["unix://rel/dir/sock", { _tag: "Unix", path: "rel/dir/sock" }],
    ["unix:///tmp/x.sock", { _tag: "Unix", path: "/tmp/x.sock" }],
    ["tcp://127.0.0.1:0", { _tag: "Tcp", host: "127.0.0.1", port: 0, wildcard: false }],
    ["tcp://10.0.0.255:65535", { _tag: "Tcp", host: "10.0.0.255", port: 65535, wildcard: false }],
    ["tcp://*:1234", { _tag: "Tcp", host: "0.0.0.0", port: 1234, wildcard: true }],
    ["tcp://0:1234", { _tag: "Tcp", host: "0.0.0.0", port: 1234, wildcard: true }],
    ["tcp://0.0.0.0:1234", { _tag: "Tcp", host: "0.0.0.0", port: 1234, wildcard: true }],
    ["tcp6://[::1]:99", { _tag: "Tcp6", host: "::1", port: 99, wildcard: false }],
    ["tcp6://[fe80::1:2]:8080", { _tag: "Tcp6", host: "fe80::1:2", port: 8080, wildcard: false }],
    ["tcp6://[::]:99", { _tag: "Tcp6", host: "::", port: 99, wildcard: true }],
    ["tcp6://[0:0:0:0:0:0:0:0]:99", { _tag: "Tcp6", host: "::", port: 99, wildcard: true }]
  ])("%s", (input, expected) => {
    expect(ok(input)).toEqual(expected)
  })

  it("role defaults to server (wildcards allowed)", () => {
    expect(Result.isSuccess(parseServerUrl("tcp://*:1"))).toBe(true)
  })

  it("a client may use concrete addresses", () => {
    expect(ok("tcp://127.0.0.1:1234", "client")).toEqual({ _tag: "Tcp", host: "127.0.0.1", port: 1234, wildcard: false })
    expect(ok("tcp6://[::1]:1", "client")).toEqual({ _tag: "Tcp6", host: "::1", port: 1, wildcard: false })
    expect(ok("unix://sock", "client")).toEqual({ _tag: "Unix", path: "sock" })
  })

  it(`accepts a ${MAX_UNIX_PATH_BYTES}-byte unix path and refuses ${MAX_UNIX_PATH_BYTES + 1}`, () => {
    const p107 = "/" + "a".repeat(106)
    expect(ok(`unix://${p107}`)).toEqual({ _tag: "Unix", path: p107 })
    const p108 = "/" + "a".repeat(107)
    const e = err(`unix://${p108}`)
    expect(e.reason).toBe("PathTooLong")
    expect(e.message).toContain("unix socket path is 108 bytes, the limit is 107")
  })

  it("counts the unix path limit in UTF-8 bytes, not characters", () => {
    // 54 two-byte characters: 54 chars, 108 bytes.
    const e = err(`unix://${"é".repeat(54)}`)
    expect(e.reason).toBe("PathTooLong")
  })
})

describe("parseServerUrl: errors", () => {
  it.each<[string, ServerUrlErrorReason, string]>([
    ["tcp://1.2.3.4", "MissingPort", "missing port"],
    ["tcp://1.2.3.4:", "MissingPort", "missing port"],
    ["tcp://127.0.0.1:", "MissingPort", "missing port"],
    ["tcp://1.2.3.4:65536", "PortOutOfRange", "port 65536 out of range (0-65535)"],
    ["tcp://1.2.3.4:70000", "PortOutOfRange", "port 70000 out of range (0-65535)"],
    ["tcp://1.2.3.4:99999999999999999999999", "PortOutOfRange", "out of range"],
    ["tcp://1.2.3.4:12ab", "JunkAfterPort", "junk after port: \"12ab\""],
    ["tcp://1.2.3.4:80/", "JunkAfterPort", "junk after port"],
    ["tcp://1.2.3.4:ab", "BadPort", "port must be decimal digits"],
    ["tcp://1.2.3.4:-1", "BadPort", "port must be decimal digits"],
    ["tcp://1.2.3.4: 80", "BadPort", "port must be decimal digits"],
    ["tcp://256.1.1.1:1", "BadAddress", "bad IPv4 address \"256.1.1.1\""],
    ["tcp://1.2.3:1", "BadAddress", "bad IPv4 address"],
    ["tcp://1.2.3.4.5:1", "BadAddress", "bad IPv4 address"],
    ["tcp://01.2.3.4:1", "BadAddress", "bad IPv4 address"],
    ["tcp://x1.2.3.4:1", "BadAddress", "bad IPv4 address"],
    ["tcp://localhost:1", "BadAddress", "bad IPv4 address"],
    ["tcp://:1", "BadAddress", "missing host"],
    ["tcp6://::1:99", "BadAddress", "must be in brackets"],
    ["tcp6://[zz]:1", "BadAddress", "bad IPv6 address \"zz\""],
    ["tcp6://[::1:1", "BadAddress", "missing ']'"],
    ["tcp6://[::1]x:1", "BadAddress", "expected ':' after ']'"],
    ["tcp6://[::1]", "MissingPort", "missing port"],
    ["tcp6://[::1]:", "MissingPort", "missing port"],
    ["tcp6://[::1]:65536", "PortOutOfRange", "port 65536 out of range"],
    ["tcp6://[::1]:1x", "JunkAfterPort", "junk after port: \"1x\""],
    ["unix://", "EmptyPath", "empty unix socket path"],
    ["unix://a\0b", "BadAddress", "NUL"],
    ["ftp://x", "UnknownScheme", "unknown scheme \"ftp\""],
    ["http://1.2.3.4:80", "UnknownScheme", "unknown scheme \"http\""],
    ["TCP://1.2.3.4:80", "UnknownScheme", "unknown scheme"],
    ["/tmp/sock", "UnknownScheme", "no scheme"],
    ["", "UnknownScheme", "no scheme"]
  ])("%s -> %s", (input, reason, message) => {
    const e = err(input)
    expect(e).toBeInstanceOf(ServerUrlError)
    expect(e._tag).toBe("ServerUrlError")
    expect(e.url).toBe(input)
    expect(e.reason).toBe(reason)
    expect(e.message).toContain(message)
    // The message names the URL so a log line stands on its own.
    expect(e.message).toContain(JSON.stringify(input))
  })

  it.each<[string, string]>([
    ["tcp://*:1234", "wildcard"],
    ["tcp://0:1234", "wildcard"],
    ["tcp://0.0.0.0:1234", "wildcard"],
    ["tcp6://[::]:99", "wildcard"],
    ["tcp://127.0.0.1:0", "port 0"],
    ["tcp6://[::1]:0", "port 0"]
  ])("a client may not use %s", (input, message) => {
    const e = err(input, "client")
    expect(e.reason).toBe("WildcardNotAllowed")
    expect(e.message).toContain(message)
  })
})

describe("formatServerUrl", () => {
  it.each<[string, string]>([
    ["unix://sock", "unix://sock"],
    ["unix:///tmp/x.sock", "unix:///tmp/x.sock"],
    ["tcp://127.0.0.1:0", "tcp://127.0.0.1:0"],
    ["tcp://*:1234", "tcp://0.0.0.0:1234"],
    ["tcp://0:1234", "tcp://0.0.0.0:1234"],
    ["tcp6://[::1]:99", "tcp6://[::1]:99"],
    ["tcp6://[0::0]:99", "tcp6://[::]:99"]
  ])("%s -> %s, and parses back to the same value", (input, canonical) => {
    const url = ok(input)
    expect(formatServerUrl(url)).toBe(canonical)
    expect(ok(canonical)).toEqual(url)
  })
})

describe("decodeServerUrl", () => {
  it.effect("succeeds", () =>
    Effect.gen(function*() {
      const url = yield* decodeServerUrl("tcp://1.2.3.4:5")
      expect(url).toEqual({ _tag: "Tcp", host: "1.2.3.4", port: 5, wildcard: false })
    }))

  it.effect("fails with a typed ServerUrlError", () =>
    Effect.gen(function*() {
      const e = yield* Effect.flip(decodeServerUrl("tcp://*:5", { role: "client" }))
      expect(e).toBeInstanceOf(ServerUrlError)
      expect(e.reason).toBe("WildcardNotAllowed")
    }))

  it.effect("can be caught by tag", () =>
    decodeServerUrl("ftp://x").pipe(
      Effect.catchTag("ServerUrlError", (e) => Effect.succeed(e.reason)),
      Effect.map((reason) => expect(reason).toBe("UnknownScheme"))
    ))
})

describe("ServerUrlFromString", () => {
  it("decodes", () => {
    expect(Schema.decodeUnknownSync(ServerUrlFromString)("tcp://*:1")).toEqual({
      _tag: "Tcp",
      host: "0.0.0.0",
      port: 1,
      wildcard: true
    })
  })

  it("fails with the parser's message", () => {
    const exit = Schema.decodeUnknownExit(ServerUrlFromString)("tcp://1.2.3.4:70000")
    expect(Exit.isFailure(exit)).toBe(true)
    expect(() => Schema.decodeUnknownSync(ServerUrlFromString)("tcp://1.2.3.4:70000")).toThrow(
      "port 70000 out of range (0-65535)"
    )
  })

  it("refuses non-strings", () => {
    expect(() => Schema.decodeUnknownSync(ServerUrlFromString)(42)).toThrow()
  })

  it("the client variant refuses wildcards", () => {
    expect(() => Schema.decodeUnknownSync(ClientServerUrlFromString)("tcp://*:1")).toThrow("wildcard")
  })

  it("encodes to the canonical URL", () => {
    expect(Schema.encodeSync(ServerUrlFromString)({ _tag: "Tcp", host: "0.0.0.0", port: 1, wildcard: true })).toBe(
      "tcp://0.0.0.0:1"
    )
    expect(Schema.encodeSync(ServerUrlFromString)({ _tag: "Unix", path: "/tmp/s" })).toBe("unix:///tmp/s")
  })

  it("refuses to encode an invalid value", () => {
    expect(() => Schema.encodeSync(ServerUrlFromString)({ _tag: "Tcp", host: "1.2.3.4", port: 70000, wildcard: false }))
      .toThrow("out of range")
  })

  it.effect("works as an Effect decoder", () =>
    Effect.gen(function*() {
      const url = yield* Schema.decodeUnknownEffect(ServerUrlFromString)("unix://sock")
      expect(url).toEqual({ _tag: "Unix", path: "sock" })
    }))
})
