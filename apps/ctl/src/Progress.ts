/**
 * A progress bar for a copy, on stderr when stderr is a terminal (never
 * when it is piped or a file, and never with -q), for copies of at least
 * PROGRESS_MIN bytes: name, bar, percentage, bytes so far and the rate,
 * drawn first REDRAW_MS after the start (a rate over the first chunk's
 * millisecond would say nothing), redrawn in place at most every
 * REDRAW_MS and finished with a newline.
 */
import { Clock, Effect, type Stdio, Stream } from "effect"
import { humanSize } from "./format/Sizes.ts"
import { err } from "./Output.ts"
import { Terminal } from "./Terminal.ts"

/** Smaller copies finish before a bar would say anything. */
export const PROGRESS_MIN = 4 * 1024 * 1024

const REDRAW_MS = 100

/** One frame of the bar for `done` of `total` bytes after `ms`, `columns` wide. */
export const progressLine = (name: string, done: number, total: number, ms: number, columns: number): string => {
  const fraction = total === 0 ? 1 : Math.min(1, done / total)
  const rate = ms > 0 ? `${humanSize(Math.round((done * 1000) / ms))}/s` : ""
  const tail = ` ${String(Math.floor(fraction * 100)).padStart(3)}% ${humanSize(done)} ${rate}`
  const label = name.length > 24 ? `...${name.slice(-21)}` : name
  const width = Math.max(10, columns - label.length - tail.length - 4)
  const filled = Math.round(fraction * width)
  return `${label} [${"#".repeat(filled)}${" ".repeat(width - filled)}]${tail}`
}

/**
 * The chunks of `stream` unchanged, with a bar for them when the terminal
 * and the size call for one (`total` is the expected byte count).
 */
export const withProgress = <E, R>(
  name: string,
  total: number,
  quiet: boolean,
  stream: Stream.Stream<Uint8Array, E, R>
): Stream.Stream<Uint8Array, E, R | Stdio.Stdio> =>
  Stream.unwrap(Effect.gen(function*() {
    const { stderrColumns } = yield* Terminal
    if (quiet || stderrColumns === undefined || total < PROGRESS_MIN) return stream
    const columns = stderrColumns
    const start = yield* Clock.currentTimeMillis
    let done = 0
    let drawn = start
    const draw = (now: number) => err(`\r${progressLine(name, done, total, now - start, columns)}`)
    return stream.pipe(
      Stream.tap((chunk) =>
        Effect.gen(function*() {
          done += chunk.byteLength
          const now = yield* Clock.currentTimeMillis
          if (now - drawn < REDRAW_MS) return
          drawn = now
          yield* draw(now)
        })
      ),
      Stream.onEnd(Effect.flatMap(Clock.currentTimeMillis, (now) => Effect.andThen(draw(now), err("\n"))))
    )
  }))
