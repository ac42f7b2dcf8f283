/**
 * Property tests (fast-check) for the frame codec and the streaming decoder.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Result, Stream } from "effect"
import * as fc from "fast-check"
import {
  decodeFrame,
  decodeFrames,
  encodeFrameChunksResult,
  encodeFrameResult,
  type ErrorCode,
  type Frame,
  FrameDecodeError,
  FrameDecoder,
  FrameEncodeError,
  type FrameOf,
  type FrameTag,
  HEADER_SIZE
} from "../src/index.ts"

// ---------------------------------------------------------------------------
// arbitraries

const MAX_U64 = 2n ** 64n - 1n
const u64 = fc.oneof(
  fc.bigInt({ min: 0n, max: MAX_U64 }),
  fc.bigInt({ min: 0n, max: 1000n }),
  fc.constantFrom(0n, 1n, 2n ** 53n - 1n, 2n ** 53n + 1n, 2n ** 63n - 1n, 2n ** 63n, MAX_U64)
)
const i64 = fc.oneof(
  fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
  fc.constantFrom(-1n, 0n, 1n, -(2n ** 63n), 2n ** 63n - 1n)
)
const i32 = fc.oneof(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.constantFrom(-3, -2, -1, 0, 9, 35))
const u32 = fc.oneof(fc.integer({ min: 0, max: 0xffff_ffff }), fc.integer({ min: 0, max: 600 }))
const cookie = fc.uint8Array({ minLength: 16, maxLength: 16 })
const comm = fc
  .oneof(
    fc.string({ unit: "grapheme-ascii", maxLength: 64 }),
    fc.string({ unit: "binary", maxLength: 40 }), // any code point except lone surrogates
    fc.string({ unit: "grapheme", maxLength: 16 })
  )
  // a program name is well-formed text without NUL (the Comm schema)
  .filter((s) => !s.includes("\0") && s.isWellFormed())
const data = fc.oneof(
  { arbitrary: fc.uint8Array({ maxLength: 64 }), weight: 4 },
  { arbitrary: fc.uint8Array({ maxLength: 4096 }), weight: 1 }
)
const errorCode = fc.constantFrom<ErrorCode>(0, 1, 2, 3, 4, 5, 6, 7)

/** Records with an ordinary prototype, so that toStrictEqual compares them with decoded frames. */
const record = <T>(model: { [K in keyof T]: fc.Arbitrary<T[K]> }): fc.Arbitrary<T> =>
  fc.record(model, { noNullPrototype: true })

const arbs: { readonly [T in FrameTag]: fc.Arbitrary<FrameOf<T>> } = {
  HandshakeGuest: record({ _tag: fc.constant("HandshakeGuest"), reqno: u64, comm }),
  HandshakeFork: record({ _tag: fc.constant("HandshakeFork"), reqno: u64, cookie, cancel: i32 }),
  HandshakeExec: record({ _tag: fc.constant("HandshakeExec"), reqno: u64, comm }),
  HandshakeResponse: record({ _tag: fc.constant("HandshakeResponse"), reqno: u64, error: i32 }),
  PreforkRequest: record({ _tag: fc.constant("PreforkRequest"), reqno: u64 }),
  PreforkResponse: record({ _tag: fc.constant("PreforkResponse"), reqno: u64, cookie }),
  SyscallRequest: record({ _tag: fc.constant("SyscallRequest"), reqno: u64, sysnum: u32, args: data }),
  SyscallResponse: record({
    _tag: fc.constant("SyscallResponse"),
    reqno: u64,
    error: i32,
    retval0: i64,
    retval1: i64
  }),
  CopyinRequest: record({ _tag: fc.constant("CopyinRequest"), reqno: u64, len: u64, addr: u64 }),
  CopyinstrRequest: record({ _tag: fc.constant("CopyinstrRequest"), reqno: u64, len: u64, addr: u64 }),
  CopyoutRequest: record({ _tag: fc.constant("CopyoutRequest"), reqno: u64, addr: u64, data }),
  CopyoutstrRequest: record({ _tag: fc.constant("CopyoutstrRequest"), reqno: u64, addr: u64, data }),
  AnonmmapRequest: record({ _tag: fc.constant("AnonmmapRequest"), reqno: u64, size: u64 }),
  CopyinResponse: record({ _tag: fc.constant("CopyinResponse"), reqno: u64, data }),
  AnonmmapResponse: record({ _tag: fc.constant("AnonmmapResponse"), reqno: u64, addr: u64 }),
  RaiseRequest: record({ _tag: fc.constant("RaiseRequest"), reqno: u64, signo: u32 }),
  ErrorFrame: record({ _tag: fc.constant("ErrorFrame"), reqno: u64, code: errorCode })
}

