/**
 * The options' environment variables in-process: a variable fills an absent
 * flag, is checked by the option's rule (numbers, booleans, octal modes),
 * and a bad one is a usage error naming the variable and its value.
 */
import { assert, describe, it } from "@effect/vitest"
import { ConfigProvider, Effect, Option } from "effect"
import { NO_FLAGS } from "../src/AppOptions.ts"
import { withEnvironment } from "../src/Environment.ts"

const withEnv = (env: Record<string, string>, flags = NO_FLAGS) =>
  withEnvironment(flags).pipe(Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env }))))

describe("environment variables", () => {
  it.effect("fill the flags that are absent, each read by its option's rule; a flag wins", () =>
    Effect.gen(function*() {
      const options = yield* withEnv(
        {
          SYSPROXY_MAX_CLIENTS: "12",
          SYSPROXY_GRACE: "0.5",
          SYSPROXY_TRACE: "yes",
          SYSPROXY_SOCKET_MODE: "0660",
          SYSPROXY_LOG_LEVEL: "debug",
          SYSPROXY_NCPU: "4",
          SYSPROXY_GUEST_UID: "1000"
        },
        { ...NO_FLAGS, ncpu: Option.some(2) }
      )
      assert.deepStrictEqual(options.maxClients, Option.some(12))
      assert.deepStrictEqual(options.grace, Option.some(0.5))
      assert.deepStrictEqual(options.trace, Option.some(true))
      assert.deepStrictEqual(options.socketMode, Option.some(0o660))
      assert.deepStrictEqual(options.logLevel, Option.some("Debug"))
      assert.deepStrictEqual(options.ncpu, Option.some(2), "the flag")
      assert.deepStrictEqual(options.hostname, Option.none())
      assert.deepStrictEqual(options.guestUid, Option.some(1000))
      assert.deepStrictEqual(options.guestGid, Option.none())
    }))

  it.effect("a bad value is one line naming the variable, the value and what was expected", () =>
    Effect.gen(function*() {
      const bad = (env: Record<string, string>) => Effect.map(Effect.flip(withEnv(env)), (e) => e.message)
      assert.strictEqual(
        yield* bad({ SYSPROXY_MAX_CLIENTS: "abc" }),
        `bad SYSPROXY_MAX_CLIENTS "abc": expected an integer of at least 1`
      )
      assert.strictEqual(yield* bad({ SYSPROXY_MAX_WORKERS: "1e400" }), `bad SYSPROXY_MAX_WORKERS "1e400": expected an integer of at least 1`)
      assert.strictEqual(yield* bad({ SYSPROXY_LOG_FORMAT: "xml" }), `bad SYSPROXY_LOG_FORMAT "xml": expected one of pretty, json`)
      assert.strictEqual(yield* bad({ SYSPROXY_TRACE: "maybe" }), `bad SYSPROXY_TRACE "maybe": expected true or false`)
      assert.strictEqual(yield* bad({ SYSPROXY_GRACE: "-1" }), `bad SYSPROXY_GRACE "-1": expected a number of seconds, 0 or more`)
      assert.strictEqual(yield* bad({ SYSPROXY_GUEST_GID: "wheel" }), `bad SYSPROXY_GUEST_GID "wheel": expected an id from 0 to 4294967294`)
    }))
})
