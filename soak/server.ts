/**
 * The server as a process for the soak run: SysproxyServer over our kernel,
 * with the figures a soak compares before and after.
 *
 *   node --expose-gc --conditions=@sysproxy/source soak/server.ts \
 *     --url unix:///path/sp.sock [--prefork-expiry-ms N]
 *
 * Writes `READY <url>` once listening. For every line `stats` on stdin it
 * runs a full garbage collection and writes `STATS <json>`: heap, open
 * descriptors (/proc/self/fd), live libuv handles, the server's and the
 * kernel's tables. Exits 0 when stdin closes or on SIGTERM.
 */
import { Kernel, type KernelService, layer as kernelLayer } from "@sysproxy/kernel"
import { SysproxyServer, type SysproxyServerService } from "@sysproxy/server"
import { Cause, Effect, Exit, Fiber, Layer, References } from "effect"
import * as Fs from "node:fs"
import * as Readline from "node:readline"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: { url: { type: "string" }, "prefork-expiry-ms": { type: "string" } }
})
if (values.url === undefined) {
  process.stderr.write("soak server: --url is required\n")
  process.exit(2)
}
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) {
  process.stderr.write("soak server: run with --expose-gc\n")
  process.exit(2)
}
const expiryMs = values["prefork-expiry-ms"] === undefined ? undefined : Number(values["prefork-expiry-ms"])

/** What a soak compares: everything here must come back to its baseline. */
const figures = (server: SysproxyServerService, kernel: KernelService) => {
  // a few collections: weak references and finalizers free more on the next one
  for (let i = 0; i < 3; i++) gc()
  const s = server.stats()
  const k = kernel.stats()
  return {
    heapUsed: process.memoryUsage().heapUsed,
    // readdirSync's own descriptor is closed again before it returns
    fds: Fs.readdirSync("/proc/self/fd").length,
    handles: process.getActiveResourcesInfo().length,
    clients: s.clients,
    waiters: s.waiters,
    inflightJobs: s.inflightJobs,
    preforks: s.preforks,
    busyWorkers: s.pool.busy,
    queuedJobs: s.pool.queued,
    processes: k.processes,
    lwps: k.lwps,
    openFiles: k.openFiles,
    handshakes: s.handshakes,
    syscalls: s.syscalls,
    protocolErrors: s.protocolErrors,
    dropped: s.dropped
  }
}

const Ready = Layer.effectDiscard(
  Effect.gen(function*() {
    const server = yield* SysproxyServer
    const kernel = yield* Kernel
    yield* Effect.sync(() => {
      const lines = Readline.createInterface({ input: process.stdin })
      lines.on("line", (line) => {
        if (line.trim() === "stats") process.stdout.write(`STATS ${JSON.stringify(figures(server, kernel))}\n`)
      })
      lines.on("close", () => process.kill(process.pid, "SIGTERM"))
      process.stdout.write(`READY ${server.address.url}\n`)
    })
  })
)

const main = Layer.launch(
  Ready.pipe(
    Layer.provide(
      SysproxyServer.layer({
        url: values.url,
        maxClients: 4096,
        preforkExpiry: expiryMs === undefined ? undefined : `${expiryMs} millis`
      }).pipe(Layer.provideMerge(kernelLayer({})))
    )
  )
).pipe(Effect.provideService(References.MinimumLogLevel, "Error"))

const fiber = Effect.runFork(main)
fiber.addObserver((exit) => {
  if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
    process.stderr.write(`soak server: ${Cause.pretty(exit.cause)}\n`)
    process.exit(1)
  }
  process.exit(0)
})
process.once("SIGTERM", () => {
  Effect.runFork(Fiber.interrupt(fiber))
})
