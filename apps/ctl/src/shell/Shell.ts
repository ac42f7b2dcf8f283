/**
 * What `sysproxy sh` does with a script: its lines read as sh reads them
 * (shell/Words.ts), and-or lists run with `&&` and `||` deciding as sh's
 * do, each command's words glob-expanded over kernel paths first
 * (shell/Glob.ts). `cd`, `pwd`, `echo`, `exit`, `help` are builtins; a
 * tool (Tools.ts) runs as `sysproxy <tool>` would, but in the shell's one
 * process (Session.ts), so a cd holds for what follows; an unknown name is
 * `sh: name: not found` (127). Each gives the exit status $? would; the
 * shell's own status is the last one's, 2 after a syntax error.
 */
import type { SysproxyProcess } from "@sysproxy/client"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { commandLine } from "../Argv.ts"
import { exitCode } from "../ExitStatus.ts"
import { errLine, line, out } from "../Output.ts"
import { root } from "../Root.ts"
import { ShellProcess } from "../Session.ts"
import { TOOL_NAMES, tools } from "../Tools.ts"
import { withUsage } from "../Usage.ts"
import { VERSION } from "../Version.ts"
import { expandWord } from "./Glob.ts"
import { type AndOr, parseScript, type Word } from "./Words.ts"

export const BUILTINS = ["cd", "echo", "exit", "help", "pwd"] as const

/** The tools under a root of their own, parsed as `sysproxy` parses them. */
const inner = root.pipe(Command.withSubcommands(tools))

export interface Outcome {
  readonly status: number
  /** `exit` was run: read no more. */
  readonly exit: boolean
}

const ESCAPES: Readonly<Record<string, string>> = { b: "\b", f: "\f", n: "\n", r: "\r", t: "\t", v: "\v", "\\": "\\" }

/**
 * sh's echo: the words with spaces between and a newline after; `-n`
 * first leaves the newline out, `-e` first makes \b \c \f \n \r \t \v \\
 * \0nnn mean what they do (\c: nothing more at all).
 */
export const echoText = (args: ReadonlyArray<string>): string => {
  const noNewline = args[0] === "-n"
  const escapes = args[0] === "-e"
  const words = noNewline || escapes ? args.slice(1) : args
  let text = ""
  for (const [i, word] of words.entries()) {
    if (i > 0) text += " "
    if (!escapes) {
      text += word
      continue
    }
    for (let j = 0; j < word.length; j++) {
      const ch = word[j]!
      if (ch !== "\\" || j + 1 >= word.length) {
        text += ch
        continue
      }
      const next = word[++j]!
      if (next === "c") return text
      if (next === "0") {
        const digits = /^[0-7]{0,3}/.exec(word.slice(j + 1))![0]
        text += String.fromCharCode(digits === "" ? 0 : parseInt(digits, 8) & 0xff)
        j += digits.length
      } else if (ESCAPES[next] !== undefined) text += ESCAPES[next]
      else text += `\\${next}`
    }
  }
  return noNewline ? text : `${text}\n`
}

const builtin = (c: SysproxyProcess, words: ReadonlyArray<string>, last: number) =>
  Effect.gen(function*() {
    const [name, ...args] = words
    switch (name) {
      case "cd": {
        const dir = args[0] ?? "/"
        // sh's words, and its status for a builtin's error
        return yield* c.chdir(dir).pipe(
          Effect.as(0),
          Effect.catchTag("SyscallError", () => Effect.as(errLine(`cd: can't cd to ${dir}`), 2))
        )
      }
      case "pwd":
        return yield* Effect.flatMap(c.getcwd(), (cwd) => Effect.as(line(cwd), 0))
      case "echo":
        yield* out(new TextEncoder().encode(echoText(args)))
        return 0
      case "exit": {
        if (args[0] === undefined) return last
        if (/^\d+$/.test(args[0])) return Number(args[0]) & 0xff
        yield* errLine(`sh: exit: Illegal number: ${args[0]}`)
        return 2
      }
      default:
        yield* line(`builtins: ${BUILTINS.join(" ")}`)
        yield* line(`tools: ${[...TOOL_NAMES].join(" ")} (each with --help)`)
        yield* line(`lists: a && b, a || b, a; b (no pipes, redirections or background jobs)`)
        return 0
    }
  })

/** Runs one command's words (already expanded); `last` is $? before it. */
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

/** A command's words expanded (globs against the kernel's paths), then run. */
const runCommand = (c: SysproxyProcess, words: ReadonlyArray<Word>, last: number) =>
  Effect.gen(function*() {
    const expanded: Array<string> = []
    for (const w of words) expanded.push(...(yield* expandWord(c, w)))
    return yield* runWords(c, expanded, last)
  })

/** An and-or list: each command after && runs if the one before succeeded, after || if it failed. */
const runAndOr = (c: SysproxyProcess, list: AndOr, last: number) =>
  Effect.gen(function*() {
    let outcome: Outcome = yield* runCommand(c, list.first, last)
    for (const { command, op } of list.rest) {
      if (outcome.exit) break
      if ((op === "&&") === (outcome.status === 0)) outcome = yield* runCommand(c, command, outcome.status)
    }
    return outcome
  })

/** Runs a script (a -c string, a script file, piped input, a line typed); the last status. */
export const runText = (c: SysproxyProcess, text: string, last = 0) =>
  Effect.gen(function*() {
    const script = parseScript(text)
    let outcome: Outcome = { status: last, exit: false }
    for (const list of script.lists) {
      outcome = yield* runAndOr(c, list, outcome.status)
      if (outcome.exit) return outcome
    }
    if (script.error !== undefined) {
      yield* errLine(`sh: ${script.error}`)
      return { status: 2, exit: false } satisfies Outcome
    }
    return outcome
  })
