/**
 * What `sysproxy sh` does with a command: `cd`, `pwd`, `exit`, `help`
 * itself; a tool (Tools.ts) run as `sysproxy <tool>` would, but in the
 * shell's one process (Session.ts), so a cd holds for what follows; an
 * unknown name is `sh: name: not found` (127). Each gives the exit status
 * $? would; the shell's own status is the last one's.
 */
import type { SysproxyProcess } from "@sysproxy/client"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { commandLine } from "../Argv.ts"
import { exitCode } from "../ExitStatus.ts"
import { errLine, line } from "../Output.ts"
import { root } from "../Root.ts"
import { ShellProcess } from "../Session.ts"
import { TOOL_NAMES, tools } from "../Tools.ts"
import { withUsage } from "../Usage.ts"
import { VERSION } from "../Version.ts"
import { parseLine } from "./Words.ts"

export const BUILTINS = ["cd", "pwd", "exit", "help"] as const

/** The tools under a root of their own, parsed as `sysproxy` parses them. */
const inner = root.pipe(Command.withSubcommands(tools))

export interface Outcome {
  readonly status: number
  /** `exit` was run: read no more. */
  readonly exit: boolean
}

const builtin = (c: SysproxyProcess, words: ReadonlyArray<string>, last: number) =>
  Effect.gen(function*() {
    const [name, ...args] = words
    switch (name) {
      case "cd": {
        const dir = args[0] ?? "/"
        return yield* c.chdir(dir).pipe(
          Effect.as(0),
          Effect.catchTag("SyscallError", (e) => Effect.as(errLine(`cd: ${dir}: ${e.description}`), 1))
        )
      }
      case "pwd":
        return yield* Effect.flatMap(c.getcwd(), (cwd) => Effect.as(line(cwd), 0))
      case "exit": {
        if (args[0] === undefined) return last
        if (/^\d+$/.test(args[0])) return Number(args[0]) & 0xff
        yield* errLine(`sh: exit: Illegal number: ${args[0]}`)
        return 2
      }
      default:
        yield* line(`builtins: ${BUILTINS.join(" ")}`)
        yield* line(`tools: ${[...TOOL_NAMES].join(" ")} (each with --help)`)
        return 0
    }
  })

/** Runs one command's words; `last` is $? before it. */
export const runWords = (c: SysproxyProcess, words: ReadonlyArray<string>, last: number) =>
  Effect.gen(function*() {
    const name = words[0]!
    if ((BUILTINS as ReadonlyArray<string>).includes(name)) {
      const status = yield* builtin(c, words, last)
      return { status, exit: name === "exit" } satisfies Outcome
    }
    if (!TOOL_NAMES.has(name)) {
      yield* errLine(`sh: ${name}: not found`)
      return { status: 127, exit: false } satisfies Outcome
    }
    const exit = yield* Command.runWith(inner, { version: VERSION })(commandLine(words)).pipe(
      withUsage,
      Effect.provideService(ShellProcess, c),
      Effect.exit
    )
    return { status: exitCode(exit), exit: false } satisfies Outcome
  })

/** Runs every command of `text` in order (a -c string, a script, piped input); the last status. */
export const runText = (c: SysproxyProcess, text: string, last = 0) =>
  Effect.gen(function*() {
    const parsed = parseLine(text)
    if ("error" in parsed) {
      yield* errLine(`sh: ${parsed.error}`)
      return { status: 2, exit: false } satisfies Outcome
    }
    let outcome: Outcome = { status: last, exit: false }
    for (const words of parsed) {
      outcome = yield* runWords(c, words, outcome.status)
      if (outcome.exit) break
    }
    return outcome
  })
