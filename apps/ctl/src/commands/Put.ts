/**
 * `sysproxy put LOCAL REMOTE`: copies a host file (or stdin, `-`) to the
 * server, as cp(1) would: into REMOTE/name when REMOTE is a directory,
 * with the local file's permission bits (less the umask).
 */
import { isDirectory } from "@sysproxy/client"
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"
import * as Path from "node:path"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { attempt } from "../Operands.ts"
import { warn } from "../Output.ts"
import { describeLocal, localMode, readLocal } from "./LocalFiles.ts"

const TOOL = "put"

export const put = Command.make(
  TOOL,
  {
    local: Argument.String("LOCAL").pipe(Argument.withDescription("a host file, or - for stdin")),
    remote: Argument.String("REMOTE").pipe(Argument.withDescription("where on the server"))
  },
  ({ local, remote }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const source = yield* Effect.all([readLocal(local), localMode(local)]).pipe(
          Effect.catchTag("PlatformError", (e) => Effect.andThen(warn(TOOL, local, describeLocal(e)), failed))
        )
        const [data, mode] = source
        const intoDir = yield* c.stat(remote).pipe(Effect.map(isDirectory), Effect.orElseSucceed(() => false))
        const target = intoDir && local !== "-" ? Path.posix.join(remote, Path.basename(local)) : remote
        if (!(yield* attempt(TOOL, target, c.writeFile(target, data, mode)))) return yield* failed
      }))
).pipe(Command.withDescription("Copy a host file to the server."))
