/**
 * Decode and encode throughput of a stream of small syscall frames, as the
 * server sees them: SYSCALL requests in (getpid-sized and write-sized
 * argument blocks), SYSCALL responses out. Run by `npm run bench`.
 *
 * Prints one JSON line per measurement so the benchmark report can be
 * regenerated from the output.
 */
import { Result } from "effect"
import { performance } from "node:perf_hooks"
import { decodeFrame, encodeFrameChunksResult, encodeFrameResult, type Frame, FrameDecoder } from "../src/index.ts"

const seconds = Number(process.env.BENCH_SECONDS ?? "1.5")

const encodeOrThrow = (f: Frame): Uint8Array => {
  const r = encodeFrameResult(f)
  if (Result.isFailure(r)) throw new Error(r.failure.message)
  return r.success
}

const requests: Array<Frame> = Array.from({ length: 1024 }, (_, i) => ({
  _tag: "SyscallRequest" as const,
  reqno: BigInt(i + 1),
  sysnum: i % 2 === 0 ? 20 : 4,
  args: new Uint8Array(i % 2 === 0 ? 0 : 24).fill(i & 0xff)
}))
const responses: Array<Frame> = Array.from({ length: 1024 }, (_, i) => ({
  _tag: "SyscallResponse" as const,
  reqno: BigInt(i + 1),
  error: 0,
  retval0: BigInt(i),
  retval1: 1n
}))

// one contiguous stream of requests, fed in 64 KiB chunks like a socket read
const wire = Buffer.concat(requests.map(encodeOrThrow))
const chunks: Array<Uint8Array> = []
for (let off = 0; off < wire.byteLength; off += 65536) chunks.push(wire.subarray(off, off + 65536))

const measure = (name: string, bytesPerOp: number, op: () => number) => {
  // warm up, then run for a fixed time
  const warmEnd = performance.now() + 300
  while (performance.now() < warmEnd) op()
  let frames = 0
  const start = performance.now()
  const end = start + seconds * 1000
  while (performance.now() < end) frames += op()
  const elapsed = (performance.now() - start) / 1000
  const framesPerSecond = frames / elapsed
  const line = {
    bench: name,
    framesPerSecond: Math.round(framesPerSecond),
    nsPerFrame: Math.round(1e9 / framesPerSecond),
    mbPerSecond: Math.round((framesPerSecond * bytesPerOp) / 1e6 * 10) / 10,
    node: process.version
  }
  process.stdout.write(JSON.stringify(line) + "\n")
}

const avgRequestBytes = wire.byteLength / requests.length

measure("stream-decode syscall requests (FrameDecoder)", avgRequestBytes, () => {
  const decoder = new FrameDecoder()
  let n = 0
  for (const chunk of chunks) n += decoder.push(chunk).length
  return n
})

const wholeRequests = requests.map(encodeOrThrow)
measure("decodeFrame syscall requests (whole frames)", avgRequestBytes, () => {
  let n = 0
  for (const bytes of wholeRequests) if (Result.isSuccess(decodeFrame(bytes))) n++
  return n
})

measure("encode syscall responses", 48, () => {
  let n = 0
  for (const f of responses) if (Result.isSuccess(encodeFrameResult(f))) n++
  return n
})

measure("encodeFrameChunksResult syscall responses (what the server writes)", 48, () => {
  let n = 0
  for (const f of responses) if (Result.isSuccess(encodeFrameChunksResult(f))) n++
  return n
})
