/**
 * sysproxy: the entry point. Parses the command line, runs the tool and
 * maps its end to an exit code (see ExitStatus.ts).
 */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { commandLine } from "./Argv.ts"
import { command } from "./Cli.ts"
import { teardown, watchStopSignals } from "./ExitStatus.ts"
import { withUsage } from "./Usage.ts"
import { VERSION } from "./Version.ts"

// before runMain's own handlers, which interrupt the program without saying which signal it was
const stopSignal = watchStopSignals()

Command.runWith(command, { version: VERSION })(commandLine(process.argv.slice(2))).pipe(
  withUsage,
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain({ teardown: teardown(stopSignal) })
)
