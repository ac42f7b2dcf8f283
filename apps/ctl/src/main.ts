/**
 * sysproxy: the entry point. Parses the command line, runs the tool and
 * maps its end to an exit code (see ExitStatus.ts).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { command } from "./Cli.ts"
import { teardown } from "./ExitStatus.ts"
import { VERSION } from "./Version.ts"

command.pipe(
  Command.run({ version: VERSION }),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ teardown })
)
