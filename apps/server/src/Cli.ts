/**
 * `sysproxy-server [options] URL`: the command line. Every option may also
 * come from an environment variable (named in its help); the flag wins.
 */
import { Config, Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { runApp } from "./App.ts"
import type { AppError } from "./AppErrors.ts"
import { LogFormats } from "./Logging.ts"
import { PROGRAM } from "./Version.ts"

const described = (description: string, env: string) => `${description} [env ${env}]`

/** A positive integer option with a fallback environment variable; absent: the server's default. */
const count = (name: string, env: string, description: string, min = 1) =>
  Flag.Int(name).pipe(
    Flag.withFallbackConfig(Config.Int(env)),
    Flag.filter((n) => n >= min, () => `an integer of at least ${min}`),
    Flag.withDescription(described(description, env)),
    Flag.optional
  )

/** A duration in seconds (fractions allowed), with a fallback environment variable. */
const seconds = (name: string, env: string, description: string) =>
  Flag.Finite(name).pipe(
    Flag.withFallbackConfig(Config.Finite(env)),
    Flag.filter((s) => s > 0, () => "a number of seconds above 0"),
    Flag.withMetavar("seconds"),
    Flag.withDescription(described(description, env))
  )

const parseMode = (s: string): Option.Option<number> =>
  /^0?[0-7]{1,3}$/.test(s) ? Option.some(Number.parseInt(s, 8)) : Option.none()

export const flags = {
  url: Argument.String("URL").pipe(
    Argument.withDescription(
      "where to listen: unix:///path, tcp://addr:port or tcp6://[addr]:port [env RUMP_SERVER]"
    ),
    Argument.withFallbackConfig(Config.String("RUMP_SERVER")),
    Argument.optional
  ),
  maxClients: count("max-clients", "SYSPROXY_MAX_CLIENTS", "clients connected at once at most (default 256)"),
  maxWorkers: count("max-workers", "SYSPROXY_MAX_WORKERS", "syscall worker fibers at most (default 128)"),
  idleWorkers: count("idle-workers", "SYSPROXY_IDLE_WORKERS", "idle workers kept (default 16)", 0),
  preforkExpiry: seconds(
    "prefork-expiry",
    "SYSPROXY_PREFORK_EXPIRY",
    "an unclaimed prefork is released after this long (default 60)"
  ).pipe(Flag.optional),
  handshakeTimeout: seconds(
    "handshake-timeout",
    "SYSPROXY_HANDSHAKE_TIMEOUT",
    "a connection without a handshake by then is closed (default 10)"
  ).pipe(Flag.optional),
  maxFrameLength: count(
    "max-frame-length",
    "SYSPROXY_MAX_FRAME_LENGTH",
    "largest frame accepted from a client, in bytes (default 1048616)",
    4096
  ),
  hostname: Flag.String("hostname").pipe(
    Flag.withFallbackConfig(Config.String("SYSPROXY_HOSTNAME")),
    Flag.filter((h) => h.length > 0 && h.length <= 255, () => "a name of 1 to 255 characters"),
    Flag.withDescription(described("kern.hostname at boot (default rump-<pid>.<host>)", "SYSPROXY_HOSTNAME")),
    Flag.optional
  ),
  ncpu: count("ncpu", "SYSPROXY_NCPU", "hw.ncpu of the kernel (default 1)"),
  root: Flag.String("root").pipe(
    Flag.withFallbackConfig(Config.String("SYSPROXY_ROOT")),
    Flag.withMetavar("dir"),
    Flag.withDescription(described("serve this host directory as / so files persist (default: tmpfs)", "SYSPROXY_ROOT")),
    Flag.optional
  ),
  socketMode: Flag.String("socket-mode").pipe(
    Flag.withFallbackConfig(Config.String("SYSPROXY_SOCKET_MODE")),
    Flag.withDefault("0600"),
    Flag.filterMap(parseMode, () => "an octal mode such as 0600"),
    Flag.withMetavar("octal"),
    Flag.withDescription(described("permissions of a unix socket file (default 0600)", "SYSPROXY_SOCKET_MODE"))
  ),
  logFormat: Flag.Literals("log-format", LogFormats).pipe(
    Flag.withFallbackConfig(Config.Literals(LogFormats, "SYSPROXY_LOG_FORMAT")),
    Flag.withDescription(
      described("pretty or json (default pretty on a terminal, json otherwise)", "SYSPROXY_LOG_FORMAT")
    ),
    Flag.optional
  ),
  grace: Flag.Finite("grace").pipe(
    Flag.withFallbackConfig(Config.Finite("SYSPROXY_GRACE")),
    Flag.withDefault(5),
    Flag.filter((s) => s >= 0, () => "a number of seconds, 0 or more"),
    Flag.withMetavar("seconds"),
    Flag.withDescription(
      described(
        "at shutdown (and after a client disconnects), in-flight syscalls get this long before they are interrupted (default 5)",
        "SYSPROXY_GRACE"
      )
    )
  )
}

/** Prints the one line a failure deserves; the error itself goes on to set the exit code. */
const report = (e: AppError) => Console.error(`${PROGRAM}: ${e.message}`)

export const command = Command.make(
  PROGRAM,
  flags,
  (options) => runApp(options).pipe(Effect.tapError(report))
).pipe(
  Command.withDescription(
    "Serve rump kernel clients (RUMPSP 0.4) from a NetBSD-compatible kernel in TypeScript; clients use RUMP_SERVER=URL. " +
      "SIGINT, SIGTERM or a client's reboot(2) stops it. Log level: --log-level, else SYSPROXY_LOG_LEVEL (default info)."
  ),
  Command.withExamples([
    { command: `${PROGRAM} unix:///tmp/rump.sock`, description: "serve on a unix socket" },
    {
      command: `${PROGRAM} --max-clients 16 --log-format json tcp://127.0.0.1:12345`,
      description: "serve on a TCP port with JSON logs"
    },
    { command: `RUMP_SERVER=unix:///tmp/rump.sock ${PROGRAM}`, description: "take the URL from the environment" }
  ])
)
