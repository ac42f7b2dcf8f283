/**
 * Fault rules made ready to match: names resolved (syscall, errno,
 * signal), globs compiled, the fields' combination checked, and a table by
 * syscall number so that a call no rule names costs one lookup.
 *
 * Counting: each rule counts the calls it matches (syscall, pid, comm,
 * path), whatever other rules do; nth/every/from pick among those, and `p`
 * draws once per picked call from the rule's own seeded generator, so the
 * same calls fail in every run with the same seed. The first rule (in the
 * order given) that fires on a call acts on it.
 */
import { Errno, signals } from "@sysproxy/protocol/netbsd"
import { Duration, Result, Schema } from "effect"
import { compileGlob, type Glob } from "../middleware/Glob.ts"
import { SHORT_SYSCALLS, shapeOf, syscallNumberOf } from "../middleware/SyscallShape.ts"
import { type FaultRule, FaultRuleError, type FaultRuleInput, FaultRuleSchema } from "./FaultRule.ts"
import { formatRule, parseRuleText } from "./RuleText.ts"

/** What a rule counts and draws, kept when the same rule is set again. */
export interface RuleProgress {
  /** Matching calls so far. */
  count: number
  /** The generator's state. */
  rng: number
}

export interface CompiledRule {
  /** The rule's text (with the seed a `p` rule was given, so that it can be replayed). */
  readonly text: string
  readonly rule: FaultRule
  /** The syscall number; undefined for "*". */
  readonly number: number | undefined
  readonly comm: Glob | undefined
  readonly path: Glob | undefined
  readonly errno: number | undefined
  readonly delay: Duration.Duration | undefined
  readonly short: number | undefined
  readonly signo: number | undefined
  readonly drop: boolean
  readonly progress: RuleProgress
}

/** mulberry32: small, fast, and the same sequence for the same seed everywhere. */
const draw = (progress: RuleProgress): number => {
  progress.rng = (progress.rng + 0x6d2b79f5) >>> 0
  let t = progress.rng
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000
}

/** Counts a matching call and says whether the rule acts on it. */
export const fires = (r: CompiledRule): boolean => {
  const n = ++r.progress.count
  const { nth, every, from, p } = r.rule
  if (nth !== undefined && n !== nth) return false
  if (from !== undefined && n < from) return false
  if (every !== undefined && (n - (from ?? every)) % every !== 0) return false
  if (every !== undefined && from === undefined && n < every) return false
  return p === undefined || draw(r.progress) < p
}

const resolveSyscall = (s: string | number): number | undefined | string => {
  if (typeof s === "number") return s
  if (s === "*") return undefined
  return syscallNumberOf(s) ?? `unknown syscall ${JSON.stringify(s)}`
}

const ERRNOS: Readonly<Record<string, number>> = Errno
const SIGNALS: Readonly<Record<string, number>> = signals

const resolveSignal = (s: string | number): number | string => {
  if (typeof s === "number") return s > 0 && s < signals.NSIG ? s : `no signal ${s}`
  const upper = s.toUpperCase()
  const n = SIGNALS[upper.startsWith("SIG") ? upper : `SIG${upper}`]
  return n === undefined || upper.startsWith("_") || upper === "NSIG" ? `unknown signal ${JSON.stringify(s)}` : n
}

const DELAY_UNITS: Readonly<Record<string, number>> = { us: 0.001, ms: 1, s: 1000, m: 60_000 }

const parseDelay = (s: string): Duration.Duration | string => {
  const m = /^(\d+(?:\.\d+)?)(us|ms|s|m)$/.exec(s.trim())
  return m === null
    ? `delay: expected a duration such as 50ms, 2s, 100us or 1m, got ${JSON.stringify(s)}`
    : Duration.millis(Number(m[1]) * DELAY_UNITS[m[2]!]!)
}

/** A SchemaError's message as one line: `field: what was expected`. */
const oneLine = (message: string): string => {
  const [first = message, at] = message.split("\n")
  const path = at === undefined ? undefined : /at \[(.*)\]/.exec(at)?.[1]
  const what = first.charAt(0).toLowerCase() + first.slice(1)
  return path === undefined ? what : `${path.replace(/"/g, "")}: ${what}`
}

const decodeRule = Schema.decodeUnknownResult(FaultRuleSchema)

