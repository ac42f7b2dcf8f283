/**
 * What a good value of each option is, checked the same way whether it
 * came from a flag, an environment variable or the config file. A rule
 * takes what the flag parser (a number, a string) or JSON gives and returns
 * the value, or undefined with `expected` saying what was wanted.
 */
import type { FaultRuleInput, TraceFormat } from "@sysproxy/hypervisor"
import { TraceFormats } from "@sysproxy/hypervisor"
import type { LogLevel } from "effect"
import { type LogFormat, LogFormats, LogLevelNames, parseLogLevel } from "./Logging.ts"

export interface Rule<T> {
  /** What a good value is, for messages ("an integer of at least 1"). */
  readonly expected: string
  readonly decode: (value: unknown) => T | undefined
}

export type RuleValue<R> = R extends Rule<infer T> ? T : never

export const intAtLeast = (min: number): Rule<number> => ({
  expected: `an integer of at least ${min}`,
  decode: (u) => (typeof u === "number" && Number.isSafeInteger(u) && u >= min ? u : undefined)
})

export const intBetween = (min: number, max: number): Rule<number> => ({
  expected: `an integer from ${min} to ${max}`,
  decode: (u) => (typeof u === "number" && Number.isSafeInteger(u) && u >= min && u <= max ? u : undefined)
})

/** A uid or gid: 0 to 4294967294 (4294967295 is -1, "no change", to the set*id calls). */
export const userId: Rule<number> = {
  expected: "an id from 0 to 4294967294",
  decode: (u) => (typeof u === "number" && Number.isSafeInteger(u) && u >= 0 && u < 0xffff_ffff ? u : undefined)
}

/** Seconds (fractions allowed); `zero` allows 0. */
export const seconds = (zero: boolean): Rule<number> => ({
  expected: zero ? "a number of seconds, 0 or more" : "a number of seconds above 0",
  decode: (u) => (typeof u === "number" && Number.isFinite(u) && (zero ? u >= 0 : u > 0) ? u : undefined)
})

export const nonEmptyString = (max: number): Rule<string> => ({
  expected: `a string of 1 to ${max} characters`,
  decode: (u) => (typeof u === "string" && u.length > 0 && u.length <= max ? u : undefined)
})

export const boolean: Rule<boolean> = {
  expected: "true or false",
  decode: (u) => (typeof u === "boolean" ? u : undefined)
}

/** Permission bits as octal digits ("0600", "660"). */
export const octalMode: Rule<number> = {
  expected: "an octal mode such as 0600",
  decode: (u) => (typeof u === "string" && /^0?[0-7]{1,3}$/.test(u) ? Number.parseInt(u, 8) : undefined)
}

export const logFormat: Rule<LogFormat> = {
  expected: `one of ${LogFormats.join(", ")}`,
  decode: (u) => LogFormats.find((f) => f === u)
}

export const logLevel: Rule<LogLevel.LogLevel> = {
  expected: `one of ${Object.keys(LogLevelNames).join(", ")}`,
  decode: (u) => (typeof u === "string" ? parseLogLevel(u) : undefined)
}

export const traceFormat: Rule<TraceFormat> = {
  expected: `one of ${TraceFormats.join(", ")}`,
  decode: (u) => TraceFormats.find((f) => f === u)
}

/**
 * Fault rules: each in its one-line text form (`write:nth=3:errno=ENOSPC`)
 * or, in the config file, as an object of the same fields. Whether each is
 * a good rule is checked when the server starts (one line naming the rule).
 */
export const faultRules: Rule<ReadonlyArray<FaultRuleInput>> = {
  expected: "fault rules (text such as \"write:nth=3:errno=ENOSPC\", or objects of the same fields)",
  decode: (u) =>
    Array.isArray(u) && u.every((r) => typeof r === "string" || (typeof r === "object" && r !== null && !Array.isArray(r)))
      ? (u as ReadonlyArray<FaultRuleInput>)
      : undefined
}

/** A host directory to mount in the kernel (`--mount DIR:/path[:ro]`). */
export interface MountOption {
  readonly hostPath: string
  /** The kernel path it is mounted on (absolute, no ".."). */
  readonly at: string
  readonly readOnly: boolean
}

/** A kernel mount point: absolute, without ".." (the kernel makes what is missing). */
const isMountPoint = (at: string): boolean => at.startsWith("/") && !at.split("/").includes("..") && !at.includes("\0")

