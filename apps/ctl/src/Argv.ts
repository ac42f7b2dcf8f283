/**
 * The few spellings the tools share with their Unix namesakes that a
 * getopt-style parser reads otherwise, rewritten before parsing: find's
 * expression (handed over whole, after a `--`), ls's `-1` (which reads as
 * a negative number), and tail's obsolescent forms (`tail -3`, `tail +3`,
 * `-3f`) and values stuck to their flag (`-n5`). Only the words after the
 * tool's name (and before a `--`, but for find) are touched.
 */

import { TOOL_NAMES } from "./Tools.ts"

/** Root flags that take a value, so their value is not taken for the tool's name. */
const VALUED = new Set(["--server", "--uid", "--gid"])

type Rewrite = (words: ReadonlyArray<string>) => Array<string>

/** Each word replaced by its entry in `table`, if it has one. */
const wordForWord = (table: Readonly<Record<string, string>>): Rewrite => (words) => words.map((w) => table[w] ?? w)

/**
 * tail's options as NetBSD's tail reads them before getopt: `[-+]N[lbc][fr]`
 * becomes -n/-b/-c with that number (the sign kept: +N counts from the
 * start), `-f` split off; `-n5` becomes `-n 5`. Scanning stops at the first
 * word that is not an option, as there.
 */
export const tailOptions: Rewrite = (words) => {
  const out: Array<string> = []
  let i = 0
  for (; i < words.length; i++) {
    const w = words[i]!
    if (!/^[-+]./.test(w) || w.startsWith("--")) break
    const old = /^([-+])(\d+)([lbc]?)([fr]?)$/.exec(w)
    if (old !== null) {
      const [, sign, digits, unit, follow] = old
      out.push(`-${unit === "b" ? "b" : unit === "c" ? "c" : "n"}`, `${sign === "+" ? "+" : "-"}${digits}`)
      if (follow !== "") out.push(`-${follow}`)
      continue
    }
    if (w.startsWith("+")) break
    const stuck = /^-([nbc])(.+)$/.exec(w)
    if (stuck !== null) {
      out.push(`-${stuck[1]}`, stuck[2]!)
      continue
    }
    out.push(w)
    // a value in the next word
    if (/^-[nbc]$/.test(w) && i + 1 < words.length) out.push(words[++i]!)
  }
  return [...out, ...words.slice(i)]
}

/**
 * find's words are its own (primaries, `!`, `(`): all of them go after a
 * `--`, so the parser takes them as operands. Shared flags before them
 * stay flags, and `--help` alone is still the help; a `--` the user gave
 * first ends find's options, as getopt's does.
 */
export const findWords: Rewrite = (words) => {
  let i = 0
  while (i < words.length && VALUED.has(words[i]!)) i += 2
  const rest = words.slice(i)
  if (rest.length === 1 && (rest[0] === "--help" || rest[0] === "-h")) return [...words]
  return [...words.slice(0, i), "--", ...(rest[0] === "--" ? rest.slice(1) : rest)]
}

interface Rewriting {
  readonly rewrite: Rewrite
  /** Whether the words after a `--` are the rewrite's too. */
  readonly whole: boolean
}

const REWRITES: Readonly<Record<string, Rewriting>> = {
  find: { rewrite: findWords, whole: true },
  ls: { rewrite: wordForWord({ "-1": "--one-per-line" }), whole: false },
  tail: { rewrite: tailOptions, whole: false }
}

export const normalizeArgv = (argv: ReadonlyArray<string>, tools: ReadonlySet<string>): Array<string> => {
  let i = 0
  while (i < argv.length && !tools.has(argv[i]!)) i += VALUED.has(argv[i]!) ? 2 : 1
  const rewriting = REWRITES[argv[i] ?? ""]
  if (rewriting === undefined) return [...argv]
  const dash = argv.indexOf("--", i)
  const end = dash === -1 || rewriting.whole ? argv.length : dash
  return [...argv.slice(0, i + 1), ...rewriting.rewrite(argv.slice(i + 1, end)), ...argv.slice(end)]
}

/** The command line of `sysproxy` (or a line of `sysproxy sh`) as the parser should read it. */
export const commandLine = (argv: ReadonlyArray<string>): Array<string> => normalizeArgv(argv, SUBCOMMANDS)

const SUBCOMMANDS: ReadonlySet<string> = new Set([...TOOL_NAMES, "sh"])
