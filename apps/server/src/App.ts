/**
 * The program behind the command lines (sysproxy-server and rump_server):
 * check the URL (and fault rules), pick the logger, open what the kernel
 * maps from the host, serve metrics and the live trace if asked, wrap the
 * kernel in fault injection and the syscall trace when asked, run the
 * server over it until a
 * client halts it or a signal interrupts it, and tell supervisors once it
 * accepts clients. A client's reboot(2) acts on its flags as NetBSD's
 * does: plain, the program exits 0; RB_HALT stops serving but the process
 * stays until a signal; RB_DUMP ends it as a panic (exit 1). On a signal, the server drains (stops accepting, gives
 * in-flight syscalls the grace period; a second signal cuts that short),
 * then closing its scope interrupts the rest and removes the socket file.
 */
import { Cause, Context, Duration, Effect, Layer, Option, Result } from "effect"
import {
  checkFaultRule,
  type FaultRuleInput,
  FaultInjection,
  type FaultInjectionService,
  type LiveTrace,
  makeLiveTrace,
  teeSinks,
  traceFile,
  type TraceSink,
  withFaults,
  withTrace
} from "@sysproxy/hypervisor"
import { Kernel, type KernelConfig, layer as kernelLayer, openHostFile } from "@sysproxy/kernel"
import { parseServerUrl } from "@sysproxy/protocol"
import { rebootFlags } from "@sysproxy/protocol/netbsd"
import { makeServerMetrics, type ServerStartError, SysproxyServer, type SysproxyServerService } from "@sysproxy/server"
import { KernelPanic, StartupError, UsageError } from "./AppErrors.ts"
import { type AppOptions, type HostFileOption, hostMountsOf, toKernelConfig, toServerOptions } from "./AppOptions.ts"
import { checkMountPoints, sizeThreadPool, vnodeCacheSize } from "./HostMounts.ts"
import { idleHeap, memoryReducingCollect } from "./IdleHeap.ts"
import { injectNode } from "./InjectNode.ts"
import { watchKernel } from "./KernelMetrics.ts"
import { defaultLogFormat, loggerLayer } from "./Logging.ts"
import { serveMetrics } from "./MetricsEndpoint.ts"
import { announceReady, checkReadyFd } from "./Ready.ts"
import { secondSignal } from "./SecondSignal.ts"

/** The URL to listen on: the argument, else RUMP_SERVER, else the config file (all arrive in `url`), checked. */
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

/** The host files the kernel maps, open for as long as the scope is. */
const openHostFiles = (mappings: ReadonlyArray<HostFileOption>) =>
  Effect.forEach(mappings, (m) =>
    openHostFile(m.spec).pipe(
      Effect.map((file) => ({ key: m.key, type: m.type, file })),
      Effect.mapError((e) => new StartupError({ message: `cannot map ${m.key}: ${e.message}` }))
    ))

/** The rules to start with (an empty text is no rule: `--inject ''` turns injection on with none), each checked. */
export const checkFaultRules = (
  inject: Option.Option<ReadonlyArray<FaultRuleInput>>
): Effect.Effect<ReadonlyArray<FaultRuleInput> | undefined, UsageError> =>
  Effect.gen(function*() {
    if (Option.isNone(inject)) return undefined
    const rules = inject.value.filter((r) => typeof r !== "string" || r.trim() !== "")
    for (const rule of rules) {
      const bad = checkFaultRule(rule)
      if (bad !== undefined) {
        const shown = typeof rule === "string" ? JSON.stringify(bad.rule) : bad.rule
        return yield* new UsageError({ message: `bad fault rule ${shown}: ${bad.message}` })
      }
    }
    return rules
  })

/**
 * The kernel with fault injection (when rules were given) and the trace
 * (to a file, and to /trace readers) around it; the trace outside the
 * faults, so it shows what clients saw.
 */
const kernelStack = (
  config: KernelConfig,
  rules: ReadonlyArray<FaultRuleInput> | undefined,
  sinks: ReadonlyArray<TraceSink>
) => {
  const kernel = kernelLayer(config)
  const faulty = rules === undefined ? kernel : kernel.pipe(withFaults(rules))
  return sinks.length === 0 ? faulty : faulty.pipe(withTrace(teeSinks(sinks)))
}

/** The trace file, when asked for: a file that cannot be written is a startup error. */
const openTraceFile = (options: AppOptions) =>
  Option.match(options.traceFile, {
    onNone: () => Effect.succeed([]),
    onSome: (path) =>
      traceFile(path, options.traceFormat).pipe(
        Effect.map((sink) => [sink]),
        Effect.mapError((e) => new StartupError({ message: e.message })),
        Effect.tap(() => Effect.logInfo(`tracing syscalls to ${path} (${options.traceFormat})`))
      )
  })

/** The first signal's work: drain, and say how it ended. */
const shutdown = (server: SysproxyServerService, grace: number, secondSignal: Effect.Effect<void>) =>
  Effect.gen(function*() {
    const inflight = server.stats().inflightJobs
    yield* Effect.logInfo(
      inflight === 0
        ? "shutting down"
        : `shutting down: ${inflight} syscalls in flight get up to ${grace}s (a second signal stops at once)`
    )
    const outcome = yield* server.drain({ grace: Duration.seconds(grace), cut: secondSignal })
    const left = server.stats().inflightJobs
    if (outcome === "grace expired") yield* Effect.logWarning(`grace period over; interrupting ${left} syscalls`)
    if (outcome === "cut short") yield* Effect.logWarning(`second signal; interrupting ${left} syscalls`)
  })

