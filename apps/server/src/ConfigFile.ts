/**
 * `--config FILE`: a JSON object whose keys are the options' names in
 * camelCase (`maxClients`, `logFormat`, ...; see OptionRules.fileRules).
 * Flags and environment variables win over it. An unknown key, a value of
 * the wrong kind or a file that is not a JSON object is a usage error.
 *
 * The file is read synchronously, once, at startup: an asynchronous read
 * would start libuv's thread pool, whose size (`ioThreads`, which the file
 * may set) can only be chosen before it starts.
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import { UsageError } from "./AppErrors.ts"
import { type FileOptions, fileRules } from "./OptionRules.ts"

const isKey = (k: string): k is keyof typeof fileRules => Object.hasOwn(fileRules, k)

/** Checks a parsed config against the rules; the first problem, in file order, is the error. */
export const decodeConfig = (path: string, json: unknown): Effect.Effect<FileOptions, UsageError> =>
  Effect.gen(function*() {
    const bad = (what: string) => new UsageError({ message: `config ${path}: ${what}` })
    if (typeof json !== "object" || json === null || Array.isArray(json)) return yield* bad("expected a JSON object")
    const out: Record<string, unknown> = {}
    for (const [key, value] of Object.entries(json)) {
      if (!isKey(key)) {
        return yield* bad(`unknown key ${JSON.stringify(key)} (known: ${Object.keys(fileRules).join(", ")})`)
      }
      const rule = fileRules[key]
      const decoded = rule.decode(value)
      if (decoded === undefined) return yield* bad(`${key}: expected ${rule.expected}, got ${JSON.stringify(value)}`)
      out[key] = decoded
    }
    return out as FileOptions
  })

export const readConfigFile = (path: string): Effect.Effect<FileOptions, UsageError> =>
  Effect.gen(function*() {
    const text = yield* Effect.try({
      try: () => Fs.readFileSync(path, "utf8"),
      catch: (e) => new UsageError({ message: `config ${path}: cannot read it: ${e instanceof Error ? e.message : String(e)}` })
    })
    const json = yield* Effect.try({
      try: (): unknown => JSON.parse(text),
      catch: (e) => new UsageError({ message: `config ${path}: not JSON: ${e instanceof Error ? e.message : String(e)}` })
    })
    return yield* decodeConfig(path, json)
  })