const TAGS = Object.keys(arbs) as ReadonlyArray<FrameTag>
const anyFrame: fc.Arbitrary<Frame> = fc.oneof(...TAGS.map((t): fc.Arbitrary<Frame> => arbs[t]))

/** Chunk sizes, used in turn (and again from the start) until the stream is cut; 0 = an empty chunk. */
const chunkSizes = fc.array(
  fc.oneof(fc.integer({ min: 0, max: 8 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 5000 })),
  { minLength: 1, maxLength: 40 }
)

// ---------------------------------------------------------------------------
// helpers

const encodeOrThrow = (f: Frame): Uint8Array => {
  const r = encodeFrameResult(f)
  if (Result.isFailure(r)) throw new Error(`encode failed: ${r.failure.message}`)
  return r.success
}

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.byteLength
  }
  return out
}

const cut = (bytes: Uint8Array, sizesIn: ReadonlyArray<number>): Array<Uint8Array> => {
  // at least one size must make progress
  const sizes = sizesIn.some((n) => n > 0) ? sizesIn : [...sizesIn, 1]
  const chunks: Array<Uint8Array> = []
  let at = 0
  for (let i = 0; at < bytes.byteLength; i++) {
    const n = sizes[i % sizes.length]!
    chunks.push(bytes.subarray(at, at + n))
    at += n
  }
  return chunks
}

type Decoded = Result.Result<Frame, FrameDecodeError>

/** Feeds the chunks and ends the stream; the frames, or throws on any error. */
const decodeChunks = (chunks: ReadonlyArray<Uint8Array>, maxFrameLength?: number): Array<Frame> => {
  const d = new FrameDecoder({ maxFrameLength })
  const out: Array<Decoded> = []
  for (const c of chunks) out.push(...d.push(c))
  const end = d.end()
  if (end !== undefined) throw new Error(`end(): ${end.field}: ${end.message}`)
  expect(d.bufferedBytes).toBe(0)
  expect(d.failed).toBeUndefined()
  return out.map((r) => {
    if (Result.isFailure(r)) throw new Error(`frame error: ${r.failure.field}: ${r.failure.message}`)
    return r.success
  })
}

// ---------------------------------------------------------------------------
// property 1: decode(encode(f)) = f

describe("property 1: decodeFrame(encode(f)) deep-equals f", () => {
  const roundTrip = (f: Frame) => {
    const bytes = encodeOrThrow(f)
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    expect(v.getBigUint64(0, true)).toBe(BigInt(bytes.byteLength))
    expect(v.getBigUint64(8, true)).toBe(f.reqno)
    const r = decodeFrame(bytes)
    if (Result.isFailure(r)) throw new Error(`decode failed: ${r.failure.field}: ${r.failure.message}`)
    expect(r.success).toStrictEqual(f)
    // and byte-exact the other way
    expect(encodeOrThrow(r.success)).toEqual(bytes)
  }

  it.each(TAGS)("%s (300 runs)", (tag) => {
    fc.assert(fc.property(arbs[tag] as fc.Arbitrary<Frame>, roundTrip), { numRuns: 300 })
  })

  it("any kind (1000 runs)", () => {
    fc.assert(fc.property(anyFrame, roundTrip), { numRuns: 1000 })
  })

  it("a comm with a lone surrogate is refused by the encoder (300 runs)", () => {
    // it would go out as U+FFFD and come back as a different name
    const lone = fc.oneof(fc.integer({ min: 0xd800, max: 0xdbff }), fc.integer({ min: 0xdc00, max: 0xdfff }))
      .map((c) => String.fromCharCode(c))
    const withLone = fc.tuple(comm, lone, comm).map(([a, l, b]) => a + l + b).filter((s) => !s.isWellFormed())
    fc.assert(
      fc.property(withLone, fc.constantFrom("HandshakeGuest" as const, "HandshakeExec" as const), u64, (name, tag, reqno) => {
        const r = encodeFrameResult({ _tag: tag, reqno, comm: name })
        if (Result.isSuccess(r)) throw new Error(`expected a failure, got ${r.success.byteLength} bytes`)
        expect(r.failure).toBeInstanceOf(FrameEncodeError)
        expect(r.failure.tag).toBe(tag)
        expect(r.failure.message).toContain(`["comm"]`)
      }),
      { numRuns: 300 }
    )
  })
})

