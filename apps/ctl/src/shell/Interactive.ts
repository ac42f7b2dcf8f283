/**
 * `sysproxy sh` on a terminal: node:readline's line editing and history
 * (kept in ~/.sysproxy_history between sessions, the last HISTORY_SIZE
 * lines), a prompt with the kernel cwd, and tab completion of tool names
 * for the first word and of kernel paths (a directory gets its `/`) for
 * the rest. Ctrl-C clears the line at the prompt and interrupts a
 * running command; Ctrl-D (end of input) or `exit` leaves.
 *
 * Two Tabs that arrive in one read (fast typing) reach readline as a
 * literal tab and then a Tab to complete: readline takes a tab inside a
 * chunk as pasted text. The completer drops such tabs from the line
 * first, so the second Tab completes what was typed.
 */
import { isDirectory, type SysproxyProcess } from "@sysproxy/client"
import { type Cause, Effect, Exit, Fiber, Queue } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Readline from "node:readline"
import { TOOL_NAMES } from "../Tools.ts"
import { BUILTINS, runText } from "./Shell.ts"

const HISTORY_SIZE = 500

const historyFile = () => Path.join(Os.homedir(), ".sysproxy_history")

const loadHistory = (): Array<string> => {
  try {
    // readline keeps the newest first
    return Fs.readFileSync(historyFile(), "utf8").split("\n").filter((l) => l.length > 0).reverse().slice(0, HISTORY_SIZE)
  } catch {
    return []
  }
}

const saveHistory = (history: ReadonlyArray<string>) => {
  try {
    Fs.writeFileSync(historyFile(), [...history].slice(0, HISTORY_SIZE).reverse().join("\n") + "\n", { mode: 0o600 })
  } catch {
    // a history that cannot be kept is no reason to fail the shell
  }
}

/** Completions for the last word of `line`: command names first, kernel paths after. */
export const completeWith = (c: SysproxyProcess) => (line: string): Effect.Effect<[Array<string>, string]> =>
  Effect.gen(function*() {
    const words = line.split(/\s+/)
    const word = words[words.length - 1] ?? ""
    const first = words.length === 1 || (words.length === 2 && words[0] === "")
    if (first) {
      const names = [...BUILTINS, ...TOOL_NAMES].filter((n) => n.startsWith(word)).sort()
      return [names.map((n) => `${n} `), word] as [Array<string>, string]
    }
    const slash = word.lastIndexOf("/")
    const dir = slash === -1 ? "." : slash === 0 ? "/" : word.slice(0, slash)
    const prefix = word.slice(slash + 1)
    const base = slash === -1 ? "" : word.slice(0, slash + 1)
    const entries = yield* c.readdir(dir).pipe(Effect.orElseSucceed(() => []))
    const matches: Array<string> = []
    for (const e of entries) {
      if (e.name === "." || e.name === ".." || !e.name.startsWith(prefix)) continue
      if (prefix === "" && e.name.startsWith(".")) continue
      const full = `${base}${e.name}`
      const st = yield* c.stat(full).pipe(Effect.option)
      matches.push(st._tag === "Some" && isDirectory(st.value) ? `${full}/` : full)
    }
    return [matches.sort(), word] as [Array<string>, string]
  })

/** What the completer touches of readline's line editor: its line, cursor and redraw (public in all but name). */
interface LineEditor {
  line: string
  cursor: number
  readonly _refreshLine?: () => void
}

/** Removes the literal tabs before the cursor (see above); the line as completion should see it. */
export const dropPastedTabs = (editor: LineEditor, line: string): string => {
  const before = editor.line.slice(0, editor.cursor)
  const tabs = before.length - before.replaceAll("\t", "").length
  if (tabs === 0) return line
  editor.line = before.replaceAll("\t", "") + editor.line.slice(editor.cursor)
  editor.cursor -= tabs
  editor._refreshLine?.()
  return line.replaceAll("\t", "")
}

/** The interactive loop; its result is the last command's status. */
export const interactive = (c: SysproxyProcess) =>
  Effect.scoped(Effect.gen(function*() {
    const complete = completeWith(c)
    let editor: LineEditor | undefined
    const rl = yield* Effect.acquireRelease(Effect.sync(() => Readline.createInterface({
      input: process.stdin,
      output: process.stdout,
      terminal: true,
      history: loadHistory(),
      historySize: HISTORY_SIZE,
      completer: (line: string, callback: (err: null, result: [Array<string>, string]) => void) =>
        void Effect.runPromise(complete(editor === undefined ? line : dropPastedTabs(editor, line))).then((result) =>
          callback(null, result)
        )
    })), (rl) =>
      Effect.sync(() => {
        saveHistory((rl as unknown as { readonly history: ReadonlyArray<string> }).history)
        rl.close()
      }))
    editor = rl as unknown as LineEditor
    let running: Fiber.Fiber<unknown, unknown> | undefined
    rl.on("SIGINT", () => {
      if (running !== undefined) {
        Effect.runFork(Fiber.interrupt(running))
        return
      }
      rl.write(null, { ctrl: true, name: "u" })
      process.stdout.write("^C\n")
      rl.prompt()
    })
    // every line typed (or pasted ahead) is kept until asked for; the end of input ends the queue
    const lines = yield* Queue.unbounded<string, Cause.Done>()
    rl.on("line", (l) => Queue.offerUnsafe(lines, l))
    rl.on("close", () => Queue.endUnsafe(lines))
    const ask = (prompt: string) =>
      Effect.gen(function*() {
        rl.setPrompt(prompt)
        rl.prompt()
        return yield* Queue.take(lines).pipe(Effect.map((l): string | undefined => l), Effect.catchTag("Done", () => Effect.succeed(undefined)))
      })
    let status = 0
    for (;;) {
        const cwd = yield* c.getcwd().pipe(Effect.orElseSucceed(() => "?"))
        const text = yield* ask(`sysproxy:${cwd}$ `)
        if (text === undefined) {
          process.stdout.write("\n")
          break
        }
        const fiber = yield* Effect.forkChild(runText(c, text, status))
        running = fiber
        const exit = yield* Fiber.await(fiber)
        running = undefined
        if (Exit.isSuccess(exit)) {
          status = exit.value.status
          if (exit.value.exit) break
        } else {
          // interrupted by Ctrl-C, or the connection gone (already said)
          status = 130
          if (c.connection.closedWith !== undefined) break
        }
    }
    return status
  }))
