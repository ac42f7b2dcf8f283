/**
 * `sysproxy find path ... [-name GLOB] [-type f|d|l]` (find(1), the
 * primaries people use): every path under each operand, depth first in
 * name order, that matches all the primaries given, one per line. `-name`
 * and `-type` are find's own spelling; `--name`/`--type` work too.
 */
import { isDirectory, isRegularFile, isSymbolicLink, type Stat } from "@sysproxy/client"
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import * as Path from "node:path"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { globToRegExp } from "../format/Glob.ts"
import { line } from "../Output.ts"
import { walk } from "../Walk.ts"

const TOOL = "find"

const TYPES: Readonly<Record<string, (s: Stat) => boolean>> = {
  f: isRegularFile,
  d: isDirectory,
  l: isSymbolicLink
}

/** find's single-dash primaries as the long flags effect/cli parses (the rest of argv as it is). */
export const findPrimaries = (args: ReadonlyArray<string>): Array<string> =>
  args.map((a) => (a === "-name" || a === "-type" ? `-${a}` : a))

export const find = Command.make(
  TOOL,
  {
    name: Flag.String("name").pipe(Flag.withMetavar("GLOB"), Flag.withDescription("names matching the pattern"), Flag.optional),
    type: Flag.Literals("type", ["f", "d", "l"]).pipe(
      Flag.withDescription("f a regular file, d a directory, l a symbolic link"),
      Flag.optional
    ),
    paths: Argument.String("path").pipe(Argument.variadic({ min: 1 }))
  },
  ({ name, paths, type }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const pattern = Option.map(name, globToRegExp)
        const wanted = Option.map(type, (t) => TYPES[t]!)
        let ok = true
        for (const root of paths) {
          ok = (yield* walk(c, TOOL, root, (e) => {
            const base = e.depth === 0 ? Path.posix.basename(e.path) || e.path : Path.posix.basename(e.path)
            const matches = Option.match(pattern, { onNone: () => true, onSome: (re) => re.test(base) }) &&
              Option.match(wanted, { onNone: () => true, onSome: (is) => is(e.stat) })
            return matches ? Effect.as(line(e.path), true) : Effect.succeed(true)
          }, { followRoot: false })) && ok
        }
        if (!ok) return yield* failed
      }))
).pipe(Command.withDescription("Find files on the server by name (-name) and type (-type)."))
