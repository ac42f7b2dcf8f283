import { assert, describe, it } from "@effect/vitest"
import { encodeFrameResult, type Frame } from "@sysproxy/protocol"
import { Result } from "effect"
import { FrameReader } from "../src/FrameReader.ts"

const bytesOf = (frame: Frame): Uint8Array => {
  const r = encodeFrameResult(frame)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

const frames: ReadonlyArray<Frame> = [
  { _tag: "RaiseRequest", reqno: 1n, signo: 2 },
  { _tag: "SyscallResponse", reqno: 2n, error: 0, retval0: -1n, retval1: 7n },
  { _tag: "ErrorFrame", reqno: 3n, code: 7 },
  { _tag: "CopyoutRequest", reqno: 4n, addr: 0x7f0000000000n, data: new Uint8Array([1, 2, 3]) },
  { _tag: "PreforkResponse", reqno: 5n, cookie: new Uint8Array(16).fill(9) }
]
const stream: Uint8Array = Buffer.concat(frames.map(bytesOf))

const decodedAll = (reader: FrameReader, chunks: ReadonlyArray<Uint8Array>): Array<Frame> =>
  chunks.flatMap((c) => reader.push(c)).map((r) => {
    if (Result.isFailure(r)) throw new Error(r.failure.message)
    return r.success
  })

describe("FrameReader", () => {
  it("decodes empty-body frames that end exactly at a chunk end", () => {
    const reader = new FrameReader()
    assert.deepStrictEqual(decodedAll(reader, frames.map(bytesOf)), [...frames])
  })

  it("decodes the same frames from any split of the stream", () => {
    for (const size of [1, 5, 23, 24, 25, 100, stream.byteLength]) {
      const chunks: Array<Uint8Array> = []
      for (let i = 0; i < stream.byteLength; i += size) chunks.push(stream.subarray(i, i + size))
      assert.deepStrictEqual(decodedAll(new FrameReader(), chunks), [...frames], `chunks of ${size}`)
    }
  })

  it("fails fatally on a len shorter than the header or over the limit", () => {
    const short = new Uint8Array(24)
    short[0] = 3
    const [shortResult] = new FrameReader().push(short)
    assert.isTrue(shortResult !== undefined && Result.isFailure(shortResult) && shortResult.failure.fatal)

    const reader = new FrameReader(64)
    const big = bytesOf({ _tag: "CopyoutRequest", reqno: 1n, addr: 0n, data: new Uint8Array(100) })
    const [bigResult] = reader.push(big.subarray(0, 24))
    assert.isTrue(bigResult !== undefined && Result.isFailure(bigResult) && bigResult.failure.field === "len")
    assert.isDefined(reader.failed)
    assert.deepStrictEqual(reader.push(stream), [])
  })

  it("reports an undecodable frame with its header and goes on", () => {
    const bad = bytesOf({ _tag: "SyscallResponse", reqno: 8n, error: 0, retval0: 0n, retval1: 0n }).slice(0, 28)
    new DataView(bad.buffer).setBigUint64(0, 28n, true)
    const results = new FrameReader().push(Buffer.concat([bad, stream]))
    const first = results[0]
    assert.isTrue(first !== undefined && Result.isFailure(first))
    if (first !== undefined && Result.isFailure(first)) {
      assert.isFalse(first.failure.fatal)
      assert.strictEqual(first.failure.header?.reqno, 8n)
    }
    assert.strictEqual(results.length, 1 + frames.length)
  })
})
