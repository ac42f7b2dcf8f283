/**
 * `sysproxy find path ... [expression]` (find(1)): every path under each
 * operand, depth first in name order, for which the expression holds
 * (find/Expression.ts: -name, -path, -type, -print, -print0, -prune,
 * -depth, -maxdepth, -mindepth, `!`, -a, -o, parentheses); without an
 * action each such path is printed. Links are not followed. The words are
 * find's own (Argv.ts hands them over unparsed): anything else is refused
 * as find refuses it, `find: -foo: unknown primary or operator`, exit 1.
 */
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { evaluate, parseExpression, startsExpression } from "../find/Expression.ts"
import { errLine, out } from "../Output.ts"
import { walk } from "../Walk.ts"

const TOOL = "find"

const USAGE = "usage: find path ... [expression]"

const encoder = new TextEncoder()

export const find = Command.make(
  TOOL,
  {
    words: Argument.String("path ... [expression]").pipe(
      Argument.withDescription("paths, then primaries: -name GLOB -path GLOB -type [bcdflps] -print -print0 -prune -depth -maxdepth N -mindepth N, ! -a -o ( )"),
      Argument.variadic()
    )
  },
  ({ words }) =>
    Effect.gen(function*() {
      const first = words.findIndex(startsExpression)
      const paths = first === -1 ? words : words.slice(0, first)
      if (paths.length === 0) {
        // a primary before any path is, to getopt, an option find does not have
        if (first === 0 && words[0]!.startsWith("-") && words[0]!.length > 1) yield* errLine(`${TOOL}: illegal option -- ${words[0]![1]}`)
        yield* errLine(USAGE)
        return yield* failed
      }
      const plan = parseExpression(first === -1 ? [] : words.slice(first))
      if (typeof plan === "string") {
        yield* errLine(`${TOOL}: ${plan}`)
        return yield* failed
      }
      yield* withClient(TOOL, (c) =>
        Effect.gen(function*() {
          let ok = true
          for (const root of paths) {
            ok = (yield* walk(c, TOOL, root, (file) =>
              Effect.gen(function*() {
                const effects = { output: "", prune: false }
                evaluate(plan.expression, file, effects)
                if (effects.output !== "") yield* out(encoder.encode(effects.output))
                return { ok: true, descend: !effects.prune }
              }), { followRoot: false, postOrder: plan.postOrder })) && ok
          }
          if (!ok) return yield* failed
        }))
    })
).pipe(Command.withDescription("Find files on the server (-name, -path, -type, -maxdepth ... as find(1))."))
