/**
 * Every way a frame can be refused, by the whole-frame decoder
 * (`decodeFrame`), the streaming decoder (`FrameDecoder`, `decodeFrames`)
 * and the encoder.
 *
 * Inputs are built by hand with a DataView (never with the encoder).
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Exit, Result, Stream } from "effect"
import {
  DEFAULT_MAX_FRAME_LENGTH,
  decodeFrame,
  decodeFrames,
  encodeFrameResult,
  type Frame,
  FrameDecodeError,
  FrameDecoder,
  FrameEncodeError,
  HEADER_SIZE
} from "../src/index.ts"

// ---------------------------------------------------------------------------
// hand-built inputs

const REQ = 0
const RESP = 1
const ERROR = 2
const T = { HANDSHAKE: 0, SYSCALL: 1, COPYIN: 2, COPYINSTR: 3, COPYOUT: 4, COPYOUTSTR: 5, ANONMMAP: 6, PREFORK: 7, RAISE: 8 }

/** A 24-byte header with exactly these fields. */
const header = (len: bigint, reqno: bigint, cls: number, type: number, arg: number): Uint8Array => {
  const b = new Uint8Array(HEADER_SIZE)
  const v = new DataView(b.buffer)
  v.setBigUint64(0, len, true)
  v.setBigUint64(8, reqno, true)
  v.setUint16(16, cls, true)
  v.setUint16(18, type, true)
  v.setUint32(20, arg, true)
  return b
}

const concat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

/** A frame whose len is right for the body given. */
const frame = (reqno: bigint, cls: number, type: number, arg: number, body: Uint8Array = new Uint8Array(0)) =>
  concat(header(BigInt(HEADER_SIZE + body.byteLength), reqno, cls, type, arg), body)

const bytesOf = (n: number, fill = 0xab) => new Uint8Array(n).fill(fill)

/** A COPYOUT body whose copydata len says `claimed` for `data.length` bytes. */
const copyoutBody = (claimed: bigint, data: Uint8Array) => {
  const b = new Uint8Array(16 + data.byteLength)
  const v = new DataView(b.buffer)
  v.setBigUint64(0, claimed, true)
  v.setBigUint64(8, 0x7f12_3456_7890_abcdn, true)
  b.set(data, 16)
  return b
}

/** A good frame with a body, to follow a bad one in a stream. */
const GOOD_AFTER = frame(99n, RESP, T.SYSCALL, 0, bytesOf(24, 0))
const GOOD_AFTER_FRAME: Frame = { _tag: "SyscallResponse", reqno: 99n, error: 0, retval0: 0n, retval1: 0n }
const GOOD_BEFORE = frame(98n, RESP, T.HANDSHAKE, 0, bytesOf(4, 0))
const GOOD_BEFORE_FRAME: Frame = { _tag: "HandshakeResponse", reqno: 98n, error: 0 }

const failureOf = (r: Result.Result<Frame, FrameDecodeError>): FrameDecodeError => {
  if (Result.isSuccess(r)) throw new Error(`expected a failure, got ${JSON.stringify(r.success, (_, v) => typeof v === "bigint" ? `${v}n` : v)}`)
  expect(r.failure).toBeInstanceOf(FrameDecodeError)
  expect(r.failure._tag).toBe("FrameDecodeError")
  return r.failure
}

const successOf = (r: Result.Result<Frame, FrameDecodeError> | undefined): Frame => {
  if (r === undefined) throw new Error("expected a result")
  if (Result.isFailure(r)) throw new Error(`expected a frame, got ${r.failure.field}: ${r.failure.message}`)
  return r.success
}

// ---------------------------------------------------------------------------
// whole frames: len itself unusable (fatal)

interface LenCase {
  readonly name: string
  readonly bytes: Uint8Array
  /** reqno of the header, when at least 24 bytes were given */
  readonly reqno: bigint | undefined
  readonly message: RegExp
}