describe("property 1b: encodeFrameChunksResult writes the same bytes as encodeFrameResult", () => {
  const sameBytes = (f: Frame) => {
    const whole = encodeOrThrow(f)
    const chunks = encodeFrameChunksResult(f)
    if (Result.isFailure(chunks)) throw new Error(`chunked encode failed: ${chunks.failure.message}`)
    const joined = new Uint8Array(chunks.success.reduce((n, c) => n + c.byteLength, 0))
    let at = 0
    for (const c of chunks.success) {
      joined.set(c, at)
      at += c.byteLength
    }
    expect(joined).toEqual(whole)
    // a large payload is handed over as it is, never copied
    const payload = "data" in f ? f.data : "args" in f ? f.args : undefined
    if (payload !== undefined && payload.byteLength >= 1024) {
      expect(chunks.success).toHaveLength(2)
      expect(chunks.success[1]).toBe(payload)
    } else {
      expect(chunks.success).toHaveLength(1)
    }
  }

  it("any kind (1000 runs)", () => {
    fc.assert(fc.property(anyFrame, sameBytes), { numRuns: 1000 })
  })

  it("refuses what encodeFrameResult refuses", () => {
    const bad = { _tag: "CopyoutRequest", reqno: -1n, addr: 0n, data: new Uint8Array(4096) } as unknown as Frame
    expect(Result.isFailure(encodeFrameResult(bad))).toBe(true)
    const r = encodeFrameChunksResult(bad)
    expect(Result.isFailure(r) && r.failure).toBeInstanceOf(FrameEncodeError)
  })
})

// ---------------------------------------------------------------------------
// property 2: a stream of frames cut anywhere decodes to the same frames

describe("property 2: FrameDecoder over randomly cut streams", () => {
  it("random frames, random chunks (500 runs)", () => {
    fc.assert(
      fc.property(fc.array(anyFrame, { maxLength: 12 }), chunkSizes, (frames, sizes) => {
        const chunks = cut(concat(frames.map(encodeOrThrow)), sizes)
        expect(decodeChunks(chunks)).toStrictEqual(frames)
      }),
      { numRuns: 500 }
    )
  })

  it("many small frames, tiny chunks (300 runs)", () => {
    const small = anyFrame.filter((f) => encodeOrThrow(f).byteLength <= 200)
    fc.assert(
      fc.property(
        fc.array(small, { minLength: 1, maxLength: 30 }),
        fc.array(fc.integer({ min: 0, max: 30 }), { minLength: 1, maxLength: 20 }),
        (frames, sizes) => {
          const chunks = cut(concat(frames.map(encodeOrThrow)), sizes)
          expect(decodeChunks(chunks)).toStrictEqual(frames)
        }
      ),
      { numRuns: 300 }
    )
  })
})

// fixed frames: every kind, with bodies of several sizes
const ADDR = 0x7f12_3456_7890_abcdn
const withBody: ReadonlyArray<Frame> = [
  { _tag: "HandshakeGuest", reqno: 1n, comm: "rump.ls" },
  { _tag: "HandshakeResponse", reqno: 1n, error: 0 },
  { _tag: "SyscallRequest", reqno: 2n ** 53n + 1n, sysnum: 5, args: new Uint8Array(24).fill(3) },
  { _tag: "CopyinstrRequest", reqno: 2n ** 63n + 5n, len: 1024n, addr: ADDR },
  { _tag: "CopyinResponse", reqno: 2n ** 63n + 5n, data: new TextEncoder().encode("/etc/passwd\0") },
  { _tag: "CopyoutRequest", reqno: 7n, addr: ADDR, data: Uint8Array.from({ length: 300 }, (_, i) => i & 0xff) },
  { _tag: "SyscallResponse", reqno: 2n ** 53n + 1n, error: 9, retval0: -1n, retval1: 0n },
  { _tag: "HandshakeFork", reqno: 3n, cookie: Uint8Array.from({ length: 16 }, (_, i) => i * 17), cancel: 0 },
  { _tag: "AnonmmapRequest", reqno: 8n, size: 65536n },
  { _tag: "AnonmmapResponse", reqno: 8n, addr: ADDR },
  { _tag: "PreforkResponse", reqno: 9n, cookie: new Uint8Array(16).fill(0xfe) },
  { _tag: "HandshakeExec", reqno: MAX_U64, comm: "sh" },
  { _tag: "CopyinRequest", reqno: 10n, len: 8n, addr: ADDR },
  { _tag: "CopyoutstrRequest", reqno: 11n, addr: ADDR, data: new TextEncoder().encode("héllo\0") }
]
const emptyBody: ReadonlyArray<Frame> = [
  { _tag: "PreforkRequest", reqno: 4n },
  { _tag: "RaiseRequest", reqno: 5n, signo: 15 },
  { _tag: "ErrorFrame", reqno: 6n, code: 7 },
  { _tag: "SyscallRequest", reqno: 12n, sysnum: 20, args: new Uint8Array(0) }
]
// frames with and without a body, side by side
const mixed: ReadonlyArray<Frame> = [
  ...withBody.slice(0, 3),
  emptyBody[0]!,
  ...withBody.slice(3, 6),
  emptyBody[1]!,
  emptyBody[2]!,
  ...withBody.slice(6, 10),
  emptyBody[3]!,
  ...withBody.slice(10)
]

