import { describe, expect, it } from "@effect/vitest"
import { Result } from "effect"
import {
  BannerError,
  type BannerErrorReason,
  type Identity,
  makeBanner,
  MAX_BANNER,
  parseBanner,
  PROTOCOL_MAJOR,
  PROTOCOL_MINOR
} from "../src/Banner.ts"

const netbsd: Identity = { ostype: "NetBSD", osrelease: "7.99.34", machine: "amd64" }
const text = (b: Uint8Array) => new TextDecoder().decode(b)

const made = (identity: Identity): Uint8Array => {
  const r = makeBanner(identity)
  if (Result.isFailure(r)) throw new Error(`expected success: ${r.failure.message}`)
  return r.success
}

const makeErr = (identity: Identity): BannerError => {
  const r = makeBanner(identity)
  if (Result.isSuccess(r)) throw new Error(`expected failure, got ${JSON.stringify(text(r.success))}`)
  return r.failure
}

const parseErr = (input: Uint8Array | string): BannerError => {
  const r = parseBanner(input)
  if (Result.isSuccess(r)) throw new Error(`expected failure, got ${JSON.stringify(r.success)}`)
  return r.failure
}

/** An identity whose banner is exactly `n` bytes with the newline. */
const identityOfLength = (n: number): Identity => {
  const fixed = "RUMPSP-0.4-NetBSD-/amd64\n".length
  return { ...netbsd, osrelease: "9".repeat(n - fixed) }
}

describe("constants", () => {
  it("protocol 0.4, 96-byte banner", () => {
    expect([PROTOCOL_MAJOR, PROTOCOL_MINOR, MAX_BANNER]).toEqual([0, 4, 96])
  })
})

describe("makeBanner", () => {
  it("builds the NetBSD banner byte for byte", () => {
    const b = made(netbsd)
    expect(b).toBeInstanceOf(Uint8Array)
    expect(text(b)).toBe("RUMPSP-0.4-NetBSD-7.99.34/amd64\n")
    expect(b.byteLength).toBe(32)
  })

  it("accepts exactly 96 bytes and refuses 97", () => {
    expect(made(identityOfLength(96)).byteLength).toBe(96)
    const e = makeErr(identityOfLength(97))
    expect(e.reason).toBe("TooLong")
    expect(e.message).toContain("97 bytes")
    expect(e.message).toContain("96")
  })

  it("allows '-' and '/' in osrelease, which parse keeps", () => {
    const id: Identity = { ostype: "Linux", osrelease: "6.1.0-18/amd64-x", machine: "x86_64" }
    const r = parseBanner(made(id))
    expect(Result.isSuccess(r) && r.success.identity).toEqual(id)
  })

  it.each<[string, Identity, BannerErrorReason, string]>([
    ["empty ostype", { ...netbsd, ostype: "" }, "EmptyField", "ostype is empty"],
    ["empty osrelease", { ...netbsd, osrelease: "" }, "EmptyField", "osrelease is empty"],
    ["empty machine", { ...netbsd, machine: "" }, "EmptyField", "machine is empty"],
    ["newline in osrelease", { ...netbsd, osrelease: "7\n" }, "NotPrintable", "osrelease"],
    ["tab in machine", { ...netbsd, machine: "amd\t64" }, "NotPrintable", "machine"],
    ["non-ASCII ostype", { ...netbsd, ostype: "NetBSÐ" }, "NotPrintable", "ostype"],
    ["'-' in ostype", { ...netbsd, ostype: "Net-BSD" }, "BadField", "ostype"],
    ["'/' in machine", { ...netbsd, machine: "amd/64" }, "BadField", "machine"]
  ])("refuses %s", (_, identity, reason, message) => {
    const e = makeErr(identity)
    expect(e).toBeInstanceOf(BannerError)
    expect(e._tag).toBe("BannerError")
    expect(e.reason).toBe(reason)
    expect(e.message).toContain(message)
  })
})

