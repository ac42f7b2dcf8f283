/**
 * The environment variable behind each option (used when its flag is
 * absent), read here rather than by effect/cli's fallbacks so that a bad
 * value is one line naming the variable and the value (exit 2), checked by
 * the same rule as the flag and the config file.
 */
import { Config, Effect, Option } from "effect"
import { UsageError } from "./AppErrors.ts"
import type { FlagOptions } from "./AppOptions.ts"
import { LOG_LEVEL_ENV } from "./Logging.ts"
import * as Rules from "./OptionRules.ts"

export interface Variable<B> {
  readonly name: string
  readonly rule: Rules.Rule<B>
  /** The variable's text as what the rule checks (a number, a boolean, the text). */
  readonly read: (text: string) => unknown
}

const asNumber = (text: string): unknown => (text.trim() === "" ? text : Number(text))
const asText = (text: string): unknown => text
const BOOLEANS: Record<string, boolean> = { true: true, yes: true, on: true, 1: true, false: false, no: false, off: false, 0: false }
const asBoolean = (text: string): unknown => BOOLEANS[text.toLowerCase()] ?? text
/** Fault rules separated by white space (a space inside a glob is written `\\ `). */
const asRules = (text: string): unknown => text.split(/(?<!\\)\s+/).filter((r) => r !== "")
/** Host mounts separated by white space (a space in a path is written `\\ `). */
const asMounts = (text: string): unknown =>
  text.split(/(?<!\\)\s+/).filter((r) => r !== "").map((r) => r.replace(/\\(\s)/g, "$1"))

const variable = <B>(name: string, rule: Rules.Rule<B>, read: (text: string) => unknown): Variable<B> => ({
  name,
  rule,
  read
})

/** Every option that has a variable, by its key in FlagOptions. */
export const variables = {
  maxClients: variable("SYSPROXY_MAX_CLIENTS", Rules.fileRules.maxClients, asNumber),
  maxWorkers: variable("SYSPROXY_MAX_WORKERS", Rules.fileRules.maxWorkers, asNumber),
  idleWorkers: variable("SYSPROXY_IDLE_WORKERS", Rules.fileRules.idleWorkers, asNumber),
  preforkExpiry: variable("SYSPROXY_PREFORK_EXPIRY", Rules.fileRules.preforkExpiry, asNumber),
  handshakeTimeout: variable("SYSPROXY_HANDSHAKE_TIMEOUT", Rules.fileRules.handshakeTimeout, asNumber),
  maxFrameLength: variable("SYSPROXY_MAX_FRAME_LENGTH", Rules.fileRules.maxFrameLength, asNumber),
  hostname: variable("SYSPROXY_HOSTNAME", Rules.fileRules.hostname, asText),
  ncpu: variable("SYSPROXY_NCPU", Rules.fileRules.ncpu, asNumber),
  guestUid: variable("SYSPROXY_GUEST_UID", Rules.fileRules.guestUid, asNumber),
  guestGid: variable("SYSPROXY_GUEST_GID", Rules.fileRules.guestGid, asNumber),
  root: variable("SYSPROXY_ROOT", Rules.fileRules.root, asText),
  mounts: variable("SYSPROXY_MOUNTS", Rules.fileRules.mounts, asMounts),
  vnodes: variable("SYSPROXY_VNODES", Rules.fileRules.vnodes, asNumber),
  ioThreads: variable("SYSPROXY_IO_THREADS", Rules.fileRules.ioThreads, asNumber),
  socketMode: variable("SYSPROXY_SOCKET_MODE", Rules.fileRules.socketMode, asText),
  logFormat: variable("SYSPROXY_LOG_FORMAT", Rules.fileRules.logFormat, asText),
  logLevel: variable(LOG_LEVEL_ENV, Rules.fileRules.logLevel, asText),
  metrics: variable("SYSPROXY_METRICS", Rules.fileRules.metrics, asText),
  readyFd: variable("SYSPROXY_READY_FD", Rules.intAtLeast(3), asNumber),
  grace: variable("SYSPROXY_GRACE", Rules.fileRules.grace, asNumber),
  idleGc: variable("SYSPROXY_IDLE_GC", Rules.fileRules.idleGc, asNumber),
  trace: variable("SYSPROXY_TRACE", Rules.fileRules.trace, asBoolean),
  inject: variable("SYSPROXY_INJECT", Rules.fileRules.inject, asRules),
  traceFile: variable("SYSPROXY_TRACE_FILE", Rules.fileRules.traceFile, asText),
  traceFormat: variable("SYSPROXY_TRACE_FORMAT", Rules.fileRules.traceFormat, asText)
} satisfies { readonly [K in keyof FlagOptions]?: Variable<Option.Option.Value<FlagOptions[K]>> }

type Variables = typeof variables

/** The variable's value, checked; absent when the variable is not set. */
export const fromEnvironment = <B>(v: Variable<B>): Effect.Effect<Option.Option<B>, UsageError> =>
  Config.option(Config.String(v.name)).pipe(
    Effect.mapError((e) => new UsageError({ message: `cannot read ${v.name}: ${e.message}` })),
    Effect.flatMap(Option.match({
      onNone: () => Effect.succeed(Option.none<B>()),
      onSome: (text) => {
        const value = v.rule.decode(v.read(text))
        return value === undefined
          ? Effect.fail(new UsageError({ message: `bad ${v.name} ${JSON.stringify(text)}: expected ${v.rule.expected}` }))
          : Effect.succeed(Option.some(value))
      }
    }))
  )

/** The flags' values, each absent one taken from its variable (variables read in table order, the first bad one failing). */
export const withEnvironment = <F extends { readonly [K in keyof Variables]: FlagOptions[K] }>(
  flags: F
): Effect.Effect<F, UsageError> =>
  Effect.gen(function*() {
    const out: Record<string, unknown> = { ...flags }
    for (const key of Object.keys(variables) as Array<keyof Variables>) {
      const given: Option.Option<unknown> = flags[key]
      if (Option.isNone(given)) out[key] = yield* fromEnvironment<unknown>(variables[key])
    }
    return out as F
  })
