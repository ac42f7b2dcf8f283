/**
 * The ctl against a real server: the client's test world (the kernel and
 * a SysproxyServer in this process on a unix socket), and `sysproxy` run
 * in-process on an argv (Command.runWith) with its stdin, stdout, stderr
 * and console captured and its exit code computed as main.ts's teardown
 * computes it.
 */
import { NodeServices } from "@effect/platform-node"
import { ConfigProvider, Effect, type Scope, Sink, Stdio, Stream } from "effect"
import { Command } from "effect/cli"
import { TestConsole } from "effect/testing"
import { startWorld, tempDir } from "../../../../packages/client/test/support/World.ts"
import { commandLine } from "../../src/Argv.ts"
import { command } from "../../src/Cli.ts"
import { exitCode } from "../../src/ExitStatus.ts"
import { Terminal, type TerminalInfo } from "../../src/Terminal.ts"
import { withUsage } from "../../src/Usage.ts"
import { VERSION } from "../../src/Version.ts"

/** A fresh host directory, removed when the scope closes. */
export const hostDir = tempDir

export interface Server {
  readonly url: string
  /** Completes when a client has halted the server. */
  readonly halted: Effect.Effect<unknown>
}

/** The kernel (hostname "ctl-test") and a server in a fresh directory, for the scope's life. */
export const startServer: Effect.Effect<Server, unknown, Scope.Scope> = Effect.map(
  startWorld({ hostname: "ctl-test" }),
  (server) => ({ url: server.address.url, halted: server.halted })
)

export interface Ran {
  readonly code: number
  readonly stdout: string
  readonly stdoutBytes: Uint8Array
  readonly stderr: string
  /** What effect/cli itself printed (help, parse errors). */
  readonly console: string
  /** The part of it that went to stderr (a bad command line's lines). */
  readonly consoleErrors: string
}

const decoder = new TextDecoder()

const NO_TERMINAL: TerminalInfo = { stdoutColumns: undefined, stderrColumns: undefined }

/** Runs `sysproxy ...args` with `env` as the environment and `stdin` as its input. */
export const run = (
  args: ReadonlyArray<string>,
  options: {
    readonly env?: Record<string, string>
    readonly stdin?: Uint8Array | string
    /** What the tools take the terminal to be (none: stdout and stderr are pipes). */
    readonly terminal?: TerminalInfo
  } = {}
): Effect.Effect<Ran> =>
  Effect.gen(function*() {
    const stdout: Array<Uint8Array> = []
    const stderr: Array<Uint8Array> = []
    const bytes = (chunk: string | Uint8Array) => (typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk)
    const sink = (into: Array<Uint8Array>) => Sink.forEach((chunk: string | Uint8Array) => Effect.sync(() => void into.push(bytes(chunk))))
    const input = options.stdin === undefined ? Stream.empty : Stream.succeed(bytes(options.stdin))
    const stdio = Stdio.layerTest({ stdout: () => sink(stdout), stderr: () => sink(stderr), stdin: input })
    const exit = yield* Effect.exit(withUsage(Command.runWith(command, { version: VERSION })(commandLine(args)))).pipe(
      Effect.provideService(Terminal, options.terminal ?? NO_TERMINAL),
      Effect.provide(stdio),
      Effect.provide(ConfigProvider.layer(ConfigProvider.fromEnv({ env: options.env ?? {} }))),
      Effect.provide(NodeServices.layer)
    )
    const errors = (yield* TestConsole.errorLines).map(String)
    const lines = [...errors, ...(yield* TestConsole.logLines).map(String)]
    const out = Buffer.concat(stdout)
    return {
      code: exitCode(exit),
      stdout: decoder.decode(out),
      stdoutBytes: new Uint8Array(out),
      stderr: decoder.decode(Buffer.concat(stderr)),
      console: lines.join("\n"),
      consoleErrors: errors.join("\n")
    }
  }).pipe(Effect.provide(TestConsole.layer))

/** `run` against `server` (--server given first, as a user would). */
export const on = (server: Server, ...args: ReadonlyArray<string>) => run(["--server", server.url, ...args])
