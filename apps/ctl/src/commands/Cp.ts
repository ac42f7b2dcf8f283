/**
 * `sysproxy cp [-Rpfq] source ... target` (cp(1)): between kernel paths,
 * and between the host and the kernel with the host side written
 * `host:PATH` (`host:-` for stdin or stdout). Into the target when it is
 * a directory (several sources need one); -R copies directories (links
 * as links), -p keeps mode, owner and times, -f replaces a destination
 * that will not open. A progress bar on a terminal for large files.
 */
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { copyAll, endpointOf } from "../copy/Run.ts"
import { quietFlag, switchFlag } from "../Flags.ts"
import { Flag } from "effect/cli"

const TOOL = "cp"

export const cp = Command.make(
  TOOL,
  {
    recursive: switchFlag("recursive", "R", "copy directories and what is in them").pipe(Flag.withAlias("r")),
    preserve: switchFlag("preserve", "p", "keep mode, owner and times"),
    force: switchFlag("force", "f", "remove a destination that cannot be opened and try again"),
    quiet: quietFlag,
    operands: Argument.String("source ... target").pipe(
      Argument.withDescription("kernel paths, or host:PATH on the host (host:- for stdin/stdout)"),
      Argument.variadic({ min: 2 })
    )
  },
  ({ force, operands, preserve, quiet, recursive }) =>
    withClient(TOOL, (c) => {
      const ends = operands.map((o) => endpointOf(c, o))
      return copyAll(ends.slice(0, -1), ends[ends.length - 1]!, { tool: TOOL, recursive, preserve, force, quiet })
    })
).pipe(Command.withDescription("Copy files within the server, or between it and the host (host:PATH)."))
