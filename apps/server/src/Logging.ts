/**
 * The program's logger: pretty lines for a person at a terminal, one JSON
 * object per line for everything else (a supervisor, a pipe, a file).
 */
import { Layer, Logger, type LogLevel, References } from "effect"

export const LogFormats = ["pretty", "json"] as const
export type LogFormat = (typeof LogFormats)[number]

/** The names `--log-level` accepts, and the level each stands for. */
export const LogLevelNames = {
  all: "All",
  trace: "Trace",
  debug: "Debug",
  info: "Info",
  warn: "Warn",
  warning: "Warn",
  error: "Error",
  fatal: "Fatal",
  none: "None"
} as const satisfies Record<string, LogLevel.LogLevel>

/** The environment variable read when `--log-level` is absent; same names as the flag. */
export const LOG_LEVEL_ENV = "SYSPROXY_LOG_LEVEL"

export const parseLogLevel = (name: string): LogLevel.LogLevel | undefined =>
  Object.hasOwn(LogLevelNames, name) ? LogLevelNames[name as keyof typeof LogLevelNames] : undefined

/** Pretty when standard output is a terminal, JSON otherwise. */
export const defaultLogFormat = (): LogFormat => process.stdout.isTTY === true ? "pretty" : "json"

/** Replaces the default logger and sets the minimum level. */
export const loggerLayer = (format: LogFormat, level: LogLevel.LogLevel): Layer.Layer<never> =>
  Layer.mergeAll(
    Logger.layer([format === "json" ? Logger.consoleJson : Logger.consolePretty()]),
    Layer.succeed(References.MinimumLogLevel, level)
  )
