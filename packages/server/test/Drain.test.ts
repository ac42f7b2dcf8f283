/**
 * Graceful shutdown, the server's half: `drain` stops accepting at once,
 * lets in-flight syscalls finish (and be answered) within the grace period,
 * and the scope closing after it interrupts what is left without waiting
 * for the disconnect grace again.
 */
import { assert, describe, it } from "@effect/vitest"
import { success } from "@sysproxy/hypervisor/testing"
import { Deferred, Effect, Exit, Fiber, Scope } from "effect"
import * as Fs from "node:fs"
import { connectRefused, guest, startServer, waitFor } from "./runtime-support.ts"

const SLOW = 901
const ENDLESS = 902

describe("drain", () => {
  it.live("stops accepting at once and waits for the syscall in flight, which is answered", () =>
    Effect.gen(function*() {
      const release = yield* Deferred.make<void>()
      const rt = yield* startServer()
      yield* rt.kernel.setHandler(SLOW, () => Deferred.await(release).pipe(Effect.as(success(42n))))
      const { client } = yield* guest(rt, "drained")
      const call = yield* client.syscall(SLOW).pipe(Effect.forkChild)
      yield* waitFor("the call in flight", Effect.sync(() => rt.server.stats().inflightJobs), (n) => n === 1)

      const drain = yield* rt.server.drain({ grace: "1 minute" }).pipe(Effect.forkChild)
      yield* waitFor("the socket file gone", Effect.sync(() => Fs.existsSync(rt.socketPath!)), (exists) => !exists)
      assert.isTrue(yield* connectRefused(rt.url))
      assert.isUndefined(drain.pollUnsafe(), "the drain waits for the call")

      yield* Deferred.succeed(release, undefined)
      const answer = yield* Fiber.join(call)
      assert.deepStrictEqual([answer.error, answer.retval0], [0, 42n])
      assert.strictEqual(yield* Fiber.join(drain), "drained")
    }))

  it.live("a syscall that outlasts the grace is interrupted when the scope closes, without the disconnect grace", () =>
    Effect.gen(function*() {
      const scope = yield* Scope.make()
      // a disconnect grace far beyond the test's timeout: closing must not wait for it
      const rt = yield* startServer({ disconnectGrace: "10 minutes" }).pipe(Scope.provide(scope))
      yield* rt.kernel.setHandler(ENDLESS, () => Effect.never)
      const { client } = yield* guest(rt, "endless").pipe(Scope.provide(scope))
      const call = yield* client.syscall(ENDLESS).pipe(Effect.exit, Effect.forkChild)
      yield* waitFor("the call in flight", Effect.sync(() => rt.server.stats().inflightJobs), (n) => n === 1)

      assert.strictEqual(yield* rt.server.drain({ grace: "50 millis" }), "grace expired")
      yield* Scope.close(scope, Exit.void)
      // the connection closed without an answer
      const exit = yield* Fiber.join(call)
      assert.strictEqual(exit._tag, "Failure")
      assert.strictEqual(yield* rt.kernel.lwpCount, 0)
    }))

  it.live("a cut ends the drain before the grace", () =>
    Effect.gen(function*() {
      const cut = yield* Deferred.make<void>()
      const rt = yield* startServer()
      yield* rt.kernel.setHandler(ENDLESS, () => Effect.never)
      const { client } = yield* guest(rt, "cut")
      yield* client.syscall(ENDLESS).pipe(Effect.exit, Effect.forkChild)
      yield* waitFor("the call in flight", Effect.sync(() => rt.server.stats().inflightJobs), (n) => n === 1)
      const drain = yield* rt.server.drain({ grace: "10 minutes", cut: Deferred.await(cut) }).pipe(Effect.forkChild)
      yield* Deferred.succeed(cut, undefined)
      assert.strictEqual(yield* Fiber.join(drain), "cut short")
    }))

  it.live("with nothing in flight a drain ends at once", () =>
    Effect.gen(function*() {
      const rt = yield* startServer()
      yield* guest(rt, "idle")
      assert.strictEqual(yield* rt.server.drain({ grace: "10 minutes" }), "drained")
    }))
})
