/**
 * Golden bytes for every RUMPSP 0.4 message kind.
 *
 * Every expected byte string below was written out by hand from the frame
 * and message tables of PROTOCOL.md (amd64, little-endian); none of it is
 * produced by the encoder under test. Layout of the 24-byte header, as the
 * four groups of each first line:
 *
 *   len (u64) | reqno (u64) | class (u16) type (u16) | union (u32)
 *
 * class: 00 REQ, 01 RESP, 02 ERROR. type: 00 HANDSHAKE, 01 SYSCALL,
 * 02 COPYIN, 03 COPYINSTR, 04 COPYOUT, 05 COPYOUTSTR, 06 ANONMMAP,
 * 07 PREFORK, 08 RAISE.
 *
 * Values used over and over:
 *   0x0123456789abcdef (above 2^53)  = ef cd ab 89 67 45 23 01
 *   0xfedcba9876543210 (above 2^63)  = 10 32 54 76 98 ba dc fe
 *   2^53 + 1 = 0x0020000000000001    = 01 00 00 00 00 00 20 00
 *   address 0x7f1234567890abcd       = cd ab 90 78 56 34 12 7f
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Result, Schema } from "effect"
import {
  decodeFrame,
  encodeFrame,
  encodeFrameResult,
  type Frame,
  FrameDecodeError,
  FrameFromBytes,
  type FrameTag,
  HEADER_SIZE
} from "../src/index.ts"

/** Hex with any whitespace, `|` and `_` as separators. */
const hex = (text: string): Uint8Array => {
  const digits = text.replace(/[\s|_]/g, "")
  if (!/^(?:[0-9a-f]{2})*$/i.test(digits)) throw new Error(`bad hex: ${text}`)
  const out = new Uint8Array(digits.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16)
  return out
}

const ADDR = 0x7f12_3456_7890_abcdn
const BIG_REQNO = 0x0123_4567_89ab_cdefn // 81985529216486895 > 2^53
const HUGE_REQNO = 0xfedc_ba98_7654_3210n // > 2^63: would be negative as int64
const REQNO_2_53_PLUS_1 = 2n ** 53n + 1n // the first integer a double cannot hold
const MAX_U64 = 2n ** 64n - 1n

const COOKIE = hex("00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff")
const COOKIE2 = hex("de ad be ef 01 23 45 67 89 ab cd ef fe dc ba 98")

interface Golden {
  readonly name: string
  readonly frame: Frame
  readonly bytes: Uint8Array
}

