/**
 * `sysproxy chmod [-R] mode file ...` (chmod(1)): an octal or symbolic
 * mode (format/ModeSpec.ts: setmode(3)'s, permission copies such as
 * `g=u-w` too), a clause without a who letter taking the tool process's
 * umask in the kernel into account, as setmode does; -R changes
 * everything under a directory too (links are not followed down). A mode
 * that is neither is `chmod: Invalid file mode: m`, exit 1.
 */
import { isSymbolicLink, type Stat } from "@sysproxy/client"
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"
import { currentUmask } from "../Calls.ts"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { switchFlag } from "../Flags.ts"
import { needsUmask, parseMode } from "../format/ModeSpec.ts"
import { attempt, attemptStat, eachOperand } from "../Operands.ts"
import { errLine } from "../Output.ts"
import { walk } from "../Walk.ts"

const TOOL = "chmod"

export const chmod = Command.make(
  TOOL,
  {
    recursive: switchFlag("recursive", "R", "change files under directories too"),
    mode: Argument.String("mode"),
    files: Argument.String("file").pipe(Argument.variadic({ min: 1 }))
  },
  ({ files, mode, recursive }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const umask = needsUmask(mode) ? yield* currentUmask(c) : 0
        const change = parseMode(mode, umask)
        if (change === undefined) {
          yield* errLine(`${TOOL}: Invalid file mode: ${mode}`)
          return yield* failed
        }
        const apply = (path: string, st: Stat) => attempt(TOOL, path, c.chmod(path, change(st.mode)))
        return yield* eachOperand(files, (file) =>
          recursive
            ? walk(c, TOOL, file, (entry) => isSymbolicLink(entry.stat) ? Effect.succeed(true) : apply(entry.path, entry.stat))
            : Effect.flatMap(attemptStat(c, TOOL, file), (st) => st === undefined ? Effect.succeed(false) : apply(file, st)))
      }))
).pipe(Command.withDescription("Change file modes on the server."))
