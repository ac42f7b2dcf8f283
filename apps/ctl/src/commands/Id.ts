/**
 * `sysproxy id [-u|-g|-G] [-nr]` (id(1)): the tool's own credentials in
 * the kernel (as --uid/--gid made them): `uid=N gid=N groups=N,...`, with
 * `euid=`/`egid=` when they differ. Numbers only: the server has no user
 * database. -u, -g, -G print one of them (-r the real rather than the
 * effective id), only one of them at a time (id's usage otherwise, exit
 * 1); -n is accepted and, with no names to print, changes nothing.
 */

/** id(1)'s usage, less the user operand and -p (no user database here). */
const USAGE = "usage: id\n       id -G [-n]\n       id -g [-nr]\n       id -u [-nr]"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { groups, ids } from "../Calls.ts"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { switchFlag } from "../Flags.ts"
import { errLine, line } from "../Output.ts"

const TOOL = "id"

export const id = Command.make(
  TOOL,
  {
    user: switchFlag("user", "u", "the user id only"),
    group: switchFlag("group", "g", "the group id only"),
    all: switchFlag("groups", "G", "the group ids only"),
    real: switchFlag("real", "r", "the real id rather than the effective one (with -u or -g)"),
    names: switchFlag("name", "n", "names rather than numbers (there are none here: numbers)")
  },
  ({ all, group, real, user }) =>
    Effect.gen(function*() {
      if ([all, group, user].filter(Boolean).length > 1) {
        yield* errLine(USAGE)
        return yield* failed
      }
      return yield* withClient(TOOL, (c) =>
        Effect.gen(function*() {
          const mine = yield* ids(c)
          // a kernel without getgroups (ENOSYS) has no supplementary groups to show
          const list = yield* groups(c).pipe(
            Effect.catchTag("SyscallError", (e) => (e.code === "ENOSYS" ? Effect.succeed([]) : Effect.fail(e)))
          )
          if (user) return yield* line(String(real ? mine.uid : mine.euid))
          if (group) return yield* line(String(real ? mine.gid : mine.egid))
          const grouplist = [mine.egid, ...list.filter((g) => g !== mine.egid)]
          if (all) return yield* line(grouplist.join(" "))
          const parts = [`uid=${mine.uid}`, `gid=${mine.gid}`]
          if (mine.euid !== mine.uid) parts.push(`euid=${mine.euid}`)
          if (mine.egid !== mine.gid) parts.push(`egid=${mine.egid}`)
          parts.push(`groups=${grouplist.join(",")}`)
          yield* line(parts.join(" "))
        }))
    })
).pipe(Command.withDescription("Print the user and group ids the tools run as on the server."))