describe("deterministic: one stream of mixed frames", () => {
  it("covers every kind", () => {
    expect(new Set(mixed.map((f) => f._tag))).toEqual(new Set(TAGS))
  })

  it("cut at every position into two chunks", () => {
    const stream = concat(mixed.map(encodeOrThrow))
    for (let p = 0; p <= stream.byteLength; p++) {
      const chunks = [stream.subarray(0, p), stream.subarray(p)]
      expect(decodeChunks(chunks)).toStrictEqual(mixed)
    }
  })

  it("fed one byte at a time (frames with a body)", () => {
    const stream = concat(withBody.map(encodeOrThrow))
    const chunks = Array.from({ length: stream.byteLength }, (_, i) => stream.subarray(i, i + 1))
    expect(decodeChunks(chunks)).toStrictEqual(withBody)
  })

  it("fed one byte at a time (all kinds, empty bodies included)", () => {
    const stream = concat(mixed.map(encodeOrThrow))
    const chunks = Array.from({ length: stream.byteLength }, (_, i) => stream.subarray(i, i + 1))
    expect(decodeChunks(chunks)).toStrictEqual(mixed)
  })

  it.each(emptyBody)("a lone $_tag in one chunk", (f) => {
    expect(new FrameDecoder().push(encodeOrThrow(f))).toEqual([Result.succeed(f)])
  })

  it("an ERROR frame after a good one, in two chunks", () => {
    const a = encodeOrThrow(withBody[1]!)
    const b = encodeOrThrow(emptyBody[2]!)
    expect(decodeChunks([a, b])).toStrictEqual([withBody[1], emptyBody[2]])
  })

  it("lent chunks: every chunk read into one buffer, scribbled over after each push (500 runs)", () => {
    fc.assert(
      fc.property(fc.array(anyFrame, { maxLength: 12 }), chunkSizes, (frames, sizes) => {
        const chunks = cut(concat(frames.map(encodeOrThrow)), sizes)
        // what a socket read into a reused buffer hands over: the same memory every time
        const buffer = new Uint8Array(Math.max(1, ...chunks.map((c) => c.byteLength)))
        const d = new FrameDecoder()
        const out: Array<Decoded> = []
        for (const c of chunks) {
          buffer.set(c)
          out.push(...d.push(buffer.subarray(0, c.byteLength), true))
          buffer.fill(0xaa)
        }
        expect(d.end()).toBeUndefined()
        expect(out).toStrictEqual(frames.map((f) => Result.succeed(f)))
      }),
      { numRuns: 500 }
    )
  })

  it("a large frame gathered from several chunks keeps its data in the gathered buffer (no second copy), apart from the input", () => {
    const data = new Uint8Array(1024 * 1024).map((_, i) => (i * 7) & 0xff)
    const frame: Frame = { _tag: "CopyoutRequest", reqno: 9n, addr: 0x1000n, data }
    const bytes = encodeOrThrow(frame)
    const chunks = cut(bytes.slice(), Array.from({ length: 17 }, () => 64 * 1024))
    const d = new FrameDecoder({ maxFrameLength: bytes.byteLength })
    const out = chunks.flatMap((c) => d.push(c))
    for (const c of chunks) c.fill(0)
    expect(out).toStrictEqual([Result.succeed(frame)])
    const decoded = (out[0] as Result.Success<Frame, FrameDecodeError>).success as FrameOf<"CopyoutRequest">
    // the data is a view of the one buffer the frame was gathered into, not a copy of it
    expect(decoded.data.buffer.byteLength).toBe(bytes.byteLength)
    expect(decoded.data.byteOffset).toBe(bytes.byteLength - data.byteLength)
    // a frame that lies in one chunk is still copied out of it (the chunk may be a reused read buffer)
    const whole = bytes.slice()
    const single = new FrameDecoder({ maxFrameLength: bytes.byteLength }).push(whole)
    const copied = (single[0] as Result.Success<Frame, FrameDecodeError>).success as FrameOf<"CopyoutRequest">
    expect(copied.data.buffer).not.toBe(whole.buffer)
    expect(copied.data.byteLength).toBe(data.byteLength)
  })

  it("chunk boundaries inside a frame do not alias the output to the input", () => {
    const stream = concat(withBody.map(encodeOrThrow))
    const chunks = cut(stream.slice(), [7, 100, 3])
    const frames = decodeChunks(chunks)
    for (const c of chunks) c.fill(0)
    expect(frames).toStrictEqual(withBody)
  })
})

