/**
 * What the command line (and its environment variables) tell the program,
 * and how that becomes the server's options and the kernel's config.
 */
import { Duration, Option } from "effect"
import type { KernelConfig } from "@sysproxy/kernel"
import type { ServerOptions } from "@sysproxy/server"
import type { LogFormat } from "./Logging.ts"

export interface AppOptions {
  /** The listen URL as given (argument or RUMP_SERVER); validated before the server starts. */
  readonly url: Option.Option<string>
  readonly maxClients: Option.Option<number>
  readonly maxWorkers: Option.Option<number>
  readonly idleWorkers: Option.Option<number>
  /** Seconds. */
  readonly preforkExpiry: Option.Option<number>
  /** Seconds. */
  readonly handshakeTimeout: Option.Option<number>
  readonly maxFrameLength: Option.Option<number>
  readonly hostname: Option.Option<string>
  readonly ncpu: Option.Option<number>
  /** A host directory served as the kernel's `/` (files survive restarts); absent: tmpfs. */
  readonly root: Option.Option<string>
  /** Permission bits of a unix socket file. */
  readonly socketMode: number
  /** Absent: pretty on a terminal, JSON otherwise. */
  readonly logFormat: Option.Option<LogFormat>
  /** Seconds in-flight syscalls get to finish at shutdown (and after a client disconnects). */
  readonly grace: number
}

const seconds = (s: Option.Option<number>): Duration.Duration | undefined =>
  Option.getOrUndefined(Option.map(s, Duration.seconds))

/** The server's options; absent values keep the server's own defaults. */
export const toServerOptions = (o: AppOptions, url: string): ServerOptions => ({
  url,
  maxClients: Option.getOrUndefined(o.maxClients),
  maxWorkers: Option.getOrUndefined(o.maxWorkers),
  idleWorkers: Option.getOrUndefined(o.idleWorkers),
  preforkExpiry: seconds(o.preforkExpiry),
  handshakeTimeout: seconds(o.handshakeTimeout),
  maxFrameLength: Option.getOrUndefined(o.maxFrameLength),
  disconnectGrace: Duration.seconds(o.grace),
  unixSocketMode: o.socketMode
})

/** The kernel's boot config; `console` routes console writes to the program's logger. */
export const toKernelConfig = (o: AppOptions, console: KernelConfig["console"]): KernelConfig => ({
  hostname: Option.getOrUndefined(o.hostname),
  ncpu: Option.getOrUndefined(o.ncpu),
  root: Option.getOrUndefined(Option.map(o.root, (hostPath) => ({ hostPath }))),
  console
})
