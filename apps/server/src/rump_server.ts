#!/usr/bin/env node
/**
 * rump_server: NetBSD's command line for the same server (see
 * rump/RumpServerArgs.ts), so scripts written for it run unchanged.
 * Without -s it detaches and exits 0 once the socket is ready; with -s it
 * serves in the foreground like sysproxy-server. Every failure exits 1, as
 * NetBSD's does.
 */
import "effect/schema/SchemaJITCompiler/enable"
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Config, Console, Effect, Option } from "effect"
import { runApp } from "./App.ts"
import { type AppError, UsageError } from "./AppErrors.ts"
import { mergeOptions, NO_FLAGS } from "./AppOptions.ts"
import { exitCode } from "./Exit.ts"
import { intAtLeast } from "./OptionRules.ts"
import { DETACHED_ENV, detach } from "./rump/Detach.ts"
import { parseRumpServerArgs, RUMP_SERVER, RUMP_USAGE, type RumpServerArgs } from "./rump/RumpServerArgs.ts"

const report = (e: AppError) => Console.error(`${RUMP_SERVER}: ${e.message}`)

/** The foreground server for parsed arguments; a daemon is told where to say it is ready. */
const foreground = (args: RumpServerArgs) =>
  Effect.gen(function*() {
    const fd = yield* Config.option(Config.Int("SYSPROXY_READY_FD")).pipe(Effect.orElseSucceed(Option.none))
    const base = mergeOptions(NO_FLAGS, {})
    yield* runApp({
      ...base,
      url: Option.some(args.url),
      ncpu: Option.fromUndefinedOr(args.ncpu),
      physmem: Option.fromUndefinedOr(args.memory),
      hostFiles: args.hostFiles,
      logLevel: args.verbose ? "Debug" : base.logLevel,
      readyFd: Option.filter(fd, (n) => intAtLeast(3).decode(n) !== undefined)
    })
  })

const main = (argv: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const args = parseRumpServerArgs(argv)
    if ("error" in args) {
      yield* Console.error(`${RUMP_SERVER}: ${args.error}`)
      yield* Console.error(RUMP_USAGE)
      return yield* new UsageError({ message: args.error })
    }
    // a daemon's parent printed them already
    const detached = yield* Config.option(Config.String(DETACHED_ENV)).pipe(Effect.orElseSucceed(Option.none))
    if (Option.isNone(detached)) for (const warning of args.warnings) yield* Console.error(`${RUMP_SERVER}: ${warning}`)
    if (args.foreground) return yield* foreground(args).pipe(Effect.tapError(report))
    const daemon = yield* detach(import.meta.filename, argv).pipe(Effect.tapError(report))
    if (args.verbose) yield* Console.error(`${RUMP_SERVER}: pid ${daemon.pid} serving ${daemon.url}`)
  })

main(process.argv.slice(2)).pipe(
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ teardown: (exit, onExit) => onExit(exitCode(exit) === 0 ? 0 : 1) })
)
