/**
 * sh's pathname expansion over kernel paths: a word with `*`, `?` or
 * `[...]` outside quotes becomes the paths it matches, sorted (C order),
 * component by component as sh's expmeta walks them (a name starting
 * with `.`, `.` and `..` too, only for a pattern starting with one; `/`
 * never matched by a wildcard); a word that matches nothing stays as it
 * is, quotes removed.
 */
import type { SysproxyProcess } from "@sysproxy/client"
import { Effect } from "effect"
import { globToRegExp } from "../format/Glob.ts"
import type { Word } from "./Words.ts"

const META = new Set(["*", "?", "["])
const SPECIAL = new Set(["*", "?", "[", "]", "\\"])

/** The word as a glob pattern (quoted special characters escaped), and whether it has a wildcard to expand. */
const patternOf = (w: Word): { readonly pattern: string; readonly meta: boolean } => {
  let pattern = ""
  let meta = false
  for (let i = 0; i < w.text.length; i++) {
    const ch = w.text[i]!
    if (w.quoted[i] === true) pattern += SPECIAL.has(ch) ? `\\${ch}` : ch
    else {
      if (META.has(ch)) meta = true
      pattern += ch
    }
  }
  return { pattern, meta }
}

const hasMeta = (component: string) => {
  for (let i = 0; i < component.length; i++) {
    if (component[i] === "\\") i++
    else if (META.has(component[i]!)) return true
  }
  return false
}

const unescape = (component: string) => component.replace(/\\(.)/g, "$1")

const join = (prefix: string, name: string) => (prefix === "" ? name : prefix.endsWith("/") ? `${prefix}${name}` : `${prefix}/${name}`)

/** The strings `w` stands for: its matches in the kernel, or its text when it has no wildcard or matches nothing. */
export const expandWord = (c: SysproxyProcess, w: Word): Effect.Effect<Array<string>> =>
  Effect.gen(function*() {
    const { meta, pattern } = patternOf(w)
    if (!meta) return [w.text]
    const found: Array<string> = []
    const components = pattern.split("/")
    const go = (prefix: string, index: number, check: boolean): Effect.Effect<void> =>
      Effect.gen(function*() {
        if (index === components.length) {
          // a literal part after the last wildcard: the path has to be there
          if (!check || (yield* c.lstat(prefix).pipe(Effect.as(true), Effect.orElseSucceed(() => false)))) found.push(prefix)
          return
        }
        const component = components[index]!
        if (index === 0 && component === "") return yield* go("/", 1, false)
        if (!hasMeta(component)) return yield* go(join(prefix, unescape(component)), index + 1, true)
        const entries = yield* c.readdir(prefix === "" ? "." : prefix).pipe(Effect.orElseSucceed(() => []))
        const re = globToRegExp(component)
        const dotted = component.startsWith(".")
        // as NetBSD's sh: a pattern starting with . matches . and .. too
        const names = entries.map((e) => e.name).filter((n) => (dotted || !n.startsWith(".")) && re.test(n))
        for (const name of names) yield* go(join(prefix, name), index + 1, false)
      })
    yield* go("", 0, false)
    return found.length === 0 ? [w.text] : found.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
  })