const lenCases: ReadonlyArray<LenCase> = [
  { name: "fewer than 24 bytes", bytes: bytesOf(10), reqno: undefined, message: /at least 24 bytes, got 10/ },
  { name: "no bytes at all", bytes: new Uint8Array(0), reqno: undefined, message: /got 0/ },
  { name: "len 0", bytes: header(0n, 5n, REQ, T.PREFORK, 0), reqno: 5n, message: /len 0 /},
  { name: "len 23", bytes: header(23n, 6n, REQ, T.PREFORK, 0), reqno: 6n, message: /len 23 / },
  {
    name: "len 40 but only 28 bytes",
    bytes: concat(header(40n, 7n, RESP, T.HANDSHAKE, 0), bytesOf(4, 0)),
    reqno: 7n,
    message: /len 40 does not match the 28 bytes/
  },
  {
    name: "len 24 but 28 bytes",
    bytes: concat(header(24n, 8n, RESP, T.HANDSHAKE, 0), bytesOf(4, 0)),
    reqno: 8n,
    message: /len 24 does not match the 28 bytes/
  },
  {
    name: "len 2^64-1 on a 24-byte frame",
    bytes: header(2n ** 64n - 1n, 9n, REQ, T.PREFORK, 0),
    reqno: 9n,
    message: /does not match the 24 bytes/
  }
]

describe("decodeFrame: an unusable len", () => {
  for (const c of lenCases) {
    it(`${c.name}: refused, field "len", fatal, with the header when there is one`, () => {
      const e = failureOf(decodeFrame(c.bytes))
      expect(e.field).toBe("len")
      expect(e.fatal).toBe(true)
      expect(e.message).toMatch(c.message)
      expect(e.header?.reqno).toBe(c.reqno)
    })
  }
})

// ---------------------------------------------------------------------------
// whole frames with a usable len but a bad header field or body (not fatal)

interface BadFrame {
  readonly name: string
  readonly bytes: Uint8Array
  readonly reqno: bigint
  readonly field: string
  readonly message: RegExp
}

const bodySize = (
  name: string,
  cls: number,
  type: number,
  arg: number,
  sizes: ReadonlyArray<number>,
  want: string
): Array<BadFrame> =>
  sizes.map((n, i) => ({
    name: `${name} with a ${n}-byte body`,
    bytes: frame(BigInt(1000 + i), cls, type, arg, bytesOf(n)),
    reqno: BigInt(1000 + i),
    field: "body",
    message: new RegExp(`needs a body of ${want} bytes, got ${n}\\b`)
  }))