// ---------------------------------------------------------------------------
// property 3: garbage never throws and never makes the decoder hoard bytes

const SMALL_MAX = 4096
const BUFFER_BOUND = Math.max(HEADER_SIZE, SMALL_MAX)

/** A header with arbitrary fields (a plausible len most of the time), then arbitrary bytes. */
const randomFrame = fc
  .record({
    len: fc.oneof(
      fc.constantFrom(0, 23, 24, 25, 28, 32, 40, 41, 44, 48, SMALL_MAX, SMALL_MAX + 1),
      fc.integer({ min: 0, max: 300 }),
      fc.integer({ min: 0, max: 2 * SMALL_MAX })
    ),
    reqno: u64,
    cls: fc.integer({ min: 0, max: 3 }),
    type: fc.integer({ min: 0, max: 9 }),
    arg: fc.oneof(fc.integer({ min: 0, max: 9 }), u32),
    body: fc.uint8Array({ maxLength: 300 }),
    exact: fc.boolean()
  })
  .map(({ arg, body, cls, exact, len, reqno, type }) => {
    const size = exact ? Math.max(0, len - HEADER_SIZE) : body.byteLength
    const b = new Uint8Array(HEADER_SIZE + size)
    const v = new DataView(b.buffer)
    v.setBigUint64(0, BigInt(len), true)
    v.setBigUint64(8, reqno, true)
    v.setUint16(16, cls, true)
    v.setUint16(18, type, true)
    v.setUint32(20, arg, true)
    b.set(body.subarray(0, size), HEADER_SIZE)
    return b
  })

const mutatedFrames = fc
  .record({
    frames: fc.array(anyFrame.filter((f) => encodeOrThrow(f).byteLength <= 1000), { maxLength: 8 }),
    flips: fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), { maxLength: 8 }),
    truncate: fc.option(fc.nat())
  })
  .map(({ flips, frames, truncate }) => {
    const b = concat(frames.map(encodeOrThrow))
    if (b.byteLength > 0) for (const { at, byte } of flips) b[at % b.byteLength] = byte
    return truncate === null ? b : b.subarray(0, truncate % (b.byteLength + 1))
  })

const garbage = fc.oneof(
  fc.uint8Array({ maxLength: 10_000 }),
  mutatedFrames,
  fc.array(randomFrame, { maxLength: 12 }).map(concat),
  fc.array(fc.oneof(randomFrame, mutatedFrames), { maxLength: 6 }).map(concat)
)

