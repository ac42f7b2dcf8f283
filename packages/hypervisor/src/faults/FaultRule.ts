/**
 * A fault rule as data: which calls it matches (syscall, pid, comm, path),
 * which of those it acts on (the nth, every nth, from the nth, with a
 * probability), and what it does (fail with an errno, delay, a short read
 * or write, raise a signal, drop the connection). The Schema checks each
 * field's form; RuleSet.ts checks the names (syscall, errno, signal) and
 * the globs, and how the fields combine.
 *
 * The one-line text form of the same data is in RuleText.ts:
 * `write:path=/tmp/log*:nth=3:errno=ENOSPC`.
 */
import { Data, Schema } from "effect"

const Positive = Schema.Int.check(Schema.isGreaterThanOrEqualTo(1))
const NonNegative = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

export const FaultRuleSchema = Schema.Struct({
  /** A syscall's name in the NetBSD table (or its base name: stat for __stat50), its number, or "*" for every call. */
  syscall: Schema.Union([Schema.String, NonNegative]),
  /** Only calls by this process. */
  pid: Schema.optionalKey(Positive),
  /** Only calls by programs whose name matches this glob. */
  comm: Schema.optionalKey(Schema.String),
  /**
   * Only calls on a file whose name matches this glob: a path argument (as
   * the caller wrote it), or the file a descriptor argument is open on
   * (when the kernel can tell).
   */
  path: Schema.optionalKey(Schema.String),
  /** Only the nth matching call (counted from 1). */
  nth: Schema.optionalKey(Positive),
  /** Every nth matching call (from `from`, or the nth). */
  every: Schema.optionalKey(Positive),
  /** The nth matching call and every one after it. */
  from: Schema.optionalKey(Positive),
  /** With this probability (0 to 1), drawn per matching call. */
  p: Schema.optionalKey(Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))),
  /** The seed of those draws, so that a run can be replayed (default: a random one, shown by the rule's text). */
  seed: Schema.optionalKey(Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 0xffffffff }))),
  /** Fail the call with this errno (a name: ENOSPC). */
  errno: Schema.optionalKey(Schema.String),
  /** Wait this long first (`50ms`, `2s`, `100us`, `1m`); a disconnect ends the wait, as it ends a sleep. */
  delay: Schema.optionalKey(Schema.String),
  /** A read or write moves at most this many bytes. */
  short: Schema.optionalKey(NonNegative),
  /** Raise this signal at the caller first (a name, SIGUSR1 or USR1, or a number). */
  signal: Schema.optionalKey(Schema.Union([Schema.String, Positive])),
  /** Drop the client's connection while the call is in flight. */
  drop: Schema.optionalKey(Schema.Boolean)
})

export type FaultRule = typeof FaultRuleSchema.Type

/** A rule as given: its text, or its fields (decoded and checked when it is used). */
export type FaultRuleInput = string | FaultRule | { readonly [field: string]: unknown }

/** A rule that cannot be used: `rule` is its text, `message` says why. */
export class FaultRuleError extends Data.TaggedError("FaultRuleError")<{
  readonly rule: string
  readonly message: string
}> {}
