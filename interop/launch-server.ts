/**
 * The server as a real process for the interop tests: SysproxyServer over
 * our kernel, nothing else.
 *
 *   node --conditions=@sysproxy/source interop/launch-server.ts \
 *     --url unix:///path/sp.sock [--max-clients N] [--hostname NAME] [--log-level Warn]
 *
 * Writes `READY <url>` to stdout once listening, `STATS <json>` (server and
 * kernel figures, and process.memoryUsage(), after forced collections when
 * node runs with --expose-gc) on SIGUSR2, and exits 0 on SIGTERM or after a halt; 1 if
 * the server could not start.
 */
import { Cause, Effect, Exit, Fiber, Layer, type LogLevel, References } from "effect"
import { Kernel, layer as kernelLayer } from "@sysproxy/kernel"
import { SysproxyServer } from "@sysproxy/server"
import { parseArgs } from "node:util"

const { values } = parseArgs({
  options: {
    url: { type: "string" },
    "max-clients": { type: "string" },
    hostname: { type: "string" },
    "log-level": { type: "string", default: "Warn" }
  }
})
if (values.url === undefined) {
  process.stderr.write("launch-server: --url is required\n")
  process.exit(2)
}
const maxClients = values["max-clients"] === undefined ? undefined : Number(values["max-clients"])

const Ready = Layer.effectDiscard(
  Effect.gen(function*() {
    const server = yield* SysproxyServer
    const kernel = yield* Kernel
    yield* Effect.sync(() => {
      process.on("SIGUSR2", () => {
        // with --expose-gc the memory figures are of live data, not of garbage not yet collected
        const gc = (globalThis as { gc?: () => void }).gc
        if (gc !== undefined) for (let i = 0; i < 3; i++) gc()
        const k = kernel.stats()
        const figures = {
          server: server.stats(),
          kernel: { ...k, unimplemented: Object.fromEntries(k.unimplemented) },
          memory: process.memoryUsage()
        }
        process.stdout.write(`STATS ${JSON.stringify(figures)}\n`)
      })
      process.stdout.write(`READY ${server.address.url}\n`)
    })
    // a client halted the server (reboot): the process goes too
    yield* server.halted.pipe(
      Effect.andThen(Effect.sync(() => process.exit(0))),
      Effect.forkScoped
    )
  })
)

const main = Layer.launch(
  Ready.pipe(
    Layer.provide(
      SysproxyServer.layer({ url: values.url, maxClients }).pipe(
        Layer.provideMerge(kernelLayer({ hostname: values.hostname }))
      )
    )
  )
).pipe(Effect.provideService(References.MinimumLogLevel, values["log-level"] as LogLevel.LogLevel))

const fiber = Effect.runFork(main)
fiber.addObserver((exit) => {
  if (Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause)) {
    process.stderr.write(`launch-server: ${Cause.pretty(exit.cause)}\n`)
    process.exit(1)
  }
  process.exit(0)
})
process.once("SIGTERM", () => {
  Effect.runFork(Fiber.interrupt(fiber))
})
process.once("SIGINT", () => {
  Effect.runFork(Fiber.interrupt(fiber))
})
