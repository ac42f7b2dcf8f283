/**
 * `sysproxy put [-q] LOCAL REMOTE`: `cp host:LOCAL REMOTE` in short,
 * stdin for `-`: into REMOTE/name when REMOTE is a directory, with the
 * local file's permission bits (less the umask), streamed in large
 * chunks with several requests in flight.
 */
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { copyAll } from "../copy/Run.ts"
import { hostSide, kernelSide } from "../copy/Sides.ts"
import { quietFlag } from "../Flags.ts"

const TOOL = "put"

export const put = Command.make(
  TOOL,
  {
    quiet: quietFlag,
    local: Argument.String("LOCAL").pipe(Argument.withDescription("a host file, or - for stdin")),
    remote: Argument.String("REMOTE").pipe(Argument.withDescription("where on the server"))
  },
  ({ local, quiet, remote }) =>
    withClient(TOOL, (c) =>
      copyAll([{ side: hostSide(""), path: local }], { side: kernelSide(c), path: remote }, {
        tool: TOOL,
        recursive: false,
        preserve: false,
        force: false,
        quiet
      }))
).pipe(Command.withDescription("Copy a host file to the server (cp host:LOCAL REMOTE)."))