const badFrames: ReadonlyArray<BadFrame> = [
  // fixed-size bodies
  ...bodySize("HandshakeFork", REQ, T.HANDSHAKE, 2, [19, 21, 0, 16], "20"),
  ...bodySize("SyscallResponse", RESP, T.SYSCALL, 0, [23, 25, 0, 16, 32], "24"),
  ...bodySize("HandshakeResponse", RESP, T.HANDSHAKE, 0, [0, 3, 5, 8], "4"),
  ...bodySize("PreforkResponse", RESP, T.PREFORK, 0, [15, 17, 0, 20], "16"),
  ...bodySize("PreforkRequest", REQ, T.PREFORK, 0, [1, 16], "0"),
  ...bodySize("AnonmmapRequest", REQ, T.ANONMMAP, 0, [7, 9, 0, 16], "8"),
  ...bodySize("AnonmmapResponse", RESP, T.ANONMMAP, 0, [4, 9, 0], "8"),
  ...bodySize("CopyinRequest", REQ, T.COPYIN, 0, [15, 17, 8], "16"),
  ...bodySize("CopyinstrRequest", REQ, T.COPYINSTR, 0, [15, 24], "16"),
  ...bodySize("RaiseRequest", REQ, T.RAISE, 9, [4], "0"),
  ...bodySize("ErrorFrame", ERROR, 0, 7, [4], "0"),
  // bodies with a minimum
  ...bodySize("CopyoutRequest", REQ, T.COPYOUT, 0, [0, 15], "at least 16"),
  ...bodySize("CopyoutstrRequest", REQ, T.COPYOUTSTR, 0, [8], "at least 16"),
  // the copydata len (rcp_len) lying about the data that follows: the
  // frame's own len is fine, so the stream goes on
  {
    name: "COPYOUT whose copydata len says 6 for 5 bytes",
    bytes: frame(2000n, REQ, T.COPYOUT, 0, copyoutBody(6n, bytesOf(5))),
    reqno: 2000n,
    field: "rcp_len",
    message: /copydata len 6 does not match the 5 data bytes/
  },
  {
    name: "COPYOUT whose copydata len says 4 for 5 bytes",
    bytes: frame(2001n, REQ, T.COPYOUT, 0, copyoutBody(4n, bytesOf(5))),
    reqno: 2001n,
    field: "rcp_len",
    message: /copydata len 4 does not match the 5 data bytes/
  },
  {
    name: "COPYOUT whose copydata len says 2^64-1 for 0 bytes",
    bytes: frame(2002n, REQ, T.COPYOUT, 0, copyoutBody(2n ** 64n - 1n, new Uint8Array(0))),
    reqno: 2002n,
    field: "rcp_len",
    message: /copydata len 18446744073709551615 does not match the 0 data bytes/
  },
  {
    name: "COPYOUTSTR whose copydata len says 1 for 5 bytes",
    bytes: frame(2003n, REQ, T.COPYOUTSTR, 0, copyoutBody(1n, bytesOf(5))),
    reqno: 2003n,
    field: "rcp_len",
    message: /copydata len 1 does not match the 5 data bytes/
  },
  // header fields
  { name: "class 3", bytes: frame(3000n, 3, T.SYSCALL, 0, bytesOf(4)), reqno: 3000n, field: "class", message: /unknown frame class 3/ },
  { name: "class 0xffff", bytes: frame(3001n, 0xffff, 0, 0), reqno: 3001n, field: "class", message: /unknown frame class 65535/ },
  { name: "REQ of type 9", bytes: frame(3002n, REQ, 9, 0, bytesOf(8)), reqno: 3002n, field: "type", message: /unknown request type 9/ },
  { name: "REQ of type 0xffff", bytes: frame(3003n, REQ, 0xffff, 0), reqno: 3003n, field: "type", message: /unknown request type 65535/ },
  {
    name: "RESP of type COPYOUT (no response exists)",
    bytes: frame(3004n, RESP, T.COPYOUT, 0, bytesOf(4)),
    reqno: 3004n,
    field: "type",
    message: /no response is defined for type 4/
  },
  {
    name: "RESP of type COPYINSTR (answered as COPYIN)",
    bytes: frame(3005n, RESP, T.COPYINSTR, 0, bytesOf(4)),
    reqno: 3005n,
    field: "type",
    message: /no response is defined for type 3/
  },
  { name: "RESP of type COPYOUTSTR", bytes: frame(3006n, RESP, T.COPYOUTSTR, 0), reqno: 3006n, field: "type", message: /type 5/ },
  { name: "RESP of type RAISE", bytes: frame(3007n, RESP, T.RAISE, 0), reqno: 3007n, field: "type", message: /type 8/ },
  { name: "RESP of type 9", bytes: frame(3008n, RESP, 9, 0), reqno: 3008n, field: "type", message: /type 9/ },
  {
    name: "HANDSHAKE of kind AUTH (1)",
    bytes: frame(3009n, REQ, T.HANDSHAKE, 1, bytesOf(8)),
    reqno: 3009n,
    field: "arg",
    message: /unsupported handshake kind 1/
  },
  {
    name: "HANDSHAKE of kind 7",
    bytes: frame(3010n, REQ, T.HANDSHAKE, 7, bytesOf(8)),
    reqno: 3010n,
    field: "arg",
    message: /unsupported handshake kind 7/
  },
  {
    name: "HANDSHAKE of kind 0xffffffff",
    bytes: frame(3011n, REQ, T.HANDSHAKE, 0xffffffff, bytesOf(8)),
    reqno: 3011n,
    field: "arg",
    message: /unsupported handshake kind 4294967295/
  },
  { name: "ERROR code 8", bytes: frame(3012n, ERROR, 0, 8), reqno: 3012n, field: "arg", message: /unknown error code 8/ },
  {
    name: "ERROR code 0xffffffff, reqno 2^64-1",
    bytes: frame(2n ** 64n - 1n, ERROR, 0, 0xffffffff),
    reqno: 2n ** 64n - 1n,
    field: "arg",
    message: /unknown error code 4294967295/
  }
]