/**
 * After a client's reboot(2) (the server has answered it, stopped listening
 * and removed its socket file): RB_DUMP, as in NetBSD's cpu_reboot, wins
 * over RB_HALT.
 */
const afterHalt = (howto: number) => {
  if ((howto & rebootFlags.RB_DUMP) !== 0) {
    return Effect.fail(new KernelPanic({ message: `panic: a client halted the kernel with RB_DUMP (howto ${howto})` }))
  }
  if ((howto & rebootFlags.RB_HALT) !== 0) {
    return Effect.logInfo(`halted by a client (howto ${howto}, RB_HALT): not serving; lingering until a signal`).pipe(
      Effect.andThen(Effect.never)
    )
  }
  return Effect.logInfo(`halted by a client (howto ${howto}); exiting`)
}

/** Serves on `url` until a client halts the kernel; a signal interrupts it. */
const serve = (options: AppOptions, url: string, rules: ReadonlyArray<FaultRuleInput> | undefined) =>
  Effect.gen(function*() {
    const second = yield* secondSignal
    const hostFiles = yield* openHostFiles(options.hostFiles)
    const metrics = Option.isSome(options.metrics) ? makeServerMetrics() : undefined
    const live: LiveTrace | undefined = metrics === undefined ? undefined : makeLiveTrace()
    let beforeScrape = () => {}
    if (metrics !== undefined && Option.isSome(options.metrics)) {
      const endpoint = yield* serveMetrics(options.metrics.value, () => {
        beforeScrape()
        return metrics.format()
      }, live)
      yield* Effect.logInfo(`metrics on ${endpoint.url}, live trace on ${endpoint.traceUrl}`)
    }
    const sinks = [...yield* openTraceFile(options), ...(live === undefined ? [] : [live.sink])]
    // the sysproxy.inject node reaches the rules through this, set before the server listens
    let faults: FaultInjectionService | undefined
    const run = Effect.runForkWith(yield* Effect.context<never>())
    const mounts = hostMountsOf(options)
    const kernelConfig: KernelConfig = {
      ...toKernelConfig(options, yield* kernelConsole, hostFiles),
      vnodeCacheSize: yield* vnodeCacheSize(options.vnodes, mounts.length),
      sysctl: rules === undefined ? undefined : [
        injectNode(() => faults, (set, refused) =>
          void run(
            refused === undefined
              ? Effect.logInfo(set.length === 0 ? "fault rules cleared (sysctl)" : `fault rules set (sysctl): ${set.join("; ")}`)
              : Effect.logWarning(`fault rules refused (sysctl): ${refused.rule}: ${refused.message}`)
          ))
      ]
    }
    const kernel = yield* Layer.build(kernelStack(kernelConfig, rules, sinks)).pipe(
      // a -d mapping the kernel could not install, a host directory it could not mount: one line, exit 1
      Effect.catchTag("HostFileError", (e) => Effect.fail(new StartupError({ message: e.message }))),
      Effect.catchTag("HostMountError", (e) => Effect.fail(new StartupError({ message: `cannot mount ${e.message}` }))),
      // checked before, so only a rule that changed meaning could get here
      Effect.catchTag("FaultRuleError", (e) => Effect.fail(new UsageError({ message: `bad fault rule ${e.rule}: ${e.message}` })))
    )
    faults = Option.getOrUndefined(Context.getOption(kernel, FaultInjection))
    if (faults !== undefined) {
      const list = faults.list()
      yield* Effect.logInfo(list.length === 0 ? "fault injection on, no rule yet" : `fault injection: ${list.join("; ")}`)
    }
    const ServerLive = SysproxyServer.layer(toServerOptions(options, url, metrics?.observer)).pipe(
      Layer.provideMerge(Layer.succeedContext(kernel))
    )
    yield* Effect.gen(function*() {
      const server = yield* SysproxyServer
      if (metrics !== undefined) {
        metrics.watchServer(server.stats)
        beforeScrape = watchKernel(metrics, yield* Kernel)
      }
      if (options.idleGc > 0) {
        yield* Effect.forkScoped(idleHeap({
          quiet: Duration.seconds(options.idleGc),
          activity: () => server.stats().syscalls,
          rss: () => process.memoryUsage.rss(),
          collect: memoryReducingCollect
        }))
      }
      yield* announceReady(server.address.url, options.readyFd)
      const halt = yield* server.halted.pipe(Effect.onInterrupt(() => shutdown(server, options.grace, second)))
      yield* afterHalt(halt.howto)
    }).pipe(
      Effect.provide(ServerLive),
      Effect.catchTag("ServerStartError", (e) => Effect.fail(startupError(e)))
    )
  }).pipe(
    // a bug (or a kernel that cannot boot) ends the program with one line, the details at debug level
    Effect.catchDefect((defect) =>
      Effect.logDebug("fatal", Cause.die(defect)).pipe(
        Effect.andThen(Effect.fail(new StartupError({ message: defect instanceof Error ? defect.message : String(defect) })))
      )
    ),
    Effect.onInterrupt(() => Effect.logInfo("stopped"))
  )

/** The whole program for merged options, with its logger around every line it logs. */
export const runApp = (options: AppOptions) =>
  Effect.gen(function*() {
    const url = yield* resolveUrl(options.url)
    // before anything starts libuv's pool (the first asynchronous file call does)
    yield* sizeThreadPool(options)
    yield* checkMountPoints(hostMountsOf(options))
    yield* checkReadyFd(options.readyFd)
    const rules = yield* checkFaultRules(options.inject)
    const format = Option.getOrElse(options.logFormat, defaultLogFormat)
    yield* serve(options, url, rules).pipe(Effect.scoped, Effect.provide(loggerLayer(format, options.logLevel)))
  })
