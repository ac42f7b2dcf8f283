/**
 * The progress bar's frames: the first only REDRAW_MS after the start (no
 * rate over a first chunk's millisecond), then at most one per REDRAW_MS,
 * and the last at the end with its newline.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Sink, Stdio, Stream } from "effect"
import { TestClock } from "effect/testing"
import { PROGRESS_MIN, withProgress } from "../src/Progress.ts"
import { Terminal } from "../src/Terminal.ts"

const MIB = 1024 * 1024

/** What the bar wrote to stderr while `chunks` went through it, one chunk every `everyMs` of test time. */
const frames = (chunks: number, everyMs: number) =>
  Effect.gen(function*() {
    const written: Array<string> = []
    const stdio = Stdio.layerTest({
      stderr: () => Sink.forEach((s: string | Uint8Array) => Effect.sync(() => void written.push(typeof s === "string" ? s : new TextDecoder().decode(s))))
    })
    const source = Stream.range(1, chunks).pipe(
      Stream.mapEffect(() => Effect.as(Effect.sleep(`${everyMs} millis`), new Uint8Array(MIB)))
    )
    const fiber = yield* Stream.runDrain(withProgress("big", chunks * MIB, false, source)).pipe(
      Effect.provideService(Terminal, { stdoutColumns: 80, stderrColumns: 80 }),
      Effect.provide(stdio),
      Effect.forkChild
    )
    for (let i = 0; i < chunks; i++) yield* TestClock.adjust(`${everyMs} millis`)
    yield* Fiber.join(fiber)
    return written.join("").split("\r").filter((f) => f !== "")
  })

describe("progress bar", () => {
  it.effect("a fast copy draws its last frame only; none with a rate over a first chunk", () =>
    Effect.gen(function*() {
      assert.isAtLeast(4 * MIB, PROGRESS_MIN)
      const fast = yield* frames(4, 1)
      assert.strictEqual(fast.length, 1, fast.join("|"))
      assert.match(fast[0]!, /\[#+\] 100% 4\.0M \S+\/s\n$/)
    }))

  it.effect("a slow one a frame per 100 ms after the first 100 ms, then the last", () =>
    Effect.gen(function*() {
      const slow = yield* frames(5, 60)
      // chunks at 60, 120, 180, 240, 300 ms: frames at 120 and 240 (100 ms apart at least), then the end
      assert.strictEqual(slow.length, 3, slow.join("|"))
      assert.match(slow[0]!, / 40% 2\.0M /)
    }))
})