/** What is wrong with how the fields combine, if anything. */
const combinationError = (rule: FaultRule, number: number | undefined): string | undefined => {
  const actions = [rule.errno, rule.short, rule.drop === true ? true : undefined].filter((a) => a !== undefined)
  if (actions.length > 1) return "errno, short and drop exclude each other"
  if (actions.length === 0 && rule.delay === undefined && rule.signal === undefined) {
    return "no action: give errno, delay, short, signal or drop"
  }
  if (rule.nth !== undefined && (rule.every !== undefined || rule.from !== undefined)) {
    return "nth picks one call: it cannot go with every or from"
  }
  if (rule.seed !== undefined && rule.p === undefined) return "seed is for p"
  if (rule.short !== undefined && (number === undefined || shapeOf(number)?.countSlot === undefined)) {
    return `short is for ${SHORT_SYSCALLS.join(", ")}`
  }
  // a path rule on a call that names no file could never match
  const shape = number === undefined ? undefined : shapeOf(number)
  if (rule.path !== undefined && shape !== undefined && shape.pathSlots.length === 0 && shape.fdSlot === undefined) {
    return `path is for calls that name a file (by path or descriptor); ${shape.info.name} names none`
  }
  return undefined
}

/**
 * Checks and compiles one rule (data or its text). `progressOf` gives the
 * progress to keep for a rule whose text is already in use; `randomSeed`
 * picks the seed of a `p` rule given none.
 */
export const compileRule = (
  input: FaultRuleInput,
  options: {
    readonly progressOf?: (text: string) => RuleProgress | undefined
    readonly randomSeed: () => number
  }
): CompiledRule | FaultRuleError => {
  const parsed = typeof input === "string" ? parseRuleText(input) : input
  const shown = typeof input === "string" ? input.trim() : JSON.stringify(input)
  const bad = (message: string) => new FaultRuleError({ rule: shown, message })
  if (typeof parsed === "string") return bad(parsed)
  const decoded = decodeRule(parsed, { onExcessProperty: "error" })
  if (Result.isFailure(decoded)) return bad(oneLine(decoded.failure.message))
  const given = decoded.success
  const number = resolveSyscall(given.syscall)
  if (typeof number === "string") return bad(number)
  const combination = combinationError(given, number)
  if (combination !== undefined) return bad(combination)
  const errno = given.errno === undefined ? undefined : ERRNOS[given.errno]
  if (given.errno !== undefined && errno === undefined) return bad(`unknown errno ${JSON.stringify(given.errno)}`)
  const signo = given.signal === undefined ? undefined : resolveSignal(given.signal)
  if (typeof signo === "string") return bad(signo)
  const delay = given.delay === undefined ? undefined : parseDelay(given.delay)
  if (typeof delay === "string") return bad(delay)
  const comm = given.comm === undefined ? undefined : compileGlob(given.comm)
  if (comm !== undefined && "_tag" in comm) return bad(`comm: bad glob: ${comm.message}`)
  const path = given.path === undefined ? undefined : compileGlob(given.path)
  if (path !== undefined && "_tag" in path) return bad(`path: bad glob: ${path.message}`)
  const rule: FaultRule = given.p !== undefined && given.seed === undefined
    ? { ...given, seed: options.randomSeed() >>> 0 }
    : given
  const text = formatRule(rule)
  return {
    text,
    rule,
    number,
    comm,
    path,
    errno,
    delay,
    short: given.short,
    signo,
    drop: given.drop === true,
    progress: options.progressOf?.(text) ?? { count: 0, rng: rule.seed ?? 0 }
  }
}

/** Whether `input` is a rule that can be used: undefined, or why not. */
export const checkFaultRule = (input: FaultRuleInput): FaultRuleError | undefined => {
  const r = compileRule(input, { randomSeed: () => 0 })
  return r instanceof FaultRuleError ? r : undefined
}

/** Compiled rules, in order, and by syscall number. */
export class RuleSet {
  readonly rules: ReadonlyArray<CompiledRule>
  /** Rules that may match a call of each number named by some rule, in order ("*" rules included). */
  private readonly byNumber: ReadonlyMap<number, ReadonlyArray<CompiledRule>>
  /** "*" rules: what any other number may match. */
  private readonly anyNumber: ReadonlyArray<CompiledRule>

  constructor(rules: ReadonlyArray<CompiledRule>) {
    this.rules = rules
    this.anyNumber = rules.filter((r) => r.number === undefined)
    const numbers = new Set<number>()
    for (const r of rules) if (r.number !== undefined) numbers.add(r.number)
    const byNumber = new Map<number, ReadonlyArray<CompiledRule>>()
    for (const n of numbers) byNumber.set(n, rules.filter((r) => r.number === undefined || r.number === n))
    this.byNumber = byNumber
  }

  static readonly empty = new RuleSet([])

  /** The rules a call of `number` may match; undefined when none. */
  candidates(number: number): ReadonlyArray<CompiledRule> | undefined {
    return this.byNumber.get(number) ?? (this.anyNumber.length > 0 ? this.anyNumber : undefined)
  }

  /** The rules as text, one a line (empty when there are none). */
  text(): string {
    return this.rules.map((r) => `${r.text}\n`).join("")
  }
}
