/**
 * `sysproxy-server [options] URL`: the command line. Every option may also
 * come from an environment variable (named in its help) and from the
 * config file (`--config`); a flag wins over its variable, which wins over
 * the file.
 */
import { Config, Console, Effect, Option } from "effect"
import { Argument, Command, Flag, GlobalFlag } from "effect/cli"
import { runApp } from "./App.ts"
import type { AppError } from "./AppErrors.ts"
import { UsageError } from "./AppErrors.ts"
import { type FlagOptions, mergeOptions } from "./AppOptions.ts"
import { readConfigFile } from "./ConfigFile.ts"
import { LOG_LEVEL_ENV, LogFormats } from "./Logging.ts"
import * as Rules from "./OptionRules.ts"
import { PROGRAM } from "./Version.ts"

const described = (description: string, env: string) => `${description} [env ${env}]`

/** Keeps what the rule accepts; anything else is reported with what the rule expects. */
const checked = <B>(rule: Rules.Rule<B>) => <A>(flag: Flag.Flag<A>): Flag.Flag<B> =>
  flag.pipe(Flag.filterMap((a) => Option.fromUndefinedOr(rule.decode(a)), () => rule.expected))

/** An integer option with a fallback environment variable; absent: the config file, then the default. */
const int = (name: string, env: string, rule: Rules.Rule<number>, description: string) =>
  Flag.Int(name).pipe(
    Flag.withFallbackConfig(Config.Int(env)),
    checked(rule),
    Flag.withDescription(described(description, env)),
    Flag.optional
  )

/** A duration in seconds (fractions allowed), with a fallback environment variable. */
const seconds = (name: string, env: string, rule: Rules.Rule<number>, description: string) =>
  Flag.Finite(name).pipe(
    Flag.withFallbackConfig(Config.Finite(env)),
    checked(rule),
    Flag.withMetavar("seconds"),
    Flag.withDescription(described(description, env)),
    Flag.optional
  )

const string = <B>(name: string, env: string, rule: Rules.Rule<B>, metavar: string, description: string) =>
  Flag.String(name).pipe(
    Flag.withFallbackConfig(Config.String(env)),
    checked(rule),
    Flag.withMetavar(metavar),
    Flag.withDescription(described(description, env)),
    Flag.optional
  )

export const CONFIG_ENV = "SYSPROXY_CONFIG"

export const flags = {
  url: Argument.String("URL").pipe(
    Argument.withDescription(
      "where to listen: unix:///path, tcp://addr:port or tcp6://[addr]:port [env RUMP_SERVER]"
    ),
    Argument.withFallbackConfig(Config.String("RUMP_SERVER")),
    Argument.optional
  ),
  config: Flag.String("config").pipe(
    Flag.withFallbackConfig(Config.String(CONFIG_ENV)),
    Flag.withMetavar("file"),
    Flag.withDescription(described("read options from this JSON file (flags and env win over it)", CONFIG_ENV)),
    Flag.optional
  ),
  maxClients: int("max-clients", "SYSPROXY_MAX_CLIENTS", Rules.fileRules.maxClients, "clients connected at once at most (default 256)"),
  maxWorkers: int("max-workers", "SYSPROXY_MAX_WORKERS", Rules.fileRules.maxWorkers, "syscall worker fibers at most (default 128)"),
  idleWorkers: int("idle-workers", "SYSPROXY_IDLE_WORKERS", Rules.fileRules.idleWorkers, "idle workers kept (default 16)"),
  preforkExpiry: seconds(
    "prefork-expiry",
    "SYSPROXY_PREFORK_EXPIRY",
    Rules.fileRules.preforkExpiry,
    "an unclaimed prefork is released after this long (default 60)"
  ),
  handshakeTimeout: seconds(
    "handshake-timeout",
    "SYSPROXY_HANDSHAKE_TIMEOUT",
    Rules.fileRules.handshakeTimeout,
    "a connection without a handshake by then is closed (default 10)"
  ),
  maxFrameLength: int(
    "max-frame-length",
    "SYSPROXY_MAX_FRAME_LENGTH",
    Rules.fileRules.maxFrameLength,
    "largest frame accepted from a client, in bytes (default 1048616)"
  ),
  hostname: string(
    "hostname",
    "SYSPROXY_HOSTNAME",
    Rules.fileRules.hostname,
    "name",
    "kern.hostname at boot (default rump-<pid>.<host>)"
  ),
  ncpu: int("ncpu", "SYSPROXY_NCPU", Rules.fileRules.ncpu, "hw.ncpu of the kernel (default 1)"),
  root: string(
    "root",
    "SYSPROXY_ROOT",
    Rules.fileRules.root,
    "dir",
    "serve this host directory as / so files persist (default: tmpfs)"
  ),
  socketMode: string(
    "socket-mode",
    "SYSPROXY_SOCKET_MODE",
    Rules.octalMode,
    "octal",
    "permissions of a unix socket file (default 0600)"
  ),
  logFormat: Flag.Literals("log-format", LogFormats).pipe(
    Flag.withFallbackConfig(Config.Literals(LogFormats, "SYSPROXY_LOG_FORMAT")),
    Flag.withDescription(
      described("pretty or json (default pretty on a terminal, json otherwise)", "SYSPROXY_LOG_FORMAT")
    ),
    Flag.optional
  ),
  metrics: string(
    "metrics",
    "SYSPROXY_METRICS",
    Rules.listenAddress,
    "addr",
    "serve Prometheus metrics at http://ADDR/metrics, ADDR being HOST:PORT or PORT (default: off)"
  ),
  readyFd: int(
    "ready-fd",
    "SYSPROXY_READY_FD",
    Rules.intAtLeast(3),
    "once listening, write the URL and a newline to this descriptor and close it"
  ),
  grace: seconds(
    "grace",
    "SYSPROXY_GRACE",
    Rules.fileRules.grace,
    "at shutdown (and after a client disconnects), in-flight syscalls get this long before they are interrupted (default 5)"
  ),
  trace: Flag.Boolean("trace").pipe(
    Flag.withFallbackConfig(Config.Boolean("SYSPROXY_TRACE")),
    Flag.withDescription(described("run each syscall in an Effect span named after it (syscall read, ...)", "SYSPROXY_TRACE")),
    Flag.optional
  )
}

