/**
 * Graceful shutdown of the app as a process: SIGTERM drains in-flight
 * syscalls (answered, exit 0, socket removed), the grace period bounds the
 * wait, and a second signal ends it at once.
 */
import { assert, describe, it } from "@effect/vitest"
import { connect } from "@sysproxy/client"
import { TIMESPEC_SIZE, writeTimespec } from "@sysproxy/protocol"
import { SYS } from "@sysproxy/protocol/netbsd"
import { Effect, Exit, Fiber } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { spawnApp, tempDir } from "./ChildApp.ts"

const LISTENING = /listening on unix:\/\//

/** A struct timespec of whole seconds, as nanosleep reads it. */
const timespec = (seconds: number) => {
  const bytes = new Uint8Array(TIMESPEC_SIZE)
  writeTimespec(new DataView(bytes.buffer), 0, { sec: BigInt(seconds), nsec: 0 })
  return bytes
}

/**
 * A server with a guest sleeping `seconds` in nanosleep; returns once the
 * sleep is surely in the server (a getpid sent after it on the same
 * connection was answered, and frames are dispatched in order).
 */
const sleepingGuest = (grace: number, seconds: number) =>
  Effect.gen(function*() {
    const sock = Path.join(yield* tempDir, "rump.sock")
    const url = `unix://${sock}`
    const app = yield* spawnApp(["--log-format", "json", "--grace", String(grace), url])
    yield* app.waitForStdout(LISTENING)
    const client = yield* connect(url)
    yield* client.handshakeGuest("sleeper")
    const sleep = yield* client.syscall(SYS.__nanosleep50, [client.space.alloc(timespec(seconds)), 0]).pipe(
      Effect.exit,
      Effect.forkChild
    )
    assert.strictEqual((yield* client.syscall(SYS.getpid)).error, 0)
    return { app, sock, sleep }
  })

describe.concurrent("sysproxy-server shutdown", () => {
  it.live("SIGTERM with a syscall in flight: it finishes and is answered, then exit 0 and the socket is gone", () =>
    Effect.gen(function*() {
      const { app, sock, sleep } = yield* sleepingGuest(60, 1)
      yield* app.kill("SIGTERM")
      const answer = yield* Fiber.join(sleep)
      assert.isTrue(Exit.isSuccess(answer), "the sleep was answered, not cut off")
      if (Exit.isSuccess(answer)) assert.strictEqual(answer.value.error, 0, "the whole sleep, not EINTR")
      assert.deepStrictEqual(yield* app.ended(), { code: 0, signal: null })
      assert.isFalse(Fs.existsSync(sock))
      assert.match(app.stdout(), /shutting down: 1 syscalls in flight get up to 60s/)
    }))

  it.live("a syscall that outlasts the grace period is interrupted; exit 0", () =>
    Effect.gen(function*() {
      const { app, sock, sleep } = yield* sleepingGuest(0.5, 600)
      yield* app.kill("SIGTERM")
      assert.deepStrictEqual(yield* app.ended(), { code: 0, signal: null })
      assert.isFalse(Fs.existsSync(sock))
      assert.match(app.stdout(), /grace period over; interrupting 1 syscalls/)
      const answer = yield* Fiber.join(sleep)
      // cut off: the connection closed (or the sleep was woken early)
      assert.isTrue(Exit.isFailure(answer) || answer.value.error !== 0)
    }))

  it.live("a second signal ends the drain at once, long before the grace period and the sleep", () =>
    Effect.gen(function*() {
      const { app, sock } = yield* sleepingGuest(3600, 3600)
      yield* app.kill("SIGTERM")
      yield* app.waitForStdout(/shutting down/)
      yield* app.kill("SIGINT")
      // the bound is only there so a broken build fails instead of hanging: grace and sleep are an hour
      assert.deepStrictEqual(yield* app.ended(60_000), { code: 0, signal: null })
      assert.isFalse(Fs.existsSync(sock))
      assert.match(app.stdout(), /second signal; interrupting 1 syscalls/)
    }))
})
