/**
 * `sysproxy ln [-sf] source [target]` and `ln [-sf] source ... dir`
 * (ln(1)): a hard link, or with -s a symbolic link holding `source` as
 * written; into a directory under the source's name, or into `.` with no
 * target. -f removes a target in the way first.
 */
import { isDirectory, type SysproxyProcess } from "@sysproxy/client"
import * as Path from "node:path"
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"
import { link } from "../Calls.ts"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { switchFlag } from "../Flags.ts"
import { attempt } from "../Operands.ts"
import { warn } from "../Output.ts"

const TOOL = "ln"

const isDir = (c: SysproxyProcess, path: string) =>
  c.stat(path).pipe(Effect.map(isDirectory), Effect.catchTag("SyscallError", () => Effect.succeed(false)))

const linkOne = (c: SysproxyProcess, source: string, target: string, symbolic: boolean, force: boolean) =>
  Effect.gen(function*() {
    // a hard link's source must be there: said about the source, as ln(1) does
    if (!symbolic && !(yield* attempt(TOOL, source, c.stat(source)))) return false
    if (force) yield* c.unlink(target).pipe(Effect.catchTag("SyscallError", () => Effect.void))
    return yield* attempt(TOOL, target, symbolic ? c.symlink(source, target) : link(c, source, target))
  })

export const ln = Command.make(
  TOOL,
  {
    symbolic: switchFlag("symbolic", "s", "make symbolic links"),
    force: switchFlag("force", "f", "remove an existing target first"),
    operands: Argument.String("source ... [target]").pipe(Argument.variadic({ min: 1 }))
  },
  ({ force, operands, symbolic }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const [sources, target] = operands.length === 1 ? [operands, "."] : [operands.slice(0, -1), operands[operands.length - 1]!]
        const intoDir = yield* isDir(c, target)
        if (sources.length > 1 && !intoDir) {
          yield* warn(TOOL, target, "Not a directory")
          return yield* failed
        }
        let ok = true
        for (const source of sources) {
          const to = intoDir ? Path.posix.join(target, Path.posix.basename(source)) : target
          ok = (yield* linkOne(c, source, to, symbolic, force)) && ok
        }
        if (!ok) return yield* failed
      }))
).pipe(Command.withDescription("Make hard or symbolic (-s) links on the server."))
