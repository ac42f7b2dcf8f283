/**
 * The one-line text form of a fault rule, for flags, config files and the
 * sysctl node: the syscall, then `key=value` fields separated by `:`
 * (`drop` alone for the drop action):
 *
 *   write:path=/tmp/log*:nth=3:errno=ENOSPC
 *   open:comm=myprog:delay=50ms
 *   read:every=2:short=1
 *   *:pid=4:p=0.01:seed=7:errno=EIO
 *
 * A `:` inside a value (a path glob) is written `\:`. Parsing gives the
 * undecoded data (numbers where a field is numeric); FaultRuleSchema and
 * RuleSet decide whether it is a good rule.
 */
import type { FaultRule } from "./FaultRule.ts"

const NUMERIC = new Set(["pid", "nth", "every", "from", "p", "seed", "short"])
const TEXT = new Set(["comm", "path", "errno", "delay", "signal"])

/** The fields in the order the text form writes them. */
const ORDER = [
  "pid",
  "comm",
  "path",
  "nth",
  "every",
  "from",
  "p",
  "seed",
  "delay",
  "signal",
  "errno",
  "short",
  "drop"
] as const

/** Splits at every `:` that is not escaped; `\:` becomes `:`, other escapes stay (for the globs). */
const fields = (text: string): Array<string> => {
  const out: Array<string> = []
  let current = ""
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === "\\" && i + 1 < text.length) {
      current += text[i + 1] === ":" ? ":" : c + text[i + 1]!
      i++
    } else if (c === ":") {
      out.push(current)
      current = ""
    } else {
      current += c
    }
  }
  out.push(current)
  return out
}

const numberOf = (s: string): number | undefined => (/^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(s) ? Number(s) : undefined)

/**
 * The data of a rule written as text, or a message saying what is wrong
 * with the text itself (an unknown key, a field twice, a number that is
 * not one). Values are not checked here.
 */
export const parseRuleText = (text: string): Record<string, unknown> | string => {
  const trimmed = text.trim()
  if (trimmed === "") return "empty rule"
  const [head, ...rest] = fields(trimmed)
  if (head === undefined || head === "") return "no syscall before the first ':'"
  const rule: Record<string, unknown> = { syscall: /^\d+$/.test(head) ? Number(head) : head }
  for (const field of rest) {
    if (field === "drop") {
      if ("drop" in rule) return "drop given twice"
      rule.drop = true
      continue
    }
    const eq = field.indexOf("=")
    if (eq <= 0) return `expected key=value, got ${JSON.stringify(field)}`
    const key = field.slice(0, eq)
    const value = field.slice(eq + 1)
    if (!NUMERIC.has(key) && !TEXT.has(key)) {
      return `unknown key ${JSON.stringify(key)} (known: ${ORDER.join(", ")})`
    }
    if (key in rule) return `${key} given twice`
    if (key === "signal") {
      rule[key] = /^\d+$/.test(value) ? Number(value) : value
    } else if (NUMERIC.has(key)) {
      const n = numberOf(value)
      if (n === undefined) return `${key}: expected a number, got ${JSON.stringify(value)}`
      rule[key] = n
    } else {
      rule[key] = value
    }
  }
  return rule
}

const escapeColons = (s: string) => s.replace(/:/g, "\\:")

/** The text form of a rule (fields in a fixed order, so one rule has one text). */
export const formatRule = (rule: FaultRule): string => {
  let out = String(rule.syscall)
  for (const key of ORDER) {
    const value = rule[key]
    if (value === undefined) continue
    if (key === "drop") {
      if (value === true) out += ":drop"
      continue
    }
    out += `:${key}=${key === "comm" || key === "path" ? escapeColons(String(value)) : String(value)}`
  }
  return out
}

/**
 * Several rules as one line (the sysctl node's value, which sysctl -a
 * prints one node a line): separated by `; `, a `;` inside a rule (in a
 * glob) written `\;`, which as a glob still matches `;`.
 */
export const formatRuleList = (rules: ReadonlyArray<string>): string =>
  rules.map((r) => r.replace(/(?<!\\);/g, "\\;")).join("; ")

/** The rules of a list text: split at newlines and at `;` not escaped; blank ones and `#` comments skipped. */
export const parseRuleList = (text: string): ReadonlyArray<string> => {
  const out: Array<string> = []
  for (const line of text.split("\n")) {
    if (line.trim().startsWith("#")) continue
    let current = ""
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!
      if (c === "\\" && i + 1 < line.length) {
        current += c + line[++i]!
      } else if (c === ";") {
        out.push(current)
        current = ""
      } else current += c
    }
    out.push(current)
  }
  return out.map((r) => r.trim()).filter((r) => r !== "" && !r.startsWith("#"))
}
