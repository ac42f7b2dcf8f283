/**
 * `sysproxy rm [-dfr] path ...` (rump.rm): unlinks files; directories only
 * with -r (contents first) or, when empty, with -d (rmdir). -f is quiet
 * about missing files (and then the exit status is 0 for them), and only
 * about those. `.` and `..` are refused as rm refuses them.
 */
import { type CallError, isDirectory, type SysproxyProcess } from "@sysproxy/client"
import { Effect, Result } from "effect"
import { Argument, Command } from "effect/cli"
import * as Path from "node:path"
import { withClient } from "../Connect.ts"
import { switchFlag } from "../Flags.ts"
import { attempt, eachOperand } from "../Operands.ts"
import { errLine, warn } from "../Output.ts"

const TOOL = "rm"

/** Removes `path` and, when it is a directory, everything in it; the first refusal ends it. */
export const removeTree = (c: SysproxyProcess, path: string): Effect.Effect<void, CallError> =>
  Effect.gen(function*() {
    const st = yield* c.lstat(path)
    if (!isDirectory(st)) return yield* c.unlink(path)
    const entries = (yield* c.readdir(path)).filter((e) => e.name !== "." && e.name !== "..")
    for (const e of entries) yield* removeTree(c, Path.posix.join(path, e.name))
    yield* c.rmdir(path)
  })

export const rm = Command.make(
  TOOL,
  {
    force: switchFlag("force", "f", "no complaint (and no failure) for missing files"),
    recursive: switchFlag("recursive", "r", "remove directories and their contents"),
    directories: switchFlag("directories", "d", "remove empty directories too (rmdir)"),
    paths: Argument.String("path").pipe(Argument.variadic({ min: 1 }))
  },
  ({ directories, force, paths, recursive }) =>
    withClient(TOOL, (c) =>
      eachOperand(paths, (path) => {
        const last = Path.posix.basename(path)
        if (last === "." || last === "..") {
          return Effect.as(errLine(`${TOOL}: "." and ".." may not be removed`), false)
        }
        return Effect.gen(function*() {
          const st = yield* c.lstat(path).pipe(Effect.result)
          if (Result.isFailure(st)) {
            // -f forgives only a missing file (ENOENT), as NetBSD's rm -f; ENOTDIR and the rest are reported
            if (force && st.failure._tag === "SyscallError" && st.failure.code === "ENOENT") return true
            return yield* attempt(TOOL, path, Effect.fail(st.failure))
          }
          if (recursive) return yield* attempt(TOOL, path, removeTree(c, path))
          if (isDirectory(st.success)) {
            if (directories) return yield* attempt(TOOL, path, c.rmdir(path))
            yield* warn(TOOL, path, "is a directory")
            return false
          }
          return yield* attempt(TOOL, path, c.unlink(path))
        })
      }))
).pipe(Command.withDescription("Remove files (and with -r directories) on the server (rump.rm)."))
