/**
 * Preforked processes waiting for their fork child to connect.
 *
 * Cookies are 128 bits from the CSPRNG. They are looked up through a
 * SHA-256 digest (so map timing says nothing about the cookie) and then
 * compared in constant time. An entry is single use, survives its parent's
 * disconnect (the daemon case: the parent exits right after fork), and is
 * released after `expiry` if no child claims it; the C server keeps such
 * processes forever.
 */
import { Duration, Effect, Fiber, FiberSet } from "effect"
import { COOKIE_SIZE } from "@sysproxy/protocol"
import type { ProcessHandle } from "@sysproxy/hypervisor"
import * as Crypto from "node:crypto"

interface Entry {
  readonly cookie: Uint8Array
  readonly process: ProcessHandle
  expiry: Fiber.Fiber<void> | undefined
}

export interface PreforkRegistry {
  /** Registers a preforked process; returns its fresh cookie. */
  readonly add: (process: ProcessHandle) => Effect.Effect<Uint8Array>
  /** Removes and returns the entry's process, if the cookie is known. */
  readonly claim: (cookie: Uint8Array) => Effect.Effect<ProcessHandle | undefined>
  readonly size: () => number
}

const digest = (cookie: Uint8Array): string => Crypto.createHash("sha256").update(cookie).digest("hex")

export const makePreforkRegistry = (options: {
  readonly expiry: Duration.Duration
  /** Releases an expired prefork's process. */
  readonly release: (process: ProcessHandle) => Effect.Effect<void>
}) =>
  Effect.gen(function*() {
    const entries = new Map<string, Entry>()
    const timers = yield* FiberSet.make()

    const add = (process: ProcessHandle) =>
      Effect.suspend(() => {
        const cookie = new Uint8Array(Crypto.randomBytes(COOKIE_SIZE))
        const key = digest(cookie)
        const entry: Entry = { cookie, process, expiry: undefined }
        entries.set(key, entry)
        const expire = Effect.sleep(options.expiry).pipe(
          Effect.andThen(Effect.suspend(() => {
            if (entries.get(key) !== entry) return Effect.void
            entries.delete(key)
            return Effect.logInfo("prefork expired unclaimed; releasing its process").pipe(
              Effect.annotateLogs({ pid: process.pid }),
              Effect.andThen(options.release(process))
            )
          }))
        )
        return Effect.map(FiberSet.run(timers, expire), (fiber) => {
          entry.expiry = fiber
          return cookie
        })
      })

    const claim = (cookie: Uint8Array) =>
      Effect.suspend(() => {
        if (cookie.byteLength !== COOKIE_SIZE) return Effect.succeed(undefined)
        const key = digest(cookie)
        const entry = entries.get(key)
        if (entry === undefined || !Crypto.timingSafeEqual(entry.cookie, cookie)) return Effect.succeed(undefined)
        entries.delete(key)
        const timer = entry.expiry
        return (timer ? Fiber.interrupt(timer) : Effect.void).pipe(Effect.as(entry.process))
      })

    // at shutdown, whatever was never claimed goes back to the kernel
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        const left = [...entries.values()]
        entries.clear()
        return Effect.forEach(left, (e) => options.release(e.process), { discard: true })
      })
    )

    return { add, claim, size: () => entries.size } satisfies PreforkRegistry
  })
