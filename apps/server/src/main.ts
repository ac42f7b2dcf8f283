#!/usr/bin/env node
/**
 * sysproxy-server: the entry point. Parses the command line, runs the server
 * and maps its end to an exit code (see Exit.ts).
 */
import "effect/schema/SchemaJITCompiler/enable"
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { command } from "./Cli.ts"
import { teardown } from "./Exit.ts"
import { VERSION } from "./Version.ts"

command.pipe(
  Command.run({ version: VERSION }),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ teardown })
)
