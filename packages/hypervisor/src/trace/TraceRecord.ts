/**
 * One traced syscall, as the JSON-lines trace (a file, the server's /trace
 * endpoint) carries it, with its Schema for readers, and its filter (pid,
 * comm glob, syscall name) as the endpoint and `sysproxy trace` take it.
 *
 * Arguments follow the NetBSD table (PAD slots left out): a number, a C
 * string the kernel read (`string`), or a pointer (`addr`) with the bytes
 * the kernel copied at it (`bytes`), in or out.
 */
import { Schema } from "effect"
import type { Glob } from "../middleware/Glob.ts"

export const TraceArgSchema = Schema.Struct({
  name: Schema.String,
  /** An integer argument (a decimal string when it does not fit a double exactly). */
  value: Schema.optionalKey(Schema.Union([Schema.Number, Schema.String])),
  /** A C string argument the kernel read. */
  string: Schema.optionalKey(Schema.String),
  /** A pointer argument, in hex. */
  addr: Schema.optionalKey(Schema.String),
  /** Bytes the kernel copied in or out at that pointer. */
  bytes: Schema.optionalKey(Schema.Number),
  /** mode_t: shown in octal. */
  mode: Schema.optionalKey(Schema.Boolean)
})

export type TraceArg = typeof TraceArgSchema.Type

export const TraceRecordSchema = Schema.Struct({
  /** When the call started: ISO 8601 with microseconds, UTC. */
  time: Schema.String,
  pid: Schema.Number,
  comm: Schema.NullOr(Schema.String),
  lwp: Schema.Number,
  /** Its name in the NetBSD table (`syscall_<n>` off it). */
  syscall: Schema.String,
  number: Schema.Number,
  args: Schema.Array(TraceArgSchema),
  /** retval[0] (a decimal string beyond a double's exact range); null when the call was interrupted. */
  retval: Schema.NullOr(Schema.Union([Schema.Number, Schema.String])),
  /** The errno's name when the call failed, else null. */
  errno: Schema.NullOr(Schema.String),
  /** The call was interrupted (its client went away and the grace period ran out): no result. */
  interrupted: Schema.optionalKey(Schema.Boolean),
  /** Seconds in the kernel (and in middleware inside the trace). */
  duration: Schema.Number,
  copyin: Schema.Number,
  copyout: Schema.Number
})

export type TraceRecord = typeof TraceRecordSchema.Type

/** Which records a reader wants; absent fields match everything. */
export interface TraceFilter {
  readonly pid?: number | undefined
  readonly comm?: Glob | undefined
  /** Syscall names, as in the record. */
  readonly syscalls?: ReadonlySet<string> | undefined
}

export const matchesFilter = (filter: TraceFilter, r: TraceRecord): boolean =>
  (filter.pid === undefined || r.pid === filter.pid) &&
  (filter.comm === undefined || (r.comm !== null && filter.comm.test(r.comm))) &&
  (filter.syscalls === undefined || filter.syscalls.has(r.syscall))
