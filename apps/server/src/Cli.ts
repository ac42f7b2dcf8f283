/**
 * `sysproxy-server [options] URL`: the command line. Every option may also
 * come from an environment variable (named in its help) and from the
 * config file (`--config`); a flag wins over its variable, which wins over
 * the file.
 */
import { Config, Console, Effect, Option } from "effect"
import { TraceFormats } from "@sysproxy/hypervisor"
import { Argument, Command, Flag, GlobalFlag } from "effect/cli"
import { runApp } from "./App.ts"
import type { AppError } from "./AppErrors.ts"
import { type FlagOptions, mergeOptions } from "./AppOptions.ts"
import { readConfigFile } from "./ConfigFile.ts"
import { type Variable, variables, withEnvironment } from "./Environment.ts"
import { LogFormats } from "./Logging.ts"
import { hostMounts } from "./OptionRules.ts"
import type * as Rules from "./OptionRules.ts"
import { PROGRAM } from "./Version.ts"

const described = (description: string, env: string) => `${description} [env ${env}]`

/** Keeps what the rule accepts; anything else is reported with what the rule expects. */
const checked = <B>(rule: Rules.Rule<B>) => <A>(flag: Flag.Flag<A>): Flag.Flag<B> =>
  flag.pipe(Flag.filterMap((a) => Option.fromUndefinedOr(rule.decode(a)), () => rule.expected))

/** A flag checked by its variable's rule; absent: the variable (see Environment.ts), the config file, the default. */
const option = <A, B>(flag: Flag.Flag<A>, v: Variable<B>, description: string, metavar?: string) =>
  flag.pipe(
    checked(v.rule),
    (f) => (metavar === undefined ? f : Flag.withMetavar(f, metavar)),
    Flag.withDescription(described(description, v.name)),
    Flag.optional
  )

const int = <B>(name: string, v: Variable<B>, description: string) => option(Flag.Int(name), v, description)

/** A duration in seconds (fractions allowed). */
const seconds = <B>(name: string, v: Variable<B>, description: string) =>
  option(Flag.Finite(name), v, description, "seconds")