/**
 * `DIR:/path` or `DIR:/path:ro` (`:rw` is the default, also accepted). The
 * kernel path is what follows the last ":/", so DIR may hold ":" itself.
 */
export const parseMount = (text: string): MountOption | undefined => {
  let rest = text
  let readOnly = false
  if (rest.endsWith(":ro")) {
    rest = rest.slice(0, -3)
    readOnly = true
  } else if (rest.endsWith(":rw")) {
    rest = rest.slice(0, -3)
  }
  const at = rest.lastIndexOf(":/")
  if (at <= 0) return undefined
  const mount = { hostPath: rest.slice(0, at), at: rest.slice(at + 1), readOnly }
  return isMountPoint(mount.at) ? mount : undefined
}

const mountOf = (u: unknown): MountOption | undefined => {
  if (typeof u === "string") return parseMount(u)
  if (typeof u !== "object" || u === null || Array.isArray(u)) return undefined
  const o = u as Record<string, unknown>
  const keys = Object.keys(o)
  if (keys.some((k) => k !== "hostPath" && k !== "at" && k !== "readOnly")) return undefined
  if (typeof o["hostPath"] !== "string" || o["hostPath"] === "" || typeof o["at"] !== "string" || !isMountPoint(o["at"])) return undefined
  if (o["readOnly"] !== undefined && typeof o["readOnly"] !== "boolean") return undefined
  return { hostPath: o["hostPath"], at: o["at"], readOnly: o["readOnly"] === true }
}

/** Host directories to mount: `DIR:/path[:ro]` texts or, in the config file, objects {hostPath, at, readOnly}. */
export const hostMounts: Rule<ReadonlyArray<MountOption>> = {
  expected: "host mounts such as \"/srv/data:/data\" or \"/srv/ref:/ref:ro\" (DIR:/path, :ro for read-only)",
  decode: (u) => {
    if (!Array.isArray(u)) return undefined
    const out: Array<MountOption> = []
    for (const m of u) {
      const mount = mountOf(m)
      if (mount === undefined) return undefined
      out.push(mount)
    }
    return out
  }
}

/** Where a TCP listener binds. */
export interface ListenAddress {
  readonly host: string
  readonly port: number
}

/**
 * HOST:PORT, [IPV6]:PORT, or a bare PORT (on 127.0.0.1: metrics are not
 * for the world unless asked).
 */
export const listenAddress: Rule<ListenAddress> = {
  expected: "HOST:PORT, [IPV6]:PORT or PORT (e.g. 127.0.0.1:9464)",
  decode: (u) => {
    if (typeof u !== "string") return undefined
    const m = /^\[([0-9a-fA-F:.]+)\]:(\d{1,5})$/.exec(u) ?? /^([^:[\]]+):(\d{1,5})$/.exec(u) ?? /^()(\d{1,5})$/.exec(u)
    if (m === null) return undefined
    const port = Number(m[2])
    return port <= 65535 ? { host: m[1] === "" || m[1] === undefined ? "127.0.0.1" : m[1], port } : undefined
  }
}

/**
 * The rules of everything a config file may set, by key; the flags and
 * variables set the same things (preforkExpiry, handshakeTimeout and grace
 * in seconds, maxFrameLength in bytes, root a host directory, mounts more
 * host directories, vnodes the vnode cache of each, ioThreads libuv's
 * thread pool, guestUid and guestGid the ids every new guest process gets,
 * idleGc the seconds of quiet before the heap is given back).
 */
export const fileRules = {
  url: nonEmptyString(4096),
  hostname: nonEmptyString(255),
  maxClients: intAtLeast(1),
  maxWorkers: intAtLeast(1),
  idleWorkers: intAtLeast(0),
  preforkExpiry: seconds(false),
  handshakeTimeout: seconds(false),
  maxFrameLength: intAtLeast(4096),
  ncpu: intAtLeast(1),
  guestUid: userId,
  guestGid: userId,
  root: nonEmptyString(4096),
  mounts: hostMounts,
  vnodes: intAtLeast(16),
  ioThreads: intBetween(1, 1024),
  socketMode: octalMode,
  logFormat,
  logLevel,
  metrics: listenAddress,
  grace: seconds(true),
  idleGc: seconds(true),
  trace: boolean,
  inject: faultRules,
  traceFile: nonEmptyString(4096),
  traceFormat
} as const

/** Every option's value type, by config key. */
export type Settings = { readonly [K in keyof typeof fileRules]: RuleValue<(typeof fileRules)[K]> }

export type FileOptions = Partial<Settings>