const goldens: ReadonlyArray<Golden> = [
  // ---- client -> server requests -------------------------------------
  {
    name: "HANDSHAKE GUEST \"rump.ls\"",
    frame: { _tag: "HandshakeGuest", reqno: 1n, comm: "rump.ls" },
    bytes: hex(`
      20 00 00 00 00 00 00 00 | 01 00 00 00 00 00 00 00 | 00 00 00 00 | 00 00 00 00
      72 75 6d 70 2e 6c 73 00`)
  },
  {
    name: "HANDSHAKE GUEST with an empty name (only the NUL)",
    frame: { _tag: "HandshakeGuest", reqno: 0n, comm: "" },
    bytes: hex(`
      19 00 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00 | 00 00 00 00 | 00 00 00 00
      00`)
  },
  {
    name: "HANDSHAKE FORK, cancel 0",
    frame: { _tag: "HandshakeFork", reqno: 2n, cookie: COOKIE, cancel: 0 },
    bytes: hex(`
      2c 00 00 00 00 00 00 00 | 02 00 00 00 00 00 00 00 | 00 00 00 00 | 02 00 00 00
      00 11 22 33 44 55 66 77 88 99 aa bb cc dd ee ff | 00 00 00 00`)
  },
  {
    name: "HANDSHAKE FORK, cancel 1",
    frame: { _tag: "HandshakeFork", reqno: 3n, cookie: COOKIE2, cancel: 1 },
    bytes: hex(`
      2c 00 00 00 00 00 00 00 | 03 00 00 00 00 00 00 00 | 00 00 00 00 | 02 00 00 00
      de ad be ef 01 23 45 67 89 ab cd ef fe dc ba 98 | 01 00 00 00`)
  },
  {
    name: "HANDSHAKE EXEC \"héllo\" (UTF-8), reqno above 2^53",
    frame: { _tag: "HandshakeExec", reqno: BIG_REQNO, comm: "héllo" },
    bytes: hex(`
      1f 00 00 00 00 00 00 00 | ef cd ab 89 67 45 23 01 | 00 00 00 00 | 03 00 00 00
      68 c3 a9 6c 6c 6f 00`)
  },
  {
    name: "PREFORK request",
    frame: { _tag: "PreforkRequest", reqno: 4n },
    bytes: hex(`
      18 00 00 00 00 00 00 00 | 04 00 00 00 00 00 00 00 | 00 00 07 00 | 00 00 00 00`)
  },
  {
    name: "SYSCALL open(path, O_RDWR, 0644), reqno above 2^63",
    frame: {
      _tag: "SyscallRequest",
      reqno: HUGE_REQNO,
      sysnum: 5,
      args: hex("cd ab 90 78 56 34 12 7f | 02 00 00 00 00 00 00 00 | a4 01 00 00 00 00 00 00")
    },
    bytes: hex(`
      30 00 00 00 00 00 00 00 | 10 32 54 76 98 ba dc fe | 00 00 01 00 | 05 00 00 00
      cd ab 90 78 56 34 12 7f | 02 00 00 00 00 00 00 00 | a4 01 00 00 00 00 00 00`)
  },
  {
    name: "SYSCALL getpid() with no arguments, reqno 2^64-1",
    frame: { _tag: "SyscallRequest", reqno: MAX_U64, sysnum: 20, args: new Uint8Array(0) },
    bytes: hex(`
      18 00 00 00 00 00 00 00 | ff ff ff ff ff ff ff ff | 00 00 01 00 | 14 00 00 00`)
  },
  {
    name: "SYSCALL __sysctl (number 202) with one argument",
    frame: { _tag: "SyscallRequest", reqno: 77n, sysnum: 202, args: hex("cd ab 90 78 56 34 12 7f") },
    bytes: hex(`
      20 00 00 00 00 00 00 00 | 4d 00 00 00 00 00 00 00 | 00 00 01 00 | ca 00 00 00
      cd ab 90 78 56 34 12 7f`)
  },

  // ---- server -> client responses ------------------------------------
  {
    name: "RESP HANDSHAKE ok",
    frame: { _tag: "HandshakeResponse", reqno: 1n, error: 0 },
    bytes: hex(`
      1c 00 00 00 00 00 00 00 | 01 00 00 00 00 00 00 00 | 01 00 00 00 | 00 00 00 00
      00 00 00 00`)
  },
  {
    name: "RESP HANDSHAKE with a negative error",
    frame: { _tag: "HandshakeResponse", reqno: BIG_REQNO, error: -1 },
    bytes: hex(`
      1c 00 00 00 00 00 00 00 | ef cd ab 89 67 45 23 01 | 01 00 00 00 | 00 00 00 00
      ff ff ff ff`)
  },
  {
    name: "RESP PREFORK with the cookie",
    frame: { _tag: "PreforkResponse", reqno: 4n, cookie: COOKIE2 },
    bytes: hex(`
      28 00 00 00 00 00 00 00 | 04 00 00 00 00 00 00 00 | 01 00 07 00 | 00 00 00 00
      de ad be ef 01 23 45 67 89 ab cd ef fe dc ba 98`)
  },
  {
    name: "RESP SYSCALL EBADF, retval -1",
    frame: { _tag: "SyscallResponse", reqno: HUGE_REQNO, error: 9, retval0: -1n, retval1: 0n },
    bytes: hex(`
      30 00 00 00 00 00 00 00 | 10 32 54 76 98 ba dc fe | 01 00 01 00 | 00 00 00 00
      09 00 00 00 | 00 00 00 00 | ff ff ff ff ff ff ff ff | 00 00 00 00 00 00 00 00`)
  },
  {
    name: "RESP SYSCALL pipe() = (3, 4)",
    frame: { _tag: "SyscallResponse", reqno: 5n, error: 0, retval0: 3n, retval1: 4n },
    bytes: hex(`
      30 00 00 00 00 00 00 00 | 05 00 00 00 00 00 00 00 | 01 00 01 00 | 00 00 00 00
      00 00 00 00 | 00 00 00 00 | 03 00 00 00 00 00 00 00 | 04 00 00 00 00 00 00 00`)
  },
  {
    name: "RESP SYSCALL ERESTART (-3), int64 extremes",
    frame: {
      _tag: "SyscallResponse",
      reqno: 6n,
      error: -3,
      retval0: 0x7fff_ffff_ffff_ffffn,
      retval1: -0x8000_0000_0000_0000n
    },
    bytes: hex(`
      30 00 00 00 00 00 00 00 | 06 00 00 00 00 00 00 00 | 01 00 01 00 | 00 00 00 00
      fd ff ff ff | 00 00 00 00 | ff ff ff ff ff ff ff 7f | 00 00 00 00 00 00 00 80`)
  },

  // ---- server -> client requests -------------------------------------
  {
    name: "COPYIN 4096 bytes at 0x7f1234567890abcd, reqno 2^53+1",
    frame: { _tag: "CopyinRequest", reqno: REQNO_2_53_PLUS_1, len: 4096n, addr: ADDR },
    bytes: hex(`
      28 00 00 00 00 00 00 00 | 01 00 00 00 00 00 20 00 | 00 00 02 00 | 00 00 00 00
      00 10 00 00 00 00 00 00 | cd ab 90 78 56 34 12 7f`)
  },
  {
    name: "COPYINSTR at most 1024 bytes",
    frame: { _tag: "CopyinstrRequest", reqno: REQNO_2_53_PLUS_1 + 1n, len: 1024n, addr: ADDR },
    bytes: hex(`
      28 00 00 00 00 00 00 00 | 02 00 00 00 00 00 20 00 | 00 00 03 00 | 00 00 00 00
      00 04 00 00 00 00 00 00 | cd ab 90 78 56 34 12 7f`)
  },
  {
    name: "COPYOUT 5 bytes",
    frame: { _tag: "CopyoutRequest", reqno: 7n, addr: ADDR, data: hex("01 02 03 04 05") },
    bytes: hex(`
      2d 00 00 00 00 00 00 00 | 07 00 00 00 00 00 00 00 | 00 00 04 00 | 00 00 00 00
      05 00 00 00 00 00 00 00 | cd ab 90 78 56 34 12 7f | 01 02 03 04 05`)
  },
  {
    name: "COPYOUT of nothing",
    frame: { _tag: "CopyoutRequest", reqno: 8n, addr: 0x1000n, data: new Uint8Array(0) },
    bytes: hex(`
      28 00 00 00 00 00 00 00 | 08 00 00 00 00 00 00 00 | 00 00 04 00 | 00 00 00 00
      00 00 00 00 00 00 00 00 | 00 10 00 00 00 00 00 00`)
  },
  {
    name: "COPYOUTSTR \"/tmp\" with its NUL",
    frame: { _tag: "CopyoutstrRequest", reqno: 9n, addr: 0x7fff_f7a0_c000n, data: hex("2f 74 6d 70 00") },
    bytes: hex(`
      2d 00 00 00 00 00 00 00 | 09 00 00 00 00 00 00 00 | 00 00 05 00 | 00 00 00 00
      05 00 00 00 00 00 00 00 | 00 c0 a0 f7 ff 7f 00 00 | 2f 74 6d 70 00`)
  },
  {
    name: "ANONMMAP 64 KiB",
    frame: { _tag: "AnonmmapRequest", reqno: 10n, size: 0x1_0000n },
    bytes: hex(`
      20 00 00 00 00 00 00 00 | 0a 00 00 00 00 00 00 00 | 00 00 06 00 | 00 00 00 00
      00 00 01 00 00 00 00 00`)
  },
  {
    name: "RAISE SIGTERM",
    frame: { _tag: "RaiseRequest", reqno: 13n, signo: 15 },
    bytes: hex(`
      18 00 00 00 00 00 00 00 | 0d 00 00 00 00 00 00 00 | 00 00 08 00 | 0f 00 00 00`)
  },

  // ---- client -> server responses ------------------------------------
  {
    name: "RESP COPYIN \"abc\\0\" (also the COPYINSTR answer)",
    frame: { _tag: "CopyinResponse", reqno: REQNO_2_53_PLUS_1, data: hex("61 62 63 00") },
    bytes: hex(`
      1c 00 00 00 00 00 00 00 | 01 00 00 00 00 00 20 00 | 01 00 02 00 | 00 00 00 00
      61 62 63 00`)
  },
  {
    name: "RESP COPYIN of nothing",
    frame: { _tag: "CopyinResponse", reqno: 11n, data: new Uint8Array(0) },
    bytes: hex(`
      18 00 00 00 00 00 00 00 | 0b 00 00 00 00 00 00 00 | 01 00 02 00 | 00 00 00 00`)
  },
  {
    name: "RESP ANONMMAP at 0x7f1234567890a000",
    frame: { _tag: "AnonmmapResponse", reqno: 10n, addr: 0x7f12_3456_7890_a000n },
    bytes: hex(`
      20 00 00 00 00 00 00 00 | 0a 00 00 00 00 00 00 00 | 01 00 06 00 | 00 00 00 00
      00 a0 90 78 56 34 12 7f`)
  },
  {
    name: "RESP ANONMMAP failed (address 0)",
    frame: { _tag: "AnonmmapResponse", reqno: 12n, addr: 0n },
    bytes: hex(`
      20 00 00 00 00 00 00 00 | 0c 00 00 00 00 00 00 00 | 01 00 06 00 | 00 00 00 00
      00 00 00 00 00 00 00 00`)
  },

  // ---- either direction ----------------------------------------------
  {
    name: "ERROR MALFORMED_REQUEST (7), reqno above 2^63",
    frame: { _tag: "ErrorFrame", reqno: HUGE_REQNO, code: 7 },
    bytes: hex(`
      18 00 00 00 00 00 00 00 | 10 32 54 76 98 ba dc fe | 02 00 00 00 | 07 00 00 00`)
  },
  {
    name: "ERROR INVALID_PREFORK (3)",
    frame: { _tag: "ErrorFrame", reqno: 1n, code: 3 },
    bytes: hex(`
      18 00 00 00 00 00 00 00 | 01 00 00 00 00 00 00 00 | 02 00 00 00 | 03 00 00 00`)
  },
  {
    name: "ERROR NONE (0)",
    frame: { _tag: "ErrorFrame", reqno: 0n, code: 0 },
    bytes: hex(`
      18 00 00 00 00 00 00 00 | 00 00 00 00 00 00 00 00 | 02 00 00 00 | 00 00 00 00`)
  }
]

