/**
 * The stuck-reader measurement (issue 9): an active client's getpid p99
 * without and with a client that never reads its socket while the kernel
 * copies out to it.
 *
 *   node --conditions=@sysproxy/source bench/stuck-reader.ts [--seconds S]
 *
 * Starts our server (interop/launch-server.ts, default limits: 16 MiB
 * unsent bytes at most, copyouts paced above 2 MiB, 30 s write stall
 * timeout) and measures the active client with the C load generator
 * (bench/c/loadgen.c, `getpid 1 1 S`), first alone, then beside stuck
 * readers. A stuck reader opens /dev/zero, pauses its socket and sends
 * concurrent 8 MiB reads; each read's COPYOUT goes out in 1 MiB frames, the
 * first sent before pacing holds the rest:
 *
 * - "paced": one stuck reader with 8 reads: 8 MiB queued, above the
 *   high-water mark and below the bound, so its reads are held (paced)
 *   for the whole run; the stall timeout is longer.
 * - "dropped": 24 reads pass the unsent-bytes bound and the server drops
 *   the client; the next one connects as soon as the server's `dropped`
 *   counter has moved, after a gap of 0 ms (a flood of them) or 500 ms.
 *
 * Prints one JSON line: the p99 (and p50) of each run, their ratios to the
 * baseline, how many stuck readers were dropped and how long each took.
 */
