/**
 * `sysproxy get REMOTE LOCAL`: copies a file from the server to the host
 * (or stdout, `-`), into LOCAL/name when LOCAL is a directory.
 */
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"
import * as Path from "node:path"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { warn } from "../Output.ts"
import { describeLocal, isLocalDirectory, writeLocal } from "./LocalFiles.ts"

const TOOL = "get"

export const get = Command.make(
  TOOL,
  {
    remote: Argument.String("REMOTE").pipe(Argument.withDescription("a file on the server")),
    local: Argument.String("LOCAL").pipe(Argument.withDescription("where on the host, or - for stdout"))
  },
  ({ local, remote }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const data = yield* c.readFile(remote).pipe(
          Effect.catchTag("SyscallError", (e) => Effect.andThen(warn(TOOL, remote, e.description), failed))
        )
        const target = (yield* isLocalDirectory(local)) ? Path.join(local, Path.posix.basename(remote)) : local
        yield* writeLocal(target, data).pipe(
          Effect.catchTag("PlatformError", (e) => Effect.andThen(warn(TOOL, target, describeLocal(e)), failed))
        )
      }))
).pipe(Command.withDescription("Copy a file from the server to the host."))
