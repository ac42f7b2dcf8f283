/**
 * `sysproxy sh [-c 'cmd; cmd' | script]`: a small shell over one
 * connection, one kernel process with its own cwd: `cd`, `pwd`, `echo`,
 * `exit`, `help`, and every tool as a builtin, with `;`, `&&`, `||` and
 * globs over kernel paths (shell/Shell.ts). Commands come
 * from -c, from a script file on the host, from stdin when it is piped,
 * or from a terminal with line editing, history and tab completion of
 * kernel paths (shell/Interactive.ts). Its exit status is the last
 * command's.
 */
import { Effect, FileSystem, Option, Stdio, Stream } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { withClient } from "../Connect.ts"
import { ExitStatus, failed } from "../ExitStatus.ts"
import { warn } from "../Output.ts"
import { interactive } from "../shell/Interactive.ts"
import { runText } from "../shell/Shell.ts"
import { describeLocal } from "../HostErrors.ts"

const TOOL = "sh"

export const sh = Command.make(
  TOOL,
  {
    command: Flag.String("command").pipe(
      Flag.withAlias("c"),
      Flag.withMetavar("COMMANDS"),
      Flag.withDescription("run these commands (separated by ;, && or ||, or newlines) and exit"),
      Flag.optional
    ),
    script: Argument.String("script").pipe(Argument.withDescription("a file of commands on the host"), Argument.optional)
  },
  ({ command, script }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const stdio = yield* Stdio.Stdio
        let status: number
        if (Option.isSome(command)) {
          status = (yield* runText(c, command.value)).status
        } else if (Option.isSome(script)) {
          const fs = yield* FileSystem.FileSystem
          const text = yield* fs.readFileString(script.value).pipe(
            Effect.catchTag("PlatformError", (e) => Effect.andThen(warn(TOOL, script.value, describeLocal(e)), failed))
          )
          status = (yield* runText(c, text)).status
        } else if (yield* stdio.stdinIsTerminal) {
          status = yield* interactive(c)
        } else {
          const chunks = yield* Stream.runCollect(stdio.stdin).pipe(Effect.orElseSucceed(() => []))
          status = (yield* runText(c, Buffer.concat(chunks).toString("utf8"))).status
        }
        if (status !== 0) return yield* new ExitStatus({ code: status })
      }))
).pipe(Command.withDescription("A shell over one connection: cd, pwd and every tool, from -c, a script, stdin or a terminal."))