describe("decodeFrame: a bad field in a frame of usable length", () => {
  for (const c of badFrames) {
    it(`${c.name}: refused, field "${c.field}", not fatal, the header carries the reqno`, () => {
      const e = failureOf(decodeFrame(c.bytes))
      expect(e.field).toBe(c.field)
      expect(e.message).toMatch(c.message)
      expect(e.fatal).toBe(false)
      expect(e.header?.reqno).toBe(c.reqno)
      expect(e.header?.len).toBe(BigInt(c.bytes.byteLength))
    })
  }
})

describe("FrameDecoder: a bad frame in a stream is reported and skipped", () => {
  for (const c of badFrames) {
    it(`${c.name}: between two good frames, in one chunk`, () => {
      const d = new FrameDecoder()
      const out = d.push(concat(GOOD_BEFORE, c.bytes, GOOD_AFTER))
      expect(out).toHaveLength(3)
      expect(successOf(out[0])).toStrictEqual(GOOD_BEFORE_FRAME)
      const e = failureOf(out[1]!)
      expect(e.field).toBe(c.field)
      expect(e.fatal).toBe(false)
      expect(e.message).toMatch(c.message)
      expect(e.header?.reqno).toBe(c.reqno)
      expect(successOf(out[2])).toStrictEqual(GOOD_AFTER_FRAME)
      expect(d.failed).toBeUndefined()
      expect(d.bufferedBytes).toBe(0)
      expect(d.end()).toBeUndefined()
    })
  }

  it("byte by byte: good, bad (class 3), good", () => {
    const bad = frame(3000n, 3, T.SYSCALL, 0, bytesOf(4))
    const stream = concat(GOOD_BEFORE, bad, GOOD_AFTER)
    const d = new FrameDecoder()
    const out: Array<Result.Result<Frame, FrameDecodeError>> = []
    for (let i = 0; i < stream.byteLength; i++) out.push(...d.push(stream.subarray(i, i + 1)))
    expect(out).toHaveLength(3)
    expect(successOf(out[0])).toStrictEqual(GOOD_BEFORE_FRAME)
    const e = failureOf(out[1]!)
    expect(e.fatal).toBe(false)
    expect(e.header).toEqual({ len: 28n, reqno: 3000n, class: 3, type: T.SYSCALL, arg: 0 })
    expect(successOf(out[2])).toStrictEqual(GOOD_AFTER_FRAME)
    expect(d.end()).toBeUndefined()
  })
})

// ---------------------------------------------------------------------------
// the encoder

const cookie = (n: number) => new Uint8Array(n).fill(7)