import { type Frame, FrameDecoder, encodeFrameResult } from "@sysproxy/protocol"
import { packArgs } from "@sysproxy/hypervisor/testing"
import { openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { mkdtempSync, rmSync } from "node:fs"
import * as Net from "node:net"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { gcc, type LoadResult, loadgen as runLoadgen, log, type ReadyProcess, serverStats, startServer } from "./support.ts"

const { values } = parseArgs({ options: { seconds: { type: "string", default: "5" } } })
const seconds = Number(values.seconds)
const READ_SIZE = 8 * 1024 * 1024
/** Reads whose first COPYOUT frames queue 8 MiB: above the 2 MiB high-water mark, below the 16 MiB bound. */
const PACED_READS = 8
/** Reads that queue 24 MiB: past the bound. */
const DROPPED_READS = 24

const dir = mkdtempSync(join(tmpdir(), "sysproxy-stuck-"))
const loadgenBin = join(dir, "loadgen")
gcc(loadgenBin, "bench/c/loadgen.c", "interop/c/rumpsp.c")

interface ServerStats {
  readonly server: { readonly dropped: number; readonly clients: number }
}

const loadgen = (url: string, secs: number) => runLoadgen(loadgenBin, url, "getpid", 1, 1, secs)

// ---- a stuck reader ---------------------------------------------------------------------

const encode = (frame: Frame): Uint8Array => {
  const r = encodeFrameResult(frame)
  if (r._tag === "Failure") throw new Error(`cannot encode ${frame._tag}`)
  return r.success
}
const PATH_ADDR = 0x1000n
const BUF_ADDR = 0x10_0000n
const PATH = new TextEncoder().encode("/dev/zero\0")

/**
 * Connects, handshakes and opens /dev/zero (answering the path's COPYINSTR),
 * then pauses its socket and sends `n` reads of 8 MiB. Returns the socket.
 */
const stuckReader = (url: string, n: number) =>
  new Promise<Net.Socket>((ok, fail) => {
    const socket = Net.createConnection({ path: url.slice("unix://".length) })
    const decoder = new FrameDecoder({ maxFrameLength: 1 << 24 })
    let banner = true
    socket.on("error", () => {})
    socket.once("close", () => fail(new Error("the stuck reader was closed before it got stuck")))
    socket.on("data", (chunk: Buffer) => {
      let rest: Uint8Array = chunk
      if (banner) {
        const nl = chunk.indexOf(0x0a)
        if (nl === -1) return
        banner = false
        rest = chunk.subarray(nl + 1)
      }
      for (const item of decoder.push(rest)) {
        if (item._tag === "Failure") return fail(new Error(item.failure.message))
        const f = item.success
        if (f._tag === "HandshakeResponse") {
          socket.write(encode({ _tag: "SyscallRequest", reqno: 1n, sysnum: SYS.open, args: packArgs(PATH_ADDR, openFlags.O_RDONLY, 0) }))
        } else if (f._tag === "CopyinstrRequest") {
          socket.write(encode({ _tag: "CopyinResponse", reqno: f.reqno, data: PATH }))
        } else if (f._tag === "SyscallResponse" && f.reqno === 1n) {
          if (f.error !== 0) return fail(new Error(`open /dev/zero: errno ${f.error}`))
          // from here on nothing is read: the kernel's copyouts pile up in the server
          socket.pause()
          for (let i = 0; i < n; i++) {
            socket.write(encode({ _tag: "SyscallRequest", reqno: BigInt(10 + i), sysnum: SYS.read, args: packArgs(f.retval0, BUF_ADDR, READ_SIZE) }))
          }
          socket.removeAllListeners("close")
          ok(socket)
        }
      }
    })
    socket.once("connect", () => socket.write(encode({ _tag: "HandshakeGuest", reqno: 0n, comm: "stuck" })))
  })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/** Stuck readers one after another until `until` holds; each is replaced `gapMs` after the server dropped it. */
const stuckReaderChurn = async (url: string, stats: () => Promise<ServerStats>, gapMs: number, until: () => boolean) => {
  const dropMs: Array<number> = []
  while (!until()) {
    const before = (await stats()).server.dropped
    const started = performance.now()
    const socket = await stuckReader(url, DROPPED_READS)
    while ((await stats()).server.dropped === before && !until()) await sleep(50)
    if ((await stats()).server.dropped > before) dropMs.push(performance.now() - started)
    socket.destroy()
    await sleep(gapMs)
  }
  return dropMs
}

// ---- the runs ---------------------------------------------------------------------------

const main = async () => {
  const url = `unix://${join(dir, "sp.sock")}`
  const server: ReadyProcess = await startServer(url)
  const { child } = server
  const stats = () => serverStats<ServerStats>(server)
  try {
    await loadgen(url, 1) // warm-up
    const baseline = await loadgen(url, seconds)
    const ratio = (a: number) => Math.round((a / baseline.p99_us) * 100) / 100
    const figures = (r: LoadResult) => ({ p50_us: r.p50_us, p99_us: r.p99_us, p99_ratio: ratio(r.p99_us), ops: r.ops, errors: r.errors })
    log(`stuck-reader: baseline getpid p99 ${baseline.p99_us} us`)

    const droppedBefore = (await stats()).server.dropped
    const paced = await stuckReader(url, PACED_READS)
    await sleep(200)
    const besidePaced = await loadgen(url, seconds)
    const pacedDropped = (await stats()).server.dropped > droppedBefore
    paced.destroy()
    log(`stuck-reader: beside one paced stuck reader: p99 ${besidePaced.p99_us} us`)

    const churn = async (gapMs: number) => {
      let done = false
      const readers = stuckReaderChurn(url, stats, gapMs, () => done)
      await sleep(200)
      const beside = await loadgen(url, seconds)
      done = true
      const dropMs = await readers
      const mean = dropMs.length === 0 ? NaN : dropMs.reduce((a, b) => a + b, 0) / dropMs.length
      log(`stuck-reader: beside ${dropMs.length} stuck readers dropped (gap ${gapMs} ms): p99 ${beside.p99_us} us`)
      return { gapMs, ...figures(beside), stuckReadersDropped: dropMs.length, meanMsToDrop: Math.round(mean) }
    }
    const flood = await churn(0)
    const spaced = await churn(500)

    process.stdout.write(
      `${
        JSON.stringify({
          bench: "stuck-reader",
          seconds,
          readSize: READ_SIZE,
          baseline: figures(baseline),
          paced: { reads: PACED_READS, ...figures(besidePaced), stuckReaderDropped: pacedDropped },
          dropped: { reads: DROPPED_READS, flood, spaced },
          within2x: { paced: ratio(besidePaced.p99_us) <= 2, flood: flood.p99_ratio <= 2, spaced: spaced.p99_ratio <= 2 }
        })
      }\n`
    )
  } finally {
    child.kill("SIGTERM")
    rmSync(dir, { recursive: true, force: true })
  }
}

main().catch((e: unknown) => {
  log(`stuck-reader: ${e instanceof Error ? e.stack ?? e.message : String(e)}`)
  rmSync(dir, { recursive: true, force: true })
  process.exit(1)
})
