/**
 * `sysproxy touch [-c] file ...` (touch(1)): a file that exists gets its
 * access and modification times set to now (utimes with no times), one
 * that does not is created empty (mode 0666 less the umask), unless -c.
 */
import { openFlags } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"
import { touchTimes } from "../Calls.ts"
import { withClient } from "../Connect.ts"
import { switchFlag } from "../Flags.ts"
import { attempt, eachOperand } from "../Operands.ts"

const TOOL = "touch"

export const touch = Command.make(
  TOOL,
  {
    noCreate: switchFlag("no-create", "c", "do not create files that do not exist"),
    files: Argument.String("file").pipe(Argument.variadic({ min: 1 }))
  },
  ({ files, noCreate }) =>
    withClient(TOOL, (c) =>
      eachOperand(files, (file) =>
        attempt(
          TOOL,
          file,
          touchTimes(c, file).pipe(
            Effect.asVoid,
            Effect.catchTag("SyscallError", (e) =>
              e.code !== "ENOENT"
                ? Effect.fail(e)
                : noCreate
                ? Effect.void
                : Effect.flatMap(c.open(file, openFlags.O_WRONLY | openFlags.O_CREAT, 0o666), (fd) => c.close(fd)))
          )
        )))
).pipe(Command.withDescription("Set file times to now on the server, creating files that are missing."))