const badEncodes: ReadonlyArray<{ readonly name: string; readonly frame: Frame; readonly field: string }> = [
  { name: "retval0 = 2^63", frame: { _tag: "SyscallResponse", reqno: 1n, error: 0, retval0: 2n ** 63n, retval1: 0n }, field: "retval0" },
  { name: "retval1 = -2^63-1", frame: { _tag: "SyscallResponse", reqno: 1n, error: 0, retval0: 0n, retval1: -(2n ** 63n) - 1n }, field: "retval1" },
  { name: "error = 2^31", frame: { _tag: "SyscallResponse", reqno: 1n, error: 2 ** 31, retval0: 0n, retval1: 0n }, field: "error" },
  { name: "handshake error 1.5", frame: { _tag: "HandshakeResponse", reqno: 1n, error: 1.5 }, field: "error" },
  { name: "sysnum -1", frame: { _tag: "SyscallRequest", reqno: 1n, sysnum: -1, args: new Uint8Array(0) }, field: "sysnum" },
  { name: "sysnum 2^32", frame: { _tag: "SyscallRequest", reqno: 1n, sysnum: 2 ** 32, args: new Uint8Array(0) }, field: "sysnum" },
  { name: "reqno -1", frame: { _tag: "PreforkRequest", reqno: -1n }, field: "reqno" },
  { name: "reqno 2^64", frame: { _tag: "PreforkRequest", reqno: 2n ** 64n }, field: "reqno" },
  { name: "a 15-byte cookie (PreforkResponse)", frame: { _tag: "PreforkResponse", reqno: 1n, cookie: cookie(15) }, field: "cookie" },
  { name: "a 17-byte cookie (PreforkResponse)", frame: { _tag: "PreforkResponse", reqno: 1n, cookie: cookie(17) }, field: "cookie" },
  { name: "a 15-byte cookie (HandshakeFork)", frame: { _tag: "HandshakeFork", reqno: 1n, cookie: cookie(15), cancel: 0 }, field: "cookie" },
  { name: "cancel 2^31", frame: { _tag: "HandshakeFork", reqno: 1n, cookie: cookie(16), cancel: 2 ** 31 }, field: "cancel" },
  { name: "a NUL in comm", frame: { _tag: "HandshakeGuest", reqno: 1n, comm: "rump\0ls" }, field: "comm" },
  { name: "a NUL in the exec name", frame: { _tag: "HandshakeExec", reqno: 1n, comm: "\0" }, field: "comm" },
  { name: "a lone high surrogate in comm", frame: { _tag: "HandshakeGuest", reqno: 1n, comm: "rump\ud800" }, field: "comm" },
  { name: "a lone low surrogate in the exec name", frame: { _tag: "HandshakeExec", reqno: 1n, comm: "\udc00sh" }, field: "comm" },
  { name: "copyin len 2^64", frame: { _tag: "CopyinRequest", reqno: 1n, len: 2n ** 64n, addr: 0n }, field: "len" },
  { name: "copyinstr addr -1", frame: { _tag: "CopyinstrRequest", reqno: 1n, len: 1n, addr: -1n }, field: "addr" },
  { name: "copyout addr 2^64", frame: { _tag: "CopyoutRequest", reqno: 1n, addr: 2n ** 64n, data: new Uint8Array(1) }, field: "addr" },
  { name: "anonmmap size -1", frame: { _tag: "AnonmmapRequest", reqno: 1n, size: -1n }, field: "size" },
  { name: "anonmmap addr 2^64", frame: { _tag: "AnonmmapResponse", reqno: 1n, addr: 2n ** 64n }, field: "addr" },
  { name: "signo -1", frame: { _tag: "RaiseRequest", reqno: 1n, signo: -1 }, field: "signo" },
  { name: "error code 8", frame: { _tag: "ErrorFrame", reqno: 1n, code: 8 as unknown as 0 }, field: "code" }
]

describe("encodeFrameResult refuses fields out of their C type's range", () => {
  it.each(badEncodes)("$name", ({ frame: f, field }) => {
    const r = encodeFrameResult(f)
    if (Result.isSuccess(r)) throw new Error(`expected a failure, got ${r.success.byteLength} bytes`)
    expect(r.failure).toBeInstanceOf(FrameEncodeError)
    expect(r.failure._tag).toBe("FrameEncodeError")
    expect(r.failure.tag).toBe(f._tag)
    expect(r.failure.message).toContain(`["${field}"]`)
  })

  it("refuses a frame of an unknown tag", () => {
    const r = encodeFrameResult({ _tag: "Nonsense", reqno: 1n } as unknown as Frame)
    expect(Result.isFailure(r)).toBe(true)
  })
})

