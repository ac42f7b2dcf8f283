/**
 * find(1)'s expression: the primaries -name, -path, -type, -print,
 * -print0, -prune, -depth, -maxdepth and -mindepth, with `!` (-not),
 * -a (-and, or nothing between two), -o (-or) and parentheses, read as
 * NetBSD's find reads them, and refused in its words (`find: -foo:
 * unknown primary or operator`, `-name: requires additional arguments`,
 * `!: no following expression` ...). An expression without an action
 * (-print, -print0) is printed where it holds, as `( expr ) -print`.
 */
import { isDirectory, isRegularFile, isSymbolicLink, type Stat } from "@sysproxy/client"
import { modeBits } from "@sysproxy/protocol/netbsd"
import * as Path from "node:path"
import { globToRegExp } from "../format/Glob.ts"

/** One file as the expression sees it (fts's entry). */
export interface Candidate {
  readonly path: string
  readonly stat: Stat
  readonly depth: number
}

/** What evaluating an expression for one file did besides its truth. */
export interface Effects {
  /** What -print and -print0 wrote, in order. */
  output: string
  /** -prune, or -maxdepth at its depth: do not go into this directory. */
  prune: boolean
}

type Test = (file: Candidate, effects: Effects) => boolean

export type Expression =
  | { readonly kind: "test"; readonly test: Test }
  | { readonly kind: "not"; readonly operand: Expression }
  | { readonly kind: "and" | "or"; readonly left: Expression; readonly right: Expression }

export interface Plan {
  readonly expression: Expression
  /** -depth: directories after what is in them. */
  readonly postOrder: boolean
}

/** Thrown within the parser only: parseExpression gives it back as its result. */
class ExpressionError {
  readonly message: string
  constructor(message: string) {
    this.message = message
  }
}

const TYPES: Readonly<Record<string, (s: Stat) => boolean>> = {
  f: isRegularFile,
  d: isDirectory,
  l: isSymbolicLink,
  b: (s) => (s.mode & modeBits.S_IFMT) === modeBits.S_IFBLK,
  c: (s) => (s.mode & modeBits.S_IFMT) === modeBits.S_IFCHR,
  p: (s) => (s.mode & modeBits.S_IFMT) === modeBits.S_IFIFO,
  s: (s) => (s.mode & modeBits.S_IFMT) === modeBits.S_IFSOCK
}

/** The name -name matches: the last component (the path itself for `/`). */
const baseName = (path: string) => Path.posix.basename(path) || path

/** atoi(3): the leading decimal number, 0 when there is none. */
const atoi = (text: string) => {
  const m = /^\s*([-+]?\d+)/.exec(text)
  return m === null ? 0 : Number(m[1])
}

const test = (t: Test): Expression => ({ kind: "test", test: t })

/** Primaries that take an argument: how each makes its test. */
const WITH_ARGUMENT: Readonly<Record<string, (arg: string, plan: { postOrder: boolean }) => Expression>> = {
  "-name": (arg) => {
    const re = globToRegExp(arg)
    return test((f) => re.test(baseName(f.path)))
  },
  "-path": (arg) => {
    const re = globToRegExp(arg)
    return test((f) => re.test(f.path))
  },
  "-type": (arg) => {
    const is = TYPES[arg]
    if (is === undefined || arg.length !== 1) throw new ExpressionError(`-type: ${arg}: unknown type`)
    return test((f) => is(f.stat))
  },
  "-maxdepth": (arg) => {
    const max = atoi(arg)
    return test((f, e) => {
      if (f.depth >= max) e.prune = true
      return f.depth <= max
    })
  },
  "-mindepth": (arg) => {
    const min = atoi(arg)
    return test((f) => f.depth >= min)
  }
}