const string = <B>(name: string, v: Variable<B>, metavar: string, description: string) =>
  option(Flag.String(name), v, description, metavar)

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
  maxClients: int("max-clients", variables.maxClients, "clients connected at once at most (default 256)"),
  maxWorkers: int("max-workers", variables.maxWorkers, "syscall worker fibers at most (default 128)"),
  idleWorkers: int("idle-workers", variables.idleWorkers, "idle workers kept (default 16)"),
  preforkExpiry: seconds(
    "prefork-expiry",
    variables.preforkExpiry,
    "an unclaimed prefork is released after this long (default 60)"
  ),
  handshakeTimeout: seconds(
    "handshake-timeout",
    variables.handshakeTimeout,
    "a connection without a handshake by then is closed (default 10)"
  ),
  maxFrameLength: int(
    "max-frame-length",
    variables.maxFrameLength,
    "largest frame accepted from a client, in bytes (default 1048616)"
  ),
  hostname: string(
    "hostname",
    variables.hostname,
    "name",
    "kern.hostname at boot (default rump-<pid>.<host>)"
  ),
  ncpu: int("ncpu", variables.ncpu, "hw.ncpu of the kernel (default 1)"),
  guestUid: int(
    "guest-uid",
    variables.guestUid,
    "every new guest process runs as this uid, so clients cannot halt the server or kill others' processes (default 0: root)"
  ),
  guestGid: int("guest-gid", variables.guestGid, "every new guest process has this gid (default 0)"),
  root: string(
    "root",
    variables.root,
    "dir",
    "serve this host directory as / so files persist (default: tmpfs)"
  ),
  mounts: Flag.String("mount").pipe(
    Flag.atLeast(0),
    Flag.filterMap(
      (texts) => (texts.length === 0 ? Option.some(Option.none()) : Option.map(Option.fromUndefinedOr(hostMounts.decode(texts)), Option.some)),
      () => hostMounts.expected
    ),
    Flag.withMetavar("dir:/path[:ro]"),
    Flag.withDescription(described(
      "mount this host directory on /path in the kernel (made if missing; :ro read-only); repeat for more",
      variables.mounts.name
    ))
  ),
  vnodes: int(
    "vnodes",
    variables.vnodes,
    "vnodes of host files each host mount keeps when unused, each holding a host descriptor (default 8192)"
  ),
  ioThreads: int(
    "io-threads",
    variables.ioThreads,
    "libuv's thread pool, where host file I/O runs: host calls in flight at once (default 4; 1 to 1024)"
  ),
  socketMode: string(
    "socket-mode",
    variables.socketMode,
    "octal",
    "permissions of a unix socket file (default 0600)"
  ),
  logFormat: option(
    Flag.Literals("log-format", LogFormats),
    variables.logFormat,
    "pretty or json (default pretty on a terminal, json otherwise)"
  ),
  metrics: string(
    "metrics",
    variables.metrics,
    "addr",
    "serve Prometheus metrics at http://ADDR/metrics, ADDR being HOST:PORT or PORT (default: off)"
  ),
  readyFd: int(
    "ready-fd",
    variables.readyFd,
    "once listening, write the URL and a newline to this descriptor and close it"
  ),
  grace: seconds(
    "grace",
    variables.grace,
    "at shutdown (and after a client disconnects), in-flight syscalls get this long before they are interrupted (default 5)"
  ),
  idleGc: seconds(
    "idle-gc",
    variables.idleGc,
    "once no syscall has started for this long, give the heap a burst left behind back to the system " +
      "(one memory-reducing collection; 0: never; default 5)"
  ),
  trace: option(
    Flag.Boolean("trace"),
    variables.trace,
    "run each syscall in an Effect span named after it (syscall read, ...)"
  ),
  inject: Flag.String("inject").pipe(
    Flag.atLeast(0),
    Flag.map((rules) => (rules.length === 0 ? Option.none() : Option.some(rules))),
    Flag.withMetavar("rule"),
    Flag.withDescription(described(
      "inject faults into matching syscalls, e.g. write:path=/tmp/log*:nth=3:errno=ENOSPC; repeat for more rules; " +
        "'' for none yet (rules can then be set through sysctl sysproxy.inject)",
      variables.inject.name
    ))
  ),
  traceFile: string(
    "trace-file",
    variables.traceFile,
    "file",
    "write one record per syscall to this file (emptied first)"
  ),
  traceFormat: option(
    Flag.Literals("trace-format", TraceFormats),
    variables.traceFormat,
    "the trace file's format: json (one object a line) or text (strace's) (default json)"
  )
}

type Parsed = Command.Command.Config.Infer<typeof flags>

/** Flags (each absent one from its variable), then the config file under them. */
const loadOptions = (parsed: Parsed) =>
  Effect.gen(function*() {
    const { config, ...rest } = parsed
    const fromFlags: FlagOptions = yield* withEnvironment({ ...rest, logLevel: yield* GlobalFlag.LogLevel })
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
    {
      command: `${PROGRAM} --inject 'write:comm=myprog:nth=3:errno=ENOSPC' unix:///tmp/rump.sock`,
      description: "the third write by myprog fails with ENOSPC"
    },
    {
      command: `${PROGRAM} --guest-uid 1000 --guest-gid 100 unix:///tmp/rump.sock`,
      description: "clients' processes run as uid 1000, gid 100 instead of root"
    },
    {
      command: `${PROGRAM} --root /srv/rump --mount /srv/ref:/ref:ro unix:///tmp/rump.sock`,
      description: "/ is /srv/rump (files persist), /ref the host's /srv/ref read-only"
    },
    { command: `RUMP_SERVER=unix:///tmp/rump.sock ${PROGRAM}`, description: "take the URL from the environment" }
  ])
)