// ---------------------------------------------------------------------------
// the streaming decoder: lengths it must not trust

const oversize: ReadonlyArray<readonly [string, bigint]> = [
  ["DEFAULT_MAX_FRAME_LENGTH + 1", BigInt(DEFAULT_MAX_FRAME_LENGTH + 1)],
  ["a 1 GiB claim", 2n ** 30n],
  ["2^64 - 1", 2n ** 64n - 1n]
]

describe("FrameDecoder: an oversize len is fatal as soon as the header is in", () => {
  for (const [name, len] of oversize) {
    const head = header(len, 0x0123_4567_89ab_cdefn, REQ, T.COPYOUT, 0)

    it(`${name}, fed one byte at a time`, () => {
      const d = new FrameDecoder()
      for (let i = 0; i < HEADER_SIZE - 1; i++) {
        expect(d.push(head.subarray(i, i + 1))).toEqual([])
        expect(d.bufferedBytes).toBe(i + 1)
        expect(d.bufferedBytes).toBeLessThanOrEqual(HEADER_SIZE)
      }
      const out = d.push(head.subarray(HEADER_SIZE - 1))
      expect(out).toHaveLength(1)
      const e = failureOf(out[0]!)
      expect(e.field).toBe("len")
      expect(e.fatal).toBe(true)
      expect(e.message).toContain(`${len}`)
      expect(e.message).toContain(`${DEFAULT_MAX_FRAME_LENGTH}`)
      expect(e.header?.len).toBe(len)
      expect(e.header?.reqno).toBe(0x0123_4567_89ab_cdefn)
      expect(d.failed).toBe(e)
      expect(d.bufferedBytes).toBe(0)
      // the rest of the stream is ignored, and nothing is kept
      expect(d.push(bytesOf(64 * 1024))).toEqual([])
      expect(d.push(GOOD_AFTER)).toEqual([])
      expect(d.bufferedBytes).toBe(0)
      expect(d.end()).toBeUndefined()
      expect(d.failed).toBe(e)
    })

    it(`${name}, in one chunk with 64 KiB of body and a good frame after`, () => {
      const d = new FrameDecoder()
      const out = d.push(concat(GOOD_BEFORE, head, bytesOf(64 * 1024), GOOD_AFTER))
      expect(out).toHaveLength(2)
      expect(successOf(out[0])).toStrictEqual(GOOD_BEFORE_FRAME)
      const e = failureOf(out[1]!)
      expect([e.field, e.fatal]).toEqual(["len", true])
      expect(d.bufferedBytes).toBe(0)
    })
  }

  it("a frame of exactly DEFAULT_MAX_FRAME_LENGTH (a full copy chunk) is accepted", () => {
    const data = bytesOf(DEFAULT_MAX_FRAME_LENGTH - HEADER_SIZE - 16, 0x5a)
    const whole = frame(1n, REQ, T.COPYOUT, 0, copyoutBody(BigInt(data.byteLength), data))
    expect(whole.byteLength).toBe(DEFAULT_MAX_FRAME_LENGTH)
    const d = new FrameDecoder()
    const out = d.push(whole)
    expect(out).toHaveLength(1)
    expect(successOf(out[0])).toStrictEqual({ _tag: "CopyoutRequest", reqno: 1n, addr: 0x7f12_3456_7890_abcdn, data })
  })

  it("a 1 GiB claim under a 2 GiB limit: only the bytes that arrived are held", () => {
    const d = new FrameDecoder({ maxFrameLength: 2 ** 31 })
    const before = process.memoryUsage().arrayBuffers
    expect(d.push(header(2n ** 30n, 42n, REQ, T.COPYOUT, 0))).toEqual([])
    expect(d.push(bytesOf(100))).toEqual([])
    // the header stays held until its frame is complete: 24 + 100 bytes
    expect(d.bufferedBytes).toBe(124)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 * 1024 * 1024)
    const e = d.end()
    expect(e).toBeInstanceOf(FrameDecodeError)
    expect([e?.field, e?.fatal, e?.header?.reqno]).toEqual(["body", true, 42n])
    expect(e?.message).toContain(`124 of ${2 ** 30}`)
    expect(d.bufferedBytes).toBe(0)
  })

  it("a custom small maxFrameLength is honoured", () => {
    const d = new FrameDecoder({ maxFrameLength: 64 })
    expect(d.maxFrameLength).toBe(64)
    const fits = frame(1n, RESP, T.COPYIN, 0, bytesOf(40))
    expect(fits.byteLength).toBe(64)
    expect(successOf(d.push(fits)[0])).toStrictEqual({ _tag: "CopyinResponse", reqno: 1n, data: bytesOf(40) })
    const out = d.push(frame(2n, RESP, T.COPYIN, 0, bytesOf(41)))
    expect(out).toHaveLength(1)
    const e = failureOf(out[0]!)
    expect([e.field, e.fatal, e.header?.len, e.header?.reqno]).toEqual(["len", true, 65n, 2n])
    expect(e.message).toContain("limit of 64")
    expect(d.bufferedBytes).toBe(0)
    expect(d.push(fits)).toEqual([])
  })

  it("the default limit is DEFAULT_MAX_FRAME_LENGTH", () => {
    expect(new FrameDecoder().maxFrameLength).toBe(DEFAULT_MAX_FRAME_LENGTH)
    expect(new FrameDecoder({ maxFrameLength: undefined }).maxFrameLength).toBe(DEFAULT_MAX_FRAME_LENGTH)
  })

  it.each([0n, 1n, 23n])("len %s (shorter than the header) is fatal, field \"len\"", (len) => {
    const d = new FrameDecoder()
    const out = d.push(concat(GOOD_BEFORE, header(len, 5n, REQ, T.PREFORK, 0), GOOD_AFTER))
    expect(out).toHaveLength(2)
    expect(successOf(out[0])).toStrictEqual(GOOD_BEFORE_FRAME)
    const e = failureOf(out[1]!)
    expect([e.field, e.fatal]).toEqual(["len", true])
    expect(e.message).toContain("24")
    expect(d.bufferedBytes).toBe(0)
    expect(d.push(GOOD_AFTER)).toEqual([])
  })
})

