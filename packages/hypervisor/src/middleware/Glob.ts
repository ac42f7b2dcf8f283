/**
 * Glob patterns for fault rules and trace filters (a comm, a path), as
 * fnmatch(3) reads them with FNM_PATHNAME: `*` is any run of characters
 * but `/`, `?` one character but `/`, `[abc]`, `[a-z]` and `[!a-z]` (or
 * `[^a-z]`) one character of a set, `\x` the character x. Added: `**` is
 * any run including `/`. Unlike effect's Glob (which reads malformed syntax
 * literally), a malformed pattern is an error, so a typo in a rule is
 * refused rather than silently matching nothing.
 */
import { Data } from "effect"

export class GlobError extends Data.TaggedError("GlobError")<{
  readonly pattern: string
  readonly message: string
}> {}

export interface Glob {
  readonly pattern: string
  readonly test: (s: string) => boolean
}

const escapeRegExp = (c: string) => (/[\\^$.*+?()[\]{}|/-]/.test(c) ? `\\${c}` : c)

/** One bracket expression starting at `start` (the `[`): its RegExp text and the index after its `]`. */
const bracket = (pattern: string, start: number): { readonly source: string; readonly end: number } | string => {
  let i = start + 1
  let negate = false
  if (pattern[i] === "!" || pattern[i] === "^") {
    negate = true
    i++
  }
  let members = ""
  let first = true
  for (;;) {
    if (i >= pattern.length) return `unclosed [ at ${start + 1}`
    let c = pattern[i]!
    // a ] first in the set is a member, as in fnmatch
    if (c === "]" && !first) break
    first = false
    if (c === "\\") {
      i++
      if (i >= pattern.length) return `unclosed [ at ${start + 1}`
      c = pattern[i]!
    }
    if (c === "/") return `a / cannot be in a [...] set (at ${i + 1})`
    if (pattern[i + 1] === "-" && pattern[i + 2] !== undefined && pattern[i + 2] !== "]") {
      let hi = pattern[i + 2]!
      let next = i + 3
      if (hi === "\\") {
        hi = pattern[i + 3] ?? ""
        next = i + 4
        if (hi === "") return `unclosed [ at ${start + 1}`
      }
      if (hi < c) return `range ${c}-${hi} is reversed (at ${i + 1})`
      members += `${escapeRegExp(c)}-${escapeRegExp(hi)}`
      i = next
      continue
    }
    members += escapeRegExp(c)
    i++
  }
  return { source: negate ? `[^/${members}]` : `[${members}]`, end: i + 1 }
}

/** Compiles `pattern`; a GlobError says what is wrong with it. */
export const compileGlob = (pattern: string): Glob | GlobError => {
  let source = ""
  for (let i = 0; i < pattern.length;) {
    const c = pattern[i]!
    if (c === "*") {
      if (pattern[i + 1] === "*") {
        source += ".*"
        while (pattern[i] === "*") i++
      } else {
        source += "[^/]*"
        i++
      }
    } else if (c === "?") {
      source += "[^/]"
      i++
    } else if (c === "[") {
      const b = bracket(pattern, i)
      if (typeof b === "string") return new GlobError({ pattern, message: b })
      source += b.source
      i = b.end
    } else if (c === "\\") {
      if (i + 1 >= pattern.length) return new GlobError({ pattern, message: "a \\ at the end escapes nothing" })
      source += escapeRegExp(pattern[i + 1]!)
      i += 2
    } else {
      source += escapeRegExp(c)
      i++
    }
  }
  const re = new RegExp(`^${source}$`, "s")
  return { pattern, test: (s) => re.test(s) }
}
