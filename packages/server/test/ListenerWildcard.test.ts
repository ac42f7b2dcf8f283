/**
 * TCP addresses (SECURITY.md, "Who can connect"): the server binds exactly
 * the address of its URL, and a wildcard (`*`, `0`, `0.0.0.0`, `[::]`) is
 * bound only when written out, with a warning in the log (captured here by
 * a test logger).
 */
import { assert, describe, it } from "@effect/vitest"
import { Hypervisor } from "@sysproxy/hypervisor"
import { TestHypervisor } from "@sysproxy/hypervisor/testing"
import { Effect, Logger, References } from "effect"
import * as Net from "node:net"
import { make } from "../src/index.ts"
import { BANNER, hasIpv6Loopback, tempSocketPath } from "./support.ts"

/** A server on `url` whose Warn-and-above log lines are collected in `lines`. */
const serverLogging = (url: string) =>
  Effect.gen(function*() {
    const lines: Array<string> = []
    const collector = Logger.make((o) => {
      const text = Array.isArray(o.message) ? o.message.map(String).join(" ") : String(o.message)
      lines.push(`${o.logLevel}: ${text}`)
    })
    const { hypervisor } = yield* TestHypervisor.make()
    const server = yield* make({ url }).pipe(
      Effect.provideService(Hypervisor, hypervisor),
      Effect.provideService(References.MinimumLogLevel, "Warn"),
      Effect.provide(Logger.layer([collector]))
    )
    return { server, lines }
  })

/** What a TCP connection to host:port gets: the banner, or the connect error's code. */
const reach = (host: string, port: number) =>
  Effect.callback<string>((resume) => {
    const s = Net.createConnection({ host, port })
    let got = ""
    s.on("data", (chunk: Buffer) => {
      got += chunk.toString("latin1")
      if (got.includes("\n")) {
        s.destroy()
        resume(Effect.succeed(got))
      }
    })
    s.once("error", (e: NodeJS.ErrnoException) => resume(Effect.succeed(e.code ?? "error")))
    return Effect.sync(() => s.destroy())
  })

const portOf = (url: string) => Number(/:(\d+)$/.exec(url)![1])

const warnings = (lines: ReadonlyArray<string>) => lines.filter((l) => l.startsWith("Warn") && l.includes("every interface"))

describe("a wildcard address", () => {
  it.live.each(["tcp://*:0", "tcp://0:0", "tcp://0.0.0.0:0"])("%s: bound on every interface, with a warning", (url) =>
    Effect.gen(function*() {
      const { server, lines } = yield* serverLogging(url)
      const found = warnings(lines)
      assert.strictEqual(found.length, 1, `one warning: ${JSON.stringify(lines)}`)
      assert.include(found[0], server.address.url, "the warning names the bound address")
      // 127.0.0.2 is another address of the loopback interface: a wildcard reaches it
      assert.strictEqual(yield* reach("127.0.0.2", portOf(server.address.url)), BANNER)
    }))

  it.live.skipIf(!hasIpv6Loopback)("tcp6://[::]:0: bound on every interface, with a warning", () =>
    Effect.gen(function*() {
      const { server, lines } = yield* serverLogging("tcp6://[::]:0")
      assert.strictEqual(warnings(lines).length, 1, `one warning: ${JSON.stringify(lines)}`)
      assert.strictEqual(yield* reach("::1", portOf(server.address.url)), BANNER)
    }))
})

describe("a specific address", () => {
  it.live("tcp://127.0.0.1:0 binds 127.0.0.1 only, without a warning", () =>
    Effect.gen(function*() {
      const { server, lines } = yield* serverLogging("tcp://127.0.0.1:0")
      assert.deepStrictEqual(warnings(lines), [])
      const port = portOf(server.address.url)
      assert.strictEqual(yield* reach("127.0.0.1", port), BANNER)
      assert.strictEqual(yield* reach("127.0.0.2", port), "ECONNREFUSED", "another loopback address is not bound")
    }))

  it.live.skipIf(!hasIpv6Loopback)("tcp6://[::1]:0 binds ::1 only, without a warning", () =>
    Effect.gen(function*() {
      const { server, lines } = yield* serverLogging("tcp6://[::1]:0")
      assert.deepStrictEqual(warnings(lines), [])
      assert.strictEqual(yield* reach("::1", portOf(server.address.url)), BANNER)
      assert.strictEqual(yield* reach("127.0.0.1", portOf(server.address.url)), "ECONNREFUSED", "IPv6 only")
    }))

  it.live("a unix socket: no warning", () =>
    Effect.gen(function*() {
      const { lines } = yield* serverLogging(`unix://${yield* tempSocketPath}`)
      assert.deepStrictEqual(warnings(lines), [])
    }))
})