describe("FrameDecoder: a stream that ends inside a frame", () => {
  it("mid-header: end() is fatal, field \"header\"", () => {
    const d = new FrameDecoder()
    expect(d.push(GOOD_BEFORE)).toHaveLength(1)
    expect(d.push(GOOD_AFTER.subarray(0, 10))).toEqual([])
    expect(d.bufferedBytes).toBe(10)
    const e = d.end()
    expect(e).toBeInstanceOf(FrameDecodeError)
    expect(e?.field).toBe("header")
    expect(e?.fatal).toBe(true)
    expect(e?.header).toBeUndefined()
    expect(e?.message).toContain("10 of 24")
    expect(d.failed).toBe(e)
    expect(d.bufferedBytes).toBe(0)
    expect(d.end()).toBeUndefined()
    expect(d.push(GOOD_AFTER)).toEqual([])
  })

  it("mid-body: end() is fatal, field \"body\", with the header", () => {
    const copyout = frame(77n, REQ, T.COPYOUT, 0, copyoutBody(5n, bytesOf(5)))
    expect(copyout.byteLength).toBe(45)
    const d = new FrameDecoder()
    expect(d.push(copyout.subarray(0, 29))).toEqual([])
    expect(d.bufferedBytes).toBe(29)
    const e = d.end()
    expect(e?.field).toBe("body")
    expect(e?.fatal).toBe(true)
    expect(e?.header).toEqual({ len: 45n, reqno: 77n, class: REQ, type: T.COPYOUT, arg: 0 })
    expect(e?.message).toContain("29 of 45")
    expect(d.bufferedBytes).toBe(0)
  })

  it("right after the header of a frame with a body: field \"body\"", () => {
    const d = new FrameDecoder()
    expect(d.push(GOOD_AFTER.subarray(0, HEADER_SIZE))).toEqual([])
    expect(d.bufferedBytes).toBe(HEADER_SIZE)
    expect(d.end()?.field).toBe("body")
  })

  it("at a frame boundary: end() is undefined", () => {
    const d = new FrameDecoder()
    expect(d.end()).toBeUndefined()
    expect(d.push(concat(GOOD_BEFORE, GOOD_AFTER))).toHaveLength(2)
    expect(d.end()).toBeUndefined()
    expect(d.failed).toBeUndefined()
  })

  it("empty chunks change nothing", () => {
    const d = new FrameDecoder()
    expect(d.push(new Uint8Array(0))).toEqual([])
    expect(d.push(GOOD_BEFORE.subarray(0, 5))).toEqual([])
    expect(d.push(new Uint8Array(0))).toEqual([])
    expect(d.bufferedBytes).toBe(5)
    expect(successOf(d.push(GOOD_BEFORE.subarray(5))[0])).toStrictEqual(GOOD_BEFORE_FRAME)
  })
})

