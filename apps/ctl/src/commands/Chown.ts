/**
 * `sysproxy chown [-Rh] owner[:group] file ...` (chown(8)): owner and
 * group as numbers (the server has no user database, so a name is
 * refused: `chown: bob: illegal user name`); `:group` alone changes the
 * group only. -R changes everything under a directory (links themselves,
 * not followed); -h changes a link itself.
 */
import { isSymbolicLink, type SysproxyProcess } from "@sysproxy/client"
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"
import { chown as chownCall } from "../Calls.ts"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { switchFlag } from "../Flags.ts"
import { attempt, eachOperand } from "../Operands.ts"
import { errLine } from "../Output.ts"
import { walk } from "../Walk.ts"

const TOOL = "chown"

/** "uid", "uid:gid", ":gid" (or with "."): -1 for what stays; an error line for a name. */
export const parseOwner = (spec: string): { readonly uid: number; readonly gid: number } | string => {
  const sep = spec.search(/[:.]/)
  const user = sep === -1 ? spec : spec.slice(0, sep)
  const group = sep === -1 ? "" : spec.slice(sep + 1)
  const id = (s: string) => (/^\d+$/.test(s) ? Number(s) : undefined)
  const uid = user === "" ? -1 : id(user)
  if (uid === undefined) return `${user}: illegal user name`
  const gid = group === "" ? -1 : id(group)
  if (gid === undefined) return `${group}: illegal group name`
  return { uid, gid }
}

const change = (c: SysproxyProcess, path: string, uid: number, gid: number, follow: boolean) =>
  attempt(TOOL, path, chownCall(c, path, uid, gid, follow))

export const chown = Command.make(
  TOOL,
  {
    recursive: switchFlag("recursive", "R", "change files under directories too"),
    noFollow: switchFlag("no-dereference", "h", "change a symbolic link itself, not what it points to"),
    owner: Argument.String("owner[:group]"),
    files: Argument.String("file").pipe(Argument.variadic({ min: 1 }))
  },
  ({ files, noFollow, owner, recursive }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const ids = parseOwner(owner)
        if (typeof ids === "string") {
          yield* errLine(`${TOOL}: ${ids}`)
          return yield* failed
        }
        return yield* eachOperand(files, (file) =>
          recursive
            ? walk(c, TOOL, file, (e) => change(c, e.path, ids.uid, ids.gid, !isSymbolicLink(e.stat)))
            : change(c, file, ids.uid, ids.gid, !noFollow))
      }))
).pipe(Command.withDescription("Change file owner and group on the server (numeric ids)."))
