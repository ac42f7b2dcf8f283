/**
 * `rump_server [-sv] [-c ncpu] [-d drivespec] [-l library] [-m module]
 * [-r total_ram] url`, parsed as NetBSD's getopt does: options may be
 * grouped (-sv) and their values attached (-c2) or separate (-c 2); the
 * first argument that is not an option (or what follows "--") is the URL.
 */
import type { HostFileOption } from "../AppOptions.ts"
import { componentWarning } from "./Components.ts"
import { parseDriveSpec } from "./DriveSpec.ts"
import { parseSize } from "./Sizes.ts"

export const RUMP_SERVER = "rump_server"
export const RUMP_USAGE = `usage: ${RUMP_SERVER} [-sv] [-c ncpu] [-d drivespec] [-l library] [-m module] [-r total_ram] url`

export interface RumpServerArgs {
  /** -s: stay in the foreground (otherwise detach once the socket is ready). */
  readonly foreground: boolean
  /** -v: debug logging, and a detaching parent names the daemon's pid. */
  readonly verbose: boolean
  readonly ncpu: number | undefined
  /** -r: bytes. */
  readonly memory: number | undefined
  readonly hostFiles: ReadonlyArray<HostFileOption>
  /** What -l/-m asked for that the kernel does not have. */
  readonly warnings: ReadonlyArray<string>
  readonly url: string
}

/** The parsed command line, or the one line saying what is wrong with it. */
export const parseRumpServerArgs = (argv: ReadonlyArray<string>): RumpServerArgs | { readonly error: string } => {
  let foreground = false
  let verbose = false
  let ncpu: number | undefined
  let memory: number | undefined
  const hostFiles: Array<HostFileOption> = []
  const warnings: Array<string> = []
  const fail = (error: string) => ({ error })

  const withValue = (option: string, value: string): string | undefined => {
    switch (option) {
      case "c": {
        const n = /^\d+$/.test(value) ? Number(value) : Number.NaN
        if (!(n >= 1 && n <= 1024)) return `-c ${value}: the CPU count must be 1 to 1024`
        ncpu = n
        return undefined
      }
      case "r": {
        const bytes = parseSize(value)
        if (bytes === undefined || bytes < 1 << 20) return `-r ${value}: expected at least 1m (bytes with an optional k, m, g or t)`
        memory = bytes
        return undefined
      }
      case "d": {
        const parsed = parseDriveSpec(value)
        if (typeof parsed === "string") return `-d ${value}: ${parsed}`
        if (hostFiles.some((h) => h.key === parsed.key)) return `-d ${value}: ${parsed.key} is mapped twice`
        hostFiles.push(parsed)
        return undefined
      }
      default: {
        const warning = componentWarning(option === "l" ? "-l" : "-m", value)
        if (warning !== undefined) warnings.push(warning)
        return undefined
      }
    }
  }

  let i = 0
  for (; i < argv.length; i++) {
    const arg = argv[i]!
    if (arg === "--") {
      i++
      break
    }
    if (!arg.startsWith("-") || arg === "-") break
    for (let j = 1; j < arg.length; j++) {
      const c = arg[j]!
      if (c === "s") foreground = true
      else if (c === "v") verbose = true
      else if ("cdlmr".includes(c)) {
        const value = j + 1 < arg.length ? arg.slice(j + 1) : argv[++i]
        if (value === undefined) return fail(`option requires an argument -- ${c}`)
        const problem = withValue(c, value)
        if (problem !== undefined) return fail(problem)
        break
      } else {
        return fail(`unknown option -- ${c}`)
      }
    }
  }
  const rest = argv.slice(i)
  if (rest.length !== 1) return fail(rest.length === 0 ? "no url given" : `one url expected, got ${rest.join(" ")}`)
  return { foreground, verbose, ncpu, memory, hostFiles, warnings, url: rest[0]! }
}