const ALL_TAGS: ReadonlyArray<FrameTag> = [
  "HandshakeGuest",
  "HandshakeFork",
  "HandshakeExec",
  "HandshakeResponse",
  "PreforkRequest",
  "PreforkResponse",
  "SyscallRequest",
  "SyscallResponse",
  "CopyinRequest",
  "CopyinstrRequest",
  "CopyoutRequest",
  "CopyoutstrRequest",
  "AnonmmapRequest",
  "CopyinResponse",
  "AnonmmapResponse",
  "RaiseRequest",
  "ErrorFrame"
]

const decoded = (bytes: Uint8Array): Frame => {
  const r = decodeFrame(bytes)
  if (Result.isFailure(r)) throw new Error(`expected a frame, got ${r.failure.field}: ${r.failure.message}`)
  return r.success
}

const encoded = (frame: Frame): Uint8Array => {
  const r = encodeFrameResult(frame)
  if (Result.isFailure(r)) throw new Error(`expected bytes, got ${r.failure.message}`)
  return r.success
}

const toHex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")

describe("golden frames", () => {
  it("cover all 17 message kinds", () => {
    expect(ALL_TAGS).toHaveLength(17)
    expect(new Set(goldens.map((g) => g.frame._tag))).toEqual(new Set(ALL_TAGS))
  })

  it.each(goldens)("$name: the hand-written len matches the bytes", ({ bytes }) => {
    // read by hand, not through the codec's header reader
    let len = 0n
    for (let i = 7; i >= 0; i--) len = (len << 8n) | BigInt(bytes[i]!)
    expect(len).toBe(BigInt(bytes.byteLength))
    expect(bytes.byteLength).toBeGreaterThanOrEqual(HEADER_SIZE)
  })

  it.each(goldens)("$name: decodeFrame gives the frame", ({ bytes, frame }) => {
    const r = decodeFrame(bytes)
    expect(Result.isSuccess(r)).toBe(true)
    expect(decoded(bytes)).toStrictEqual(frame)
  })

  it.each(goldens)("$name: encodeFrameResult gives exactly the golden bytes", ({ bytes, frame }) => {
    const out = encoded(frame)
    expect(out).toBeInstanceOf(Uint8Array)
    expect(toHex(out)).toBe(toHex(bytes))
    expect(out).toEqual(bytes)
  })

  it.each(goldens)("$name: FrameFromBytes decodes and encodes the same", ({ bytes, frame }) => {
    expect(Schema.decodeUnknownSync(FrameFromBytes)(bytes)).toStrictEqual(frame)
    expect(toHex(Schema.encodeSync(FrameFromBytes)(frame))).toBe(toHex(bytes))
  })

  it.each(goldens)("$name: decodes from an unaligned view inside a larger buffer", ({ bytes, frame }) => {
    const big = new Uint8Array(bytes.byteLength + 11).fill(0xee)
    big.set(bytes, 3)
    const view = big.subarray(3, 3 + bytes.byteLength)
    const frameOut = decoded(view)
    expect(frameOut).toStrictEqual(frame)
    // the frame owns its bytes: scribbling over the input changes nothing
    const before = structuredClone(frameOut)
    big.fill(0x55)
    expect(frameOut).toStrictEqual(before)
  })

  it.effect("encodeFrame (the Effect) gives the golden bytes of every frame", () =>
    Effect.gen(function*() {
      for (const { bytes, frame } of goldens) {
        const out = yield* encodeFrame(frame)
        expect(toHex(out)).toBe(toHex(bytes))
      }
    }))

  it("a COPYINSTR answer arrives as RESP COPYIN and decodes as a CopyinResponse", () => {
    // RESP (01) of type COPYINSTR (03) does not exist; the answer uses type COPYIN (02)
    const answer = hex(`
      1e 00 00 00 00 00 00 00 | 02 00 00 00 00 00 20 00 | 01 00 02 00 | 00 00 00 00
      2f 65 74 63 00 00`)
    expect(decoded(answer)).toStrictEqual({
      _tag: "CopyinResponse",
      reqno: REQNO_2_53_PLUS_1 + 1n,
      data: hex("2f 65 74 63 00 00")
    })
  })

  it("a decode failure is a FrameDecodeError, not an exception", () => {
    const r = decodeFrame(hex("18 00 00 00 00 00 00 00 | 01 00 00 00 00 00 00 00 | 03 00 00 00 | 00 00 00 00"))
    expect(Result.isFailure(r) && r.failure).toBeInstanceOf(FrameDecodeError)
  })
})
