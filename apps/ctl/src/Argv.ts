/**
 * The few spellings the tools share with their Unix namesakes that a
 * getopt-style parser reads otherwise, rewritten before parsing: find's
 * single-dash primaries (`-name`, `-type`) and ls's `-1` (which reads as
 * a negative number). Only the words after the tool's name are touched.
 */

import { TOOL_NAMES } from "./Tools.ts"

/** Root flags that take a value, so their value is not taken for the tool's name. */
const VALUED = new Set(["--server", "--uid", "--gid"])

const REWRITES: Readonly<Record<string, Readonly<Record<string, string>>>> = {
  find: { "-name": "--name", "-type": "--type" },
  ls: { "-1": "--one-per-line" }
}

export const normalizeArgv = (argv: ReadonlyArray<string>, tools: ReadonlySet<string>): Array<string> => {
  let i = 0
  while (i < argv.length && !tools.has(argv[i]!)) i += VALUED.has(argv[i]!) ? 2 : 1
  const rewrite = REWRITES[argv[i] ?? ""]
  if (rewrite === undefined) return [...argv]
  const end = argv.indexOf("--", i)
  return argv.map((a, j) => (j > i && (end === -1 || j < end) ? rewrite[a] ?? a : a))
}

/** The command line of `sysproxy` (or a line of `sysproxy sh`) as the parser should read it. */
export const commandLine = (argv: ReadonlyArray<string>): Array<string> => normalizeArgv(argv, SUBCOMMANDS)

const SUBCOMMANDS: ReadonlySet<string> = new Set([...TOOL_NAMES, "sh"])
