/**
 * Sinks for the syscall trace:
 *
 * - `traceFile(path, format)`: JSON lines or strace-like text, to a file
 *   created (or emptied) when the scope opens and closed with it. Writes
 *   are queued in order and never block a syscall; a write that fails is
 *   logged once and the trace stops.
 * - `makeLiveTrace()`: records for whoever listens now (the server's /trace
 *   endpoint): each listener gets its own bounded queue, filtered as it
 *   asked; one that falls behind loses its oldest records. Enabled only
 *   while someone listens.
 */
import { Data, Effect, Queue, type Scope, Stream } from "effect"
import * as Fs from "node:fs"
import type { TraceSink } from "./SyscallTrace.ts"
import { matchesFilter, type TraceFilter, type TraceRecord } from "./TraceRecord.ts"
import { formatTraceLine } from "./TraceText.ts"

export type TraceFormat = "json" | "text"

export const TraceFormats: ReadonlyArray<TraceFormat> = ["json", "text"]

/** One record as a line of the format, with its newline. */
export const traceLine = (format: TraceFormat, record: TraceRecord): string =>
  `${format === "json" ? JSON.stringify(record) : formatTraceLine(record)}\n`

export class TraceFileError extends Data.TaggedError("TraceFileError")<{
  readonly path: string
  readonly message: string
}> {}

export const traceFile = (
  path: string,
  format: TraceFormat
): Effect.Effect<TraceSink, TraceFileError, Scope.Scope> =>
  Effect.gen(function*() {
    const run = Effect.runForkWith(yield* Effect.context<never>())
    const stream = yield* Effect.acquireRelease(
      Effect.try({
        try: () => Fs.createWriteStream(path, { fd: Fs.openSync(path, "w", 0o600) }),
        catch: (e) => new TraceFileError({ path, message: `cannot write the trace to ${path}: ${e instanceof Error ? e.message : String(e)}` })
      }),
      (s) => Effect.callback<void>((resume) => void s.end(() => resume(Effect.void)))
    )
    let failed = false
    stream.on("error", (e) => {
      if (failed) return
      failed = true
      run(Effect.logError(`trace file ${path}: ${e.message}; tracing stopped`))
    })
    return {
      enabled: () => !failed,
      write: (record) => void stream.write(traceLine(format, record))
    } satisfies TraceSink
  })

export interface LiveTrace {
  readonly sink: TraceSink
  /** Records from now on that pass `filter`, for as long as the stream runs. */
  readonly records: (filter: TraceFilter) => Stream.Stream<TraceRecord>
  /** Listeners now. */
  readonly listeners: () => number
}

/** Records a listener may fall behind by before it loses the oldest. */
const LISTENER_BACKLOG = 4096

export const makeLiveTrace = (backlog: number = LISTENER_BACKLOG): LiveTrace => {
  const listeners = new Set<{ readonly filter: TraceFilter; readonly queue: Queue.Queue<TraceRecord> }>()
  return {
    sink: {
      enabled: () => listeners.size > 0,
      write: (record) => {
        for (const l of listeners) if (matchesFilter(l.filter, record)) Queue.offerUnsafe(l.queue, record)
      }
    },
    records: (filter) =>
      Stream.unwrap(Effect.gen(function*() {
        const queue = yield* Queue.sliding<TraceRecord>(backlog)
        const listener = { filter, queue }
        yield* Effect.acquireRelease(Effect.sync(() => listeners.add(listener)), () =>
          Effect.sync(() => {
            listeners.delete(listener)
          }))
        return Stream.fromQueue(queue)
      })),
    listeners: () => listeners.size
  }
}
