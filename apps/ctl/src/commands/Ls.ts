/**
 * `sysproxy ls [-al] [path ...]` (rump.ls): files named first, then each
 * directory's entries (sorted by name, dot files only with -a), under a
 * `dir:` header when there are several operands. -l is the long format:
 * mode, links, owner, group, size, time, name (with `-> target` for a
 * symbolic link); owners are numbers, the server has no user database.
 */
import { type CallError, isDirectory, isSymbolicLink, type Stat, type SysproxyProcess } from "@sysproxy/client"
import { Clock, Effect, Option } from "effect"
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { switchFlag } from "../Flags.ts"
import { failed } from "../ExitStatus.ts"
import { lsTime } from "../format/Dates.ts"
import { modeString } from "../format/Mode.ts"
import { attempt } from "../Operands.ts"
import { line } from "../Output.ts"

const TOOL = "ls"

interface Entry {
  readonly name: string
  readonly path: string
  readonly stat: Stat
}

const join = (dir: string, name: string) => (dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`)

/** C-locale order: by UTF-16 code unit, which for ASCII names is byte order. */
const byName = (a: { readonly name: string }, b: { readonly name: string }) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0

/** The long-format lines for `entries`, columns as wide as their widest value. */
const longLines = (c: SysproxyProcess, entries: ReadonlyArray<Entry>, now: number) =>
  Effect.gen(function*() {
    const width = (f: (e: Entry) => string) => Math.max(0, ...entries.map((e) => f(e).length))
    const links = width((e) => String(e.stat.nlink))
    const owner = width((e) => String(e.stat.uid))
    const group = width((e) => String(e.stat.gid))
    const size = width((e) => String(e.stat.size))
    const lines: Array<string> = []
    for (const e of entries) {
      const target = isSymbolicLink(e.stat)
        ? ` -> ${yield* c.readlink(e.path).pipe(Effect.catchTag("SyscallError", () => Effect.succeed("?")))}`
        : ""
      lines.push(
        `${modeString(e.stat.mode)}  ${String(e.stat.nlink).padStart(links)} ${String(e.stat.uid).padEnd(owner)}  ` +
          `${String(e.stat.gid).padEnd(group)}  ${String(e.stat.size).padStart(size)} ${lsTime(e.stat.mtime, now)} ` +
          `${e.name}${target}`
      )
    }
    return lines
  })

const print = (c: SysproxyProcess, entries: ReadonlyArray<Entry>, long: boolean, now: number) =>
  long
    ? Effect.flatMap(longLines(c, entries, now), (ls) => Effect.forEach(ls, line, { discard: true }))
    : Effect.forEach(entries, (e) => line(e.name), { discard: true })

/**
 * A directory's entries, each with its lstat. An entry the kernel will
 * not stat (gone meanwhile) is left out; a lost connection ends the
 * listing with the failure, never as a short list.
 */
const contents = (c: SysproxyProcess, dir: string, all: boolean): Effect.Effect<Array<Entry>, CallError> =>
  Effect.gen(function*() {
    const names = (yield* c.readdir(dir)).map((d) => d.name).filter((n) => all || !n.startsWith("."))
    const entries: Array<Entry> = []
    for (const name of names) {
      const path = join(dir, name)
      const stat = yield* c.lstat(path).pipe(
        Effect.map(Option.some),
        Effect.catchTag("SyscallError", () => Effect.succeedNone)
      )
      if (stat._tag === "Some") entries.push({ name, path, stat: stat.value })
    }
    return entries.sort(byName)
  })

export const ls = Command.make(
  TOOL,
  {
    all: switchFlag("all", "a", "include names starting with ."),
    long: switchFlag("long", "l", "long format"),
    paths: Argument.String("path").pipe(Argument.variadic())
  },
  ({ all, long, paths }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const now = yield* Clock.currentTimeMillis
        const operands = paths.length === 0 ? ["."] : paths
        let ok = true
        const files: Array<Entry> = []
        const dirs: Array<Entry> = []
        for (const path of operands) {
          // the long format shows a link itself; otherwise a link to a directory is listed as one
          const stat = yield* (long ? c.lstat(path) : c.stat(path)).pipe(Effect.result)
          if (stat._tag === "Failure") {
            ok = (yield* attempt(TOOL, path, Effect.fail(stat.failure))) && ok
            continue
          }
          const entry = { name: path, path, stat: stat.success }
          if (isDirectory(stat.success)) dirs.push(entry)
          else files.push(entry)
        }
        files.sort(byName)
        dirs.sort(byName)
        yield* print(c, files, long, now)
        const headers = operands.length > 1
        for (const [i, dir] of dirs.entries()) {
          if (files.length > 0 || i > 0) yield* line("")
          if (headers) yield* line(`${dir.name}:`)
          const listed = yield* attempt(TOOL, dir.name, Effect.gen(function*() {
            const entries = yield* contents(c, dir.path, all)
            if (long) yield* line(`total ${entries.reduce((n, e) => n + e.stat.blocks, 0)}`)
            yield* print(c, entries, long, now)
          }))
          ok = listed && ok
        }
        if (!ok) return yield* failed
      }))
).pipe(Command.withDescription("List directory contents on the server (rump.ls)."))