const WITHOUT_ARGUMENT: Readonly<Record<string, (plan: { postOrder: boolean }) => Expression>> = {
  "-print": () =>
    test((f, e) => {
      e.output += `${f.path}\n`
      return true
    }),
  "-print0": () =>
    test((f, e) => {
      e.output += `${f.path}\0`
      return true
    }),
  "-prune": () =>
    test((_, e) => {
      e.prune = true
      return true
    }),
  "-depth": (plan) => {
    plan.postOrder = true
    return test(() => true)
  }
}

const ACTIONS = new Set(["-print", "-print0"])

/** Reads the expression words (after the paths); a string is what find would say after `find: `. */
export const parseExpression = (words: ReadonlyArray<string>): Plan | string => {
  try {
    return readPlan(words)
  } catch (e) {
    if (e instanceof ExpressionError) return e.message
    throw e
  }
}

const readPlan = (words: ReadonlyArray<string>): Plan => {
  const plan = { postOrder: false }
  let at = 0
  let acted = false
  const peek = () => words[at]

  const primary = (): Expression => {
    const word = words[at++]!
    const withArg = WITH_ARGUMENT[word]
    if (withArg !== undefined) {
      const arg = words[at++]
      if (arg === undefined) throw new ExpressionError(`${word}: requires additional arguments`)
      return withArg(arg, plan)
    }
    const plain = WITHOUT_ARGUMENT[word]
    if (plain === undefined) throw new ExpressionError(`${word}: unknown primary or operator`)
    if (ACTIONS.has(word)) acted = true
    return plain(plan)
  }

  const unary = (): Expression => {
    const word = peek()!
    if (word === "!" || word === "-not") {
      at++
      const next = peek()
      if (next === undefined || next === ")") throw new ExpressionError(`${word}: no following expression`)
      if (next === "-o" || next === "-or") throw new ExpressionError(`${word}: nothing between ${word} and ${next}`)
      return { kind: "not", operand: unary() }
    }
    if (word === "(") {
      at++
      if (peek() === ")") throw new ExpressionError("(): empty inner expression")
      const inner = or()
      if (peek() !== ")") throw new ExpressionError("(: missing closing ')'")
      at++
      return inner
    }
    if (word === ")") throw new ExpressionError("): no beginning '('")
    return primary()
  }

  const and = (): Expression => {
    let left = unary()
    for (;;) {
      const word = peek()
      if (word === undefined || word === ")" || word === "-o" || word === "-or") return left
      if (word === "-a" || word === "-and") {
        at++
        if (peek() === undefined) throw new ExpressionError(`${word}: no expression after ${word}`)
      }
      left = { kind: "and", left, right: unary() }
    }
  }

  const or = (): Expression => {
    const first = peek()
    if (first === "-o" || first === "-or") throw new ExpressionError(`${first}: no expression before ${first}`)
    let left = and()
    for (;;) {
      const word = peek()
      if (word !== "-o" && word !== "-or") return left
      at++
      const next = peek()
      if (next === undefined || next === ")") throw new ExpressionError(`${word}: no expression after ${word}`)
      left = { kind: "or", left, right: and() }
    }
  }

  if (words.length === 0) return { expression: WITHOUT_ARGUMENT["-print"]!(plan), postOrder: false }
  let expression = or()
  if (at < words.length) throw new ExpressionError(`${words[at]}: no beginning '('`)
  if (!acted) expression = { kind: "and", left: expression, right: WITHOUT_ARGUMENT["-print"]!(plan) }
  return { expression, postOrder: plan.postOrder }
}

/** The expression's truth for `file`, left to right with short circuits, noting what it did in `effects`. */
export const evaluate = (e: Expression, file: Candidate, effects: Effects): boolean => {
  switch (e.kind) {
    case "test":
      return e.test(file, effects)
    case "not":
      return !evaluate(e.operand, file, effects)
    case "and":
      return evaluate(e.left, file, effects) && evaluate(e.right, file, effects)
    case "or":
      return evaluate(e.left, file, effects) || evaluate(e.right, file, effects)
  }
}

/** Whether a word starts the expression (so the paths end before it). */
export const startsExpression = (word: string) => word.startsWith("-") || word === "!" || word === "("
