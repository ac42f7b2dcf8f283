/**
 * The program behind the command line: check the URL, pick the logger, run
 * the server over the default kernel until a client halts it or a signal
 * interrupts it. Closing the server's scope stops listening, gives in-flight
 * syscalls the grace period, interrupts the rest and removes the socket file.
 */
import { Config, Effect, Layer, type LogLevel, Option, Result } from "effect"
import { GlobalFlag } from "effect/cli"
import { type KernelConfig, layer as kernelLayer } from "@sysproxy/kernel"
import { parseServerUrl } from "@sysproxy/protocol"
import { type ServerStartError, SysproxyServer } from "@sysproxy/server"
import { StartupError, UsageError } from "./AppErrors.ts"
import { type AppOptions, toKernelConfig, toServerOptions } from "./AppOptions.ts"
import { defaultLogFormat, LOG_LEVEL_ENV, loggerLayer, logLevelNames, parseLogLevel } from "./Logging.ts"

/** The URL to listen on: the argument, else RUMP_SERVER (both arrive in `url`), checked. */
export const resolveUrl = (url: Option.Option<string>): Effect.Effect<string, UsageError> =>
  Option.match(url, {
    onNone: () =>
      Effect.fail(
        new UsageError({
          message: "no server URL: give one as the argument (e.g. unix:///tmp/rump.sock) or set RUMP_SERVER"
        })
      ),
    onSome: (raw) => {
      const parsed = parseServerUrl(raw, { role: "server" })
      return Result.isFailure(parsed)
        ? Effect.fail(new UsageError({ message: `bad URL ${parsed.failure.message}` }))
        : Effect.succeed(raw)
    }
  })

/** `--log-level`, else SYSPROXY_LOG_LEVEL, else Info. */
const resolveLogLevel: Effect.Effect<LogLevel.LogLevel, UsageError, GlobalFlag.Setting.Identifier<"log-level">> = Effect
  .gen(function*() {
    const fromFlag = yield* GlobalFlag.LogLevel
    if (Option.isSome(fromFlag)) return fromFlag.value
    const fromEnv = yield* Config.option(Config.String(LOG_LEVEL_ENV)).pipe(
      Effect.mapError((e) => new UsageError({ message: `cannot read ${LOG_LEVEL_ENV}: ${e.message}` }))
    )
    if (Option.isNone(fromEnv)) return "Info"
    const level = parseLogLevel(fromEnv.value)
    return level !== undefined ? level : yield* new UsageError({
      message: `bad ${LOG_LEVEL_ENV} ${JSON.stringify(fromEnv.value)}: expected one of ${logLevelNames.join(", ")}`
    })
  })

const startupError = (e: ServerStartError) =>
  new StartupError({
    message: e.message.startsWith("cannot listen") ? e.message : `cannot listen on ${e.url}: ${e.message}`
  })

/** Console writes of guest processes, as log lines in the program's format. */
const kernelConsole = Effect.map(Effect.context<never>(), (context): KernelConfig["console"] => {
  const decoder = new TextDecoder()
  const run = Effect.runForkWith(context)
  return (pid, bytes) => {
    run(
      Effect.logInfo(decoder.decode(bytes).replace(/\n$/, "")).pipe(Effect.annotateLogs({ pid, console: true }))
    )
  }
})

/** Serves on `url` until a client halts the kernel; a signal interrupts it. */
const serve = (options: AppOptions, url: string) =>
  Effect.gen(function*() {
    const kernelConfig = toKernelConfig(options, yield* kernelConsole)
    const ServerLive = SysproxyServer.layer(toServerOptions(options, url)).pipe(Layer.provide(kernelLayer(kernelConfig)))
    yield* Effect.gen(function*() {
      const server = yield* SysproxyServer
      const halt = yield* server.halted.pipe(
        Effect.onInterrupt(() => Effect.logInfo("shutting down"))
      )
      yield* Effect.logInfo(`halted by a client (howto ${halt.howto}); exiting`)
    }).pipe(
      Effect.provide(ServerLive),
      Effect.catchTag("ServerStartError", (e) => Effect.fail(startupError(e)))
    )
  }).pipe(
    Effect.onInterrupt(() => Effect.logInfo("stopped"))
  )

/** The whole program for parsed options, with its logger around every line it logs. */
export const runApp = (options: AppOptions) =>
  Effect.gen(function*() {
    const level = yield* resolveLogLevel
    const url = yield* resolveUrl(options.url)
    const format = Option.getOrElse(options.logFormat, defaultLogFormat)
    yield* serve(options, url).pipe(Effect.provide(loggerLayer(format, level)))
  })