describe("decodeFrames (Stream)", () => {
  it.effect("passes non-fatal errors through as failed Results", () =>
    Effect.gen(function*() {
      const bad = frame(3009n, REQ, T.HANDSHAKE, 1, bytesOf(8))
      const out = yield* Stream.runCollect(
        Stream.fromIterable([concat(GOOD_BEFORE, bad), GOOD_AFTER]).pipe(decodeFrames())
      )
      expect(out).toHaveLength(3)
      expect(successOf(out[0])).toStrictEqual(GOOD_BEFORE_FRAME)
      expect(failureOf(out[1]!).header?.reqno).toBe(3009n)
      expect(successOf(out[2])).toStrictEqual(GOOD_AFTER_FRAME)
    }))

  it.effect("fails with the fatal error of an oversize len", () =>
    Effect.gen(function*() {
      const exit = yield* Stream.runCollect(
        Stream.fromIterable([GOOD_BEFORE, header(2n ** 64n - 1n, 3n, REQ, T.COPYOUT, 0)]).pipe(decodeFrames())
      ).pipe(Effect.exit)
      expect(Exit.isFailure(exit)).toBe(true)
      const e = yield* Stream.runCollect(
        Stream.fromIterable([header(2n ** 30n, 3n, REQ, T.COPYOUT, 0)]).pipe(decodeFrames())
      ).pipe(Effect.flip)
      expect(e).toBeInstanceOf(FrameDecodeError)
      expect([e.field, e.fatal]).toEqual(["len", true])
    }))

  it.effect("honours maxFrameLength", () =>
    Effect.gen(function*() {
      const e = yield* Stream.runCollect(
        Stream.fromIterable([frame(1n, RESP, T.COPYIN, 0, bytesOf(41))]).pipe(decodeFrames({ maxFrameLength: 64 }))
      ).pipe(Effect.flip)
      expect([e.field, e.header?.len]).toEqual(["len", 65n])
    }))

  it.effect("fails with a \"body\" error when the input ends inside a frame", () =>
    Effect.gen(function*() {
      const e = yield* Stream.runCollect(
        Stream.fromIterable([GOOD_BEFORE, GOOD_AFTER.subarray(0, 30)]).pipe(decodeFrames())
      ).pipe(Effect.flip)
      expect(e).toBeInstanceOf(FrameDecodeError)
      expect([e.field, e.fatal, e.header?.reqno]).toEqual(["body", true, 99n])
    }))

  it.effect("fails with a \"header\" error when the input ends inside a header", () =>
    Effect.gen(function*() {
      const e = yield* Stream.runCollect(
        Stream.fromIterable([GOOD_AFTER.subarray(0, 23)]).pipe(decodeFrames())
      ).pipe(Effect.flip)
      expect([e.field, e.fatal]).toEqual(["header", true])
    }))
})