describe("property 3: random and mutated input", () => {
  it("push/end never throw, return Results, keep at most max(24, maxFrameLength) bytes (1500 runs)", () => {
    fc.assert(
      fc.property(garbage, chunkSizes, (bytes, sizes) => {
        const chunks = cut(bytes, sizes)
        const d = new FrameDecoder({ maxFrameLength: SMALL_MAX })
        let fatal: FrameDecodeError | undefined
        for (const c of chunks) {
          const out = d.push(c)
          expect(Array.isArray(out)).toBe(true)
          if (fatal !== undefined) expect(out).toEqual([])
          out.forEach((r, i) => {
            expect(Result.isResult(r)).toBe(true)
            if (Result.isFailure(r)) {
              expect(r.failure).toBeInstanceOf(FrameDecodeError)
              if (r.failure.fatal) {
                expect(i).toBe(out.length - 1) // nothing after a fatal error
                expect(d.failed).toBe(r.failure)
                fatal = r.failure
              } else {
                expect(r.failure.header).toBeDefined()
              }
            }
          })
          expect(d.bufferedBytes).toBeLessThanOrEqual(BUFFER_BOUND)
          if (fatal !== undefined) expect(d.bufferedBytes).toBe(0)
        }
        const end = d.end()
        if (fatal !== undefined) {
          expect(end).toBeUndefined()
        } else if (end !== undefined) {
          expect(end).toBeInstanceOf(FrameDecodeError)
          expect(end.fatal).toBe(true)
          expect(["header", "body"]).toContain(end.field)
        }
        expect(d.bufferedBytes).toBe(0)
      }),
      { numRuns: 1500 }
    )
  })

  it("decodeFrame on arbitrary bytes never throws and returns a Result (1500 runs)", () => {
    fc.assert(
      fc.property(fc.oneof(garbage, randomFrame), (bytes) => {
        const r = decodeFrame(bytes)
        expect(Result.isResult(r)).toBe(true)
        if (Result.isFailure(r)) {
          expect(r.failure).toBeInstanceOf(FrameDecodeError)
          if (bytes.byteLength >= HEADER_SIZE) expect(r.failure.header).toBeDefined()
        } else {
          // whatever decodes can be encoded again (not always to the same
          // bytes: a GUEST/EXEC name is read up to its NUL, padding is ignored)
          expect(Result.isSuccess(encodeFrameResult(r.success))).toBe(true)
        }
      }),
      { numRuns: 1500 }
    )
  })

  it("a valid frame with one byte changed never throws (every position, every kind)", () => {
    for (const f of mixed) {
      const good = encodeOrThrow(f)
      for (let at = 0; at < good.byteLength; at++) {
        for (const byte of [0x00, 0x17, 0x18, 0xff]) {
          const b = good.slice()
          b[at] = byte
          expect(Result.isResult(decodeFrame(b))).toBe(true)
          const chunks = [b, encodeOrThrow(withBody[0]!)]
          const d = new FrameDecoder({ maxFrameLength: SMALL_MAX })
          for (const c of chunks) for (const r of d.push(c)) expect(Result.isResult(r)).toBe(true)
          d.end()
          expect(d.bufferedBytes).toBe(0)
        }
      }
    }
  })
})

// ---------------------------------------------------------------------------
// property 4: the Stream pipeline

describe("property 4: decodeFrames over a Stream of chunks", () => {
  it.effect("collects the same frames (300 runs)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(anyFrame, { maxLength: 10 }), chunkSizes, async (frames, sizes) => {
          const chunks = cut(concat(frames.map(encodeOrThrow)), sizes)
          const out = await Effect.runPromise(Stream.runCollect(Stream.fromIterable(chunks).pipe(decodeFrames())))
          expect(out.every(Result.isSuccess)).toBe(true)
          expect(out.map((r) => Result.isSuccess(r) ? r.success : r.failure)).toStrictEqual(frames)
        }),
        { numRuns: 300 }
      )
    ))

  it.effect("the mixed stream in 7-byte chunks", () =>
    Effect.gen(function*() {
      const chunks = cut(concat(mixed.map(encodeOrThrow)), [7])
      const out = yield* Stream.runCollect(Stream.fromIterable(chunks).pipe(decodeFrames()))
      expect(out).toStrictEqual(mixed.map((f) => Result.succeed(f)))
    }))

  it.effect("a truncated random stream fails with the fatal error (200 runs)", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(fc.array(anyFrame, { minLength: 1, maxLength: 6 }), fc.nat(), chunkSizes, async (frames, n, sizes) => {
          const whole = concat(frames.map(encodeOrThrow))
          const keep = 1 + (n % (whole.byteLength - 1))
          const chunks = cut(whole.subarray(0, keep), sizes)
          const ends: Array<number> = []
          let at = 0
          for (const f of frames) ends.push((at += encodeOrThrow(f).byteLength))
          fc.pre(!ends.includes(keep)) // cut inside a frame
          const e = await Effect.runPromise(
            Stream.runCollect(Stream.fromIterable(chunks).pipe(decodeFrames())).pipe(Effect.flip)
          )
          expect(e).toBeInstanceOf(FrameDecodeError)
          expect(e.fatal).toBe(true)
          expect(["header", "body"]).toContain(e.field)
        }),
        { numRuns: 200 }
      )
    ))

  it.effect("a stream of one PREFORK request", () =>
    Effect.gen(function*() {
      const out = yield* Stream.runCollect(Stream.fromIterable([encodeOrThrow(emptyBody[0]!)]).pipe(decodeFrames()))
      expect(out).toStrictEqual([Result.succeed(emptyBody[0]!)])
    }))
})
