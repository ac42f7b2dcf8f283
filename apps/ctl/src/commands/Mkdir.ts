/** `sysproxy mkdir [-p] dir ...` (rump.mkdir); -p makes missing parents and accepts existing directories. */
import { isDirectory, syscallError, type SysproxyProcess } from "@sysproxy/client"
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { switchFlag } from "../Flags.ts"
import { attempt, eachOperand } from "../Operands.ts"

const TOOL = "mkdir"

/** Every prefix of `path` that names a directory, shortest first ("/a/b" gives "/a", "/a/b"). */
const prefixes = (path: string): Array<string> => {
  const parts = path.split("/")
  const out: Array<string> = []
  for (let i = 1; i <= parts.length; i++) {
    const prefix = parts.slice(0, i).join("/")
    if (prefix !== "" && !prefix.endsWith("/")) out.push(prefix)
  }
  return out
}

/**
 * mkdir -p: each prefix made unless it is a directory already. Something
 * else in the way is, as mkdir(1) says it, ENOTDIR for a parent and
 * EEXIST ("File exists") for the directory asked for.
 */
const mkdirParents = (c: SysproxyProcess, path: string, mode: number) => {
  const dirs = prefixes(path)
  return Effect.forEach(dirs, (dir, i) =>
    c.mkdir(dir, mode).pipe(
      Effect.catchTag("SyscallError", (e) =>
        e.code === "EEXIST"
          ? c.stat(dir).pipe(
            Effect.flatMap((st) =>
              isDirectory(st) ? Effect.void : Effect.fail(i === dirs.length - 1 ? e : syscallError("mkdir", Errno.ENOTDIR))
            )
          )
          : Effect.fail(e))
    ), { discard: true })
}

export const mkdir = Command.make(
  TOOL,
  {
    parents: switchFlag("parents", "p", "make missing parent directories; no error if it exists"),
    dirs: Argument.String("dir").pipe(Argument.variadic({ min: 1 }))
  },
  ({ dirs, parents }) =>
    withClient(TOOL, (c) =>
      eachOperand(dirs, (dir) => attempt(TOOL, dir, parents ? mkdirParents(c, dir, 0o777) : c.mkdir(dir, 0o777))))
).pipe(Command.withDescription("Make directories on the server (rump.mkdir)."))