describe("parseBanner", () => {
  it("parses the NetBSD banner from bytes and from a string", () => {
    const expected = { major: 0, minor: 4, identity: netbsd }
    const fromBytes = parseBanner(made(netbsd))
    const fromString = parseBanner("RUMPSP-0.4-NetBSD-7.99.34/amd64\n")
    expect(Result.isSuccess(fromBytes) && fromBytes.success).toEqual(expected)
    expect(Result.isSuccess(fromString) && fromString.success).toEqual(expected)
  })

  it("reports other versions instead of refusing them", () => {
    const r = parseBanner("RUMPSP-12.345-NetBSD-10.0/evbarm\n")
    expect(Result.isSuccess(r) && r.success).toEqual({
      major: 12,
      minor: 345,
      identity: { ostype: "NetBSD", osrelease: "10.0", machine: "evbarm" }
    })
  })

  it("honours a subarray's offset", () => {
    const buf = new Uint8Array(100).fill(0x41)
    const b = made(netbsd)
    buf.set(b, 5)
    const r = parseBanner(buf.subarray(5, 5 + b.byteLength))
    expect(Result.isSuccess(r) && r.success.identity).toEqual(netbsd)
  })

  it("accepts 96 bytes and refuses 97", () => {
    const at96 = made(identityOfLength(96))
    expect(Result.isSuccess(parseBanner(at96))).toBe(true)
    const at97 = "RUMPSP-0.4-NetBSD-" + "9".repeat(97 - 25) + "/amd64\n"
    expect(at97.length).toBe(97)
    const e = parseErr(at97)
    expect(e.reason).toBe("TooLong")
    expect(e.message).toContain("97 bytes")
  })

  it.each<[string, Uint8Array | string, BannerErrorReason, string]>([
    ["missing newline", "RUMPSP-0.4-NetBSD-7.99.34/amd64", "MissingNewline", "newline"],
    ["empty input", "", "MissingNewline", "newline"],
    ["empty bytes", new Uint8Array(0), "MissingNewline", "newline"],
    ["CRLF", "RUMPSP-0.4-NetBSD-7.99.34/amd64\r\n", "NotPrintable", "0x0d"],
    ["NUL byte", Uint8Array.from([0x52, 0x00, 0x0a]), "NotPrintable", "0x00 at offset 1"],
    ["newline in the middle", "RUMPSP-0.4-Net\nBSD-7/amd64\n", "NotPrintable", "0x0a"],
    ["non-ASCII", "RUMPSP-0.4-NetBSÐ-7/amd64\n", "NotPrintable", "0xc3"],
    ["garbage", "hello world\n", "BadMagic", "RUMPSP-"],
    ["HTTP", "HTTP/1.1 400 Bad Request\n", "BadMagic", "RUMPSP-"],
    ["lower-case magic", "rumpsp-0.4-NetBSD-7.99.34/amd64\n", "BadMagic", "RUMPSP-"],
    ["no version", "RUMPSP-NetBSD-7.99.34/amd64\n", "BadVersion", "<major>.<minor>"],
    ["version without minor", "RUMPSP-0-NetBSD-7.99.34/amd64\n", "BadVersion", "<major>.<minor>"],
    ["non-numeric version", "RUMPSP-0.x-NetBSD-7.99.34/amd64\n", "BadVersion", "<major>.<minor>"],
    ["just the version", "RUMPSP-0.4-\n", "BadIdentity", "<ostype>-<osrelease>/<machine>"],
    ["no osrelease separator", "RUMPSP-0.4-NetBSD/amd64\n", "BadIdentity", "<ostype>"],
    ["no machine separator", "RUMPSP-0.4-NetBSD-7.99.34\n", "BadIdentity", "<ostype>"],
    ["empty ostype", "RUMPSP-0.4--7.99.34/amd64\n", "BadIdentity", "<ostype>"],
    ["empty osrelease", "RUMPSP-0.4-NetBSD-/amd64\n", "BadIdentity", "<ostype>"],
    ["empty machine", "RUMPSP-0.4-NetBSD-7.99.34/\n", "BadIdentity", "<ostype>"]
  ])("refuses %s", (_, input, reason, message) => {
    const e = parseErr(input)
    expect(e).toBeInstanceOf(BannerError)
    expect(e.reason).toBe(reason)
    expect(e.message).toContain(message)
  })
})