type Parsed = Command.Command.Config.Infer<typeof flags>

/** `--log-level` (a global flag), else SYSPROXY_LOG_LEVEL; absent: the config file, then Info. */
const logLevelFromFlagOrEnv = Effect.gen(function*() {
  const fromFlag = yield* GlobalFlag.LogLevel
  if (Option.isSome(fromFlag)) return fromFlag
  const fromEnv = yield* Config.option(Config.String(LOG_LEVEL_ENV)).pipe(
    Effect.mapError((e) => new UsageError({ message: `cannot read ${LOG_LEVEL_ENV}: ${e.message}` }))
  )
  if (Option.isNone(fromEnv)) return Option.none()
  const level = Rules.logLevel.decode(fromEnv.value)
  return level !== undefined ? Option.some(level) : yield* new UsageError({
    message: `bad ${LOG_LEVEL_ENV} ${JSON.stringify(fromEnv.value)}: expected ${Rules.logLevel.expected}`
  })
})

/** Flags and environment, then the config file under them. */
const loadOptions = (parsed: Parsed) =>
  Effect.gen(function*() {
    const { config, ...rest } = parsed
    const fromFlags: FlagOptions = { ...rest, logLevel: yield* logLevelFromFlagOrEnv }
    const file = Option.isSome(config) ? yield* readConfigFile(config.value) : {}
    return mergeOptions(fromFlags, file)
  })

/** Prints the one line a failure deserves; the error itself goes on to set the exit code. */
const report = (e: AppError) => Console.error(`${PROGRAM}: ${e.message}`)

export const command = Command.make(
  PROGRAM,
  flags,
  (parsed) => loadOptions(parsed).pipe(Effect.flatMap(runApp), Effect.tapError(report))
).pipe(
  Command.withDescription(
    "Serve rump kernel clients (RUMPSP 0.4) from a NetBSD-compatible kernel in TypeScript; clients use RUMP_SERVER=URL. " +
      "SIGINT or SIGTERM drains in-flight syscalls for the grace period (a second signal stops at once); a client's " +
      "reboot(2) stops it too. Log level: --log-level, else SYSPROXY_LOG_LEVEL, else the config file (default info)."
  ),
  Command.withExamples([
    { command: `${PROGRAM} unix:///tmp/rump.sock`, description: "serve on a unix socket" },
    {
      command: `${PROGRAM} --max-clients 16 --log-format json tcp://127.0.0.1:12345`,
      description: "serve on a TCP port with JSON logs"
    },
    { command: `${PROGRAM} --metrics 127.0.0.1:9464 unix:///tmp/rump.sock`, description: "with Prometheus metrics" },
    { command: `${PROGRAM} --config /etc/sysproxy.json`, description: "options (and the URL) from a file" },
    { command: `RUMP_SERVER=unix:///tmp/rump.sock ${PROGRAM}`, description: "take the URL from the environment" }
  ])
)
