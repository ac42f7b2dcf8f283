/**
 * What the program runs with once flags, environment variables and the
 * config file are merged (flag > env > file > default), and how that becomes
 * the server's options and the kernel's config.
 */
import { Duration, type LogLevel, Option } from "effect"
import type { FaultRuleInput, TraceFormat } from "@sysproxy/hypervisor"
import type { HostFileSpec, HostFileType, KernelConfig } from "@sysproxy/kernel"
import type { ServerObserver, ServerOptions } from "@sysproxy/server"
import type { FileOptions, MountOption, Settings } from "./OptionRules.ts"

/** A host file named in the kernel's tree (rump_server -d). */
export interface HostFileOption {
  readonly key: string
  readonly type: HostFileType
  readonly spec: HostFileSpec
}

/** What flags (each with its environment fallback) gave; absent values come from the config file. */
export type FlagOptions = { readonly [K in keyof Settings]: Option.Option<Settings[K]> } & {
  /** A descriptor to write the URL to (then close) once the server accepts clients. */
  readonly readyFd: Option.Option<number>
}

/**
 * What the program runs with. Options with a default of the app's own are
 * plain values; the rest stay absent to keep the server's or kernel's.
 */
export type AppOptions = Omit<FlagOptions, "socketMode" | "logLevel" | "grace" | "idleGc" | "trace" | "inject" | "traceFormat"> & {
  readonly socketMode: number
  readonly logLevel: LogLevel.LogLevel
  readonly grace: number
  /** Seconds without a syscall before the heap is given back (IdleHeap.ts); 0: never. */
  readonly idleGc: number
  readonly trace: boolean
  /** Fault injection's rules at start; absent: no fault injection (and no sysproxy.inject node). */
  readonly inject: Option.Option<ReadonlyArray<FaultRuleInput>>
  readonly traceFormat: TraceFormat
  /** Bytes of kernel memory, also the cap on tmpfs data (rump_server -r). */
  readonly physmem: Option.Option<number>
  /** Host files named in the kernel (rump_server -d). */
  readonly hostFiles: ReadonlyArray<HostFileOption>
}

/** No flag given (rump_server's starting point). */
export const NO_FLAGS: FlagOptions = {
  url: Option.none(),
  maxClients: Option.none(),
  maxWorkers: Option.none(),
  idleWorkers: Option.none(),
  preforkExpiry: Option.none(),
  handshakeTimeout: Option.none(),
  maxFrameLength: Option.none(),
  hostname: Option.none(),
  ncpu: Option.none(),
  guestUid: Option.none(),
  guestGid: Option.none(),
  root: Option.none(),
  mounts: Option.none(),
  vnodes: Option.none(),
  ioThreads: Option.none(),
  socketMode: Option.none(),
  logFormat: Option.none(),
  logLevel: Option.none(),
  metrics: Option.none(),
  readyFd: Option.none(),
  grace: Option.none(),
  idleGc: Option.none(),
  trace: Option.none(),
  inject: Option.none(),
  traceFile: Option.none(),
  traceFormat: Option.none()
}

export const DEFAULT_SOCKET_MODE = 0o600
export const DEFAULT_GRACE = 5
export const DEFAULT_IDLE_GC = 5

/** flag (or env) > config file > default. */
export const mergeOptions = (flags: FlagOptions, file: FileOptions): AppOptions => {
  const pick = <A>(flag: Option.Option<A>, fromFile: A | undefined): Option.Option<A> =>
    Option.isSome(flag) ? flag : Option.fromUndefinedOr(fromFile)
  return {
    url: pick(flags.url, file.url),
    maxClients: pick(flags.maxClients, file.maxClients),
    maxWorkers: pick(flags.maxWorkers, file.maxWorkers),
    idleWorkers: pick(flags.idleWorkers, file.idleWorkers),
    preforkExpiry: pick(flags.preforkExpiry, file.preforkExpiry),
    handshakeTimeout: pick(flags.handshakeTimeout, file.handshakeTimeout),
    maxFrameLength: pick(flags.maxFrameLength, file.maxFrameLength),
    hostname: pick(flags.hostname, file.hostname),
    ncpu: pick(flags.ncpu, file.ncpu),
    guestUid: pick(flags.guestUid, file.guestUid),
    guestGid: pick(flags.guestGid, file.guestGid),
    physmem: Option.none(),
    root: pick(flags.root, file.root),
    mounts: pick(flags.mounts, file.mounts),
    vnodes: pick(flags.vnodes, file.vnodes),
    ioThreads: pick(flags.ioThreads, file.ioThreads),
    hostFiles: [],
    socketMode: Option.getOrElse(pick(flags.socketMode, file.socketMode), () => DEFAULT_SOCKET_MODE),
    logFormat: pick(flags.logFormat, file.logFormat),
    logLevel: Option.getOrElse(pick(flags.logLevel, file.logLevel), (): LogLevel.LogLevel => "Info"),
    metrics: pick(flags.metrics, file.metrics),
    readyFd: flags.readyFd,
    grace: Option.getOrElse(pick(flags.grace, file.grace), () => DEFAULT_GRACE),
    idleGc: Option.getOrElse(pick(flags.idleGc, file.idleGc), () => DEFAULT_IDLE_GC),
    trace: Option.getOrElse(pick(flags.trace, file.trace), () => false),
    inject: pick(flags.inject, file.inject),
    traceFile: pick(flags.traceFile, file.traceFile),
    traceFormat: Option.getOrElse(pick(flags.traceFormat, file.traceFormat), (): TraceFormat => "json")
  }
}

const seconds = (s: Option.Option<number>): Duration.Duration | undefined =>
  Option.getOrUndefined(Option.map(s, Duration.seconds))

/** The server's options; absent values keep the server's own defaults. */
export const toServerOptions = (o: AppOptions, url: string, observer: ServerObserver | undefined): ServerOptions => ({
  url,
  maxClients: Option.getOrUndefined(o.maxClients),
  maxWorkers: Option.getOrUndefined(o.maxWorkers),
  idleWorkers: Option.getOrUndefined(o.idleWorkers),
  preforkExpiry: seconds(o.preforkExpiry),
  handshakeTimeout: seconds(o.handshakeTimeout),
  maxFrameLength: Option.getOrUndefined(o.maxFrameLength),
  disconnectGrace: Duration.seconds(o.grace),
  unixSocketMode: o.socketMode,
  observer,
  traceSyscalls: o.trace
})

/** The host directories the kernel mounts: `--root` at "/", then each `--mount` in order. */
export const hostMountsOf = (o: AppOptions): ReadonlyArray<MountOption> => [
  ...Option.match(o.root, { onNone: () => [], onSome: (hostPath) => [{ hostPath, at: "/", readOnly: false }] }),
  ...Option.getOrElse(o.mounts, () => [])
]

/** The kernel's boot config; `console` routes console writes to the program's logger. */
export const toKernelConfig = (
  o: AppOptions,
  console: KernelConfig["console"],
  hostFiles: KernelConfig["hostFiles"]
): KernelConfig => ({
  hostname: Option.getOrUndefined(o.hostname),
  ncpu: Option.getOrUndefined(o.ncpu),
  physmem: Option.getOrUndefined(o.physmem),
  mounts: hostMountsOf(o),
  vnodeCacheSize: Option.getOrUndefined(o.vnodes),
  hostFiles,
  // either id alone: the other stays 0 (root's)
  guest: Option.isNone(o.guestUid) && Option.isNone(o.guestGid)
    ? undefined
    : { uid: Option.getOrElse(o.guestUid, () => 0), gid: Option.getOrElse(o.guestGid, () => 0) },
  console
})
