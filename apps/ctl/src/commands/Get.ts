/**
 * `sysproxy get [-q] REMOTE LOCAL`: `cp REMOTE host:LOCAL` in short,
 * stdout for `-`: into LOCAL/name when LOCAL is a directory, streamed in
 * large chunks with several requests in flight, never held whole.
 */
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { copyAll } from "../copy/Run.ts"
import { hostSide, kernelSide } from "../copy/Sides.ts"
import { quietFlag } from "../Flags.ts"

const TOOL = "get"

export const get = Command.make(
  TOOL,
  {
    quiet: quietFlag,
    remote: Argument.String("REMOTE").pipe(Argument.withDescription("a file on the server")),
    local: Argument.String("LOCAL").pipe(Argument.withDescription("where on the host, or - for stdout"))
  },
  ({ local, quiet, remote }) =>
    withClient(TOOL, (c) =>
      copyAll([{ side: kernelSide(c), path: remote }], { side: hostSide(""), path: local }, {
        tool: TOOL,
        recursive: false,
        preserve: false,
        force: false,
        quiet
      }))
).pipe(Command.withDescription("Copy a file from the server to the host (cp REMOTE host:LOCAL)."))
