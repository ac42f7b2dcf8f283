/**
 * The second SIGINT or SIGTERM. NodeRuntime.runMain turns the first into an
 * interruption, which starts the graceful shutdown; it ignores the rest, so
 * this listener counts them and the shutdown stops waiting at the second.
 */
import { Deferred, Effect, Exit } from "effect"

const SIGNALS = ["SIGINT", "SIGTERM"] as const

/** An effect that completes once the process has had two signals; listens while the scope is open. */
export const secondSignal = Effect.gen(function*() {
  const second = yield* Deferred.make<void>()
  let seen = 0
  const onSignal = () => {
    if (++seen >= 2) Deferred.doneUnsafe(second, Exit.void)
  }
  yield* Effect.acquireRelease(
    Effect.sync(() => {
      for (const s of SIGNALS) process.on(s, onSignal)
    }),
    () =>
      Effect.sync(() => {
        for (const s of SIGNALS) process.off(s, onSignal)
      })
  )
  return Deferred.await(second)
})
