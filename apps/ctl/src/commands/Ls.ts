/**
 * `sysproxy ls [-1FRSadhlrt] [path ...]` (rump.ls, ls(1)): files named
 * first, then each directory's entries (dot files only with -a), under a
 * `dir:` header when there are several operands or -R. Sorted by name,
 * by modification time (-t, newest first) or by size (-S, largest first),
 * -r reversing it. -l is the long format: mode, links, owner, group, size
 * (-h: 12K; `major, minor` for a device), time, name (with `-> target`
 * for a symbolic link), after `total` (blocks, or with -h the bytes);
 * owners are numbers, the server has no user database. -F marks a
 * directory `/`, an executable `*`, a link `@`, a socket `=`, a fifo `|`.
 * -d lists a directory itself, -R every directory below too. A link named
 * on the command line is followed (unless -l, -d or -F), and listed as
 * itself when it leads nowhere, as fts's FTS_COMFOLLOW does. On a terminal
 * names go in columns across its width (down each column first); -1 or a
 * pipe gives one per line.
 */
import { type CallError, isDirectory, isSymbolicLink, type Stat, type SysproxyProcess } from "@sysproxy/client"
import { Clock, Effect, Option, type Stdio } from "effect"
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { switchFlag } from "../Flags.ts"
import { lsTime } from "../format/Dates.ts"
import { deviceMajor, deviceMinor, isDevice, modeString, typeMark } from "../format/Mode.ts"
import { humanSize } from "../format/Sizes.ts"
import { attempt } from "../Operands.ts"
import { line } from "../Output.ts"
import { Terminal } from "../Terminal.ts"
import { joinPath } from "../Walk.ts"

const TOOL = "ls"

interface Entry {
  readonly name: string
  readonly path: string
  readonly stat: Stat
}

interface Options {
  readonly all: boolean
  readonly long: boolean
  readonly human: boolean
  /** -F: a character after each name saying what it is. */
  readonly classify: boolean
  readonly order: "name" | "time" | "size"
  /** -r: the order turned round. */
  readonly reverse: boolean
  /** Terminal columns for the multi-column format; undefined for one name per line. */
  readonly columns: number | undefined
  readonly now: number
}

/** C-locale order: by UTF-16 code unit, which for ASCII names is byte order. */
const byName = (a: { readonly name: string }, b: { readonly name: string }) =>
  a.name < b.name ? -1 : a.name > b.name ? 1 : 0

const nanos = (s: Stat) => s.mtime.sec * 1_000_000_000n + BigInt(s.mtime.nsec)

const compareIn = (order: Options["order"]) => (a: Entry, b: Entry): number => {
  if (order === "time") {
    const d = nanos(b.stat) - nanos(a.stat)
    if (d !== 0n) return d > 0n ? 1 : -1
  }
  if (order === "size" && a.stat.size !== b.stat.size) return b.stat.size - a.stat.size
  return byName(a, b)
}

export const compareEntries = (order: Options["order"], reverse = false) => {
  const compare = compareIn(order)
  return reverse ? (a: Entry, b: Entry) => compare(b, a) : compare
}

/** The name as listed: with its -F mark when asked. */
const shownName = (e: Entry, options: Options) => (options.classify ? `${e.name}${typeMark(e.stat.mode)}` : e.name)

/**
 * The long-format lines for `entries`, columns as wide as their widest
 * value; a device's size column is `major, minor`, the two numbers each
 * as wide as the widest and the column as wide as both (as NetBSD's ls
 * sizes s_major, s_minor and s_size).
 */
const longLines = (c: SysproxyProcess, entries: ReadonlyArray<Entry>, options: Options) =>
  Effect.gen(function*() {
    const size = (e: Entry) => (options.human ? humanSize(e.stat.size) : String(e.stat.size))
    const width = (of: ReadonlyArray<Entry>, f: (e: Entry) => string) => Math.max(0, ...of.map((e) => f(e).length))
    const links = width(entries, (e) => String(e.stat.nlink))
    const owner = width(entries, (e) => String(e.stat.uid))
    const group = width(entries, (e) => String(e.stat.gid))
    const devices = entries.filter((e) => isDevice(e.stat.mode))
    let sizes = width(entries.filter((e) => !isDevice(e.stat.mode)), size)
    let majors = width(devices, (e) => String(deviceMajor(e.stat.rdev)))
    const minors = width(devices, (e) => String(deviceMinor(e.stat.rdev)))
    if (devices.length > 0) {
      if (majors + minors + 2 > sizes) sizes = majors + minors + 2
      else majors = sizes - minors - 2
    }
    const sizeCell = (e: Entry) =>
      isDevice(e.stat.mode)
        ? `${String(deviceMajor(e.stat.rdev)).padStart(majors)}, ${String(deviceMinor(e.stat.rdev)).padStart(minors)}`
        : size(e).padStart(sizes)
    const lines: Array<string> = []
    for (const e of entries) {
      const target = isSymbolicLink(e.stat)
        ? ` -> ${yield* c.readlink(e.path).pipe(Effect.catchTag("SyscallError", () => Effect.succeed("?")))}`
        : ""
      lines.push(
        `${modeString(e.stat.mode)}  ${String(e.stat.nlink).padStart(links)} ${String(e.stat.uid).padEnd(owner)}  ` +
          `${String(e.stat.gid).padEnd(group)}  ${sizeCell(e)} ${lsTime(e.stat.mtime, options.now)} ` +
          `${shownName(e, options)}${target}`
      )
    }
    return lines
  })

/** Names in columns `width` wide, filled down each column first, as ls -C. */
export const columnLines = (names: ReadonlyArray<string>, width: number): Array<string> => {
  if (names.length === 0) return []
  const colWidth = Math.max(...names.map((n) => n.length)) + 2
  const cols = Math.max(1, Math.floor((width + 2) / colWidth))
  const rows = Math.ceil(names.length / cols)
  const out: Array<string> = []
  for (let r = 0; r < rows; r++) {
    let text = ""
    for (let col = 0; col < cols; col++) {
      const name = names[col * rows + r]
      if (name !== undefined) text += name.padEnd(colWidth)
    }
    out.push(text.trimEnd())
  }
  return out
}

const print = (c: SysproxyProcess, entries: ReadonlyArray<Entry>, options: Options) =>
  Effect.gen(function*() {
    const names = entries.map((e) => shownName(e, options))
    const lines = options.long
      ? yield* longLines(c, entries, options)
      : options.columns === undefined
      ? names
      : columnLines(names, options.columns)
    for (const l of lines) yield* line(l)
  })

/**
 * A directory's entries, each with its lstat. An entry the kernel will
 * not stat (gone meanwhile) is left out; a lost connection ends the
 * listing with the failure, never as a short list.
 */
const contents = (c: SysproxyProcess, dir: string, options: Options): Effect.Effect<Array<Entry>, CallError> =>
  Effect.gen(function*() {
    const names = (yield* c.readdir(dir)).map((d) => d.name).filter((n) => options.all || !n.startsWith("."))
    const entries: Array<Entry> = []
    for (const name of names) {
      const path = joinPath(dir, name)
      const stat = yield* c.lstat(path).pipe(
        Effect.map(Option.some),
        Effect.catchTag("SyscallError", () => Effect.succeedNone)
      )
      if (stat._tag === "Some") entries.push({ name, path, stat: stat.value })
    }
    return entries.sort(compareEntries(options.order, options.reverse))
  })

/** printtotal(): the blocks in 512-byte units, or with -h the bytes (the sizes' sum), humanized. */
const totalOf = (entries: ReadonlyArray<Entry>, options: Options) =>
  options.human
    ? humanSize(entries.reduce((n, e) => n + e.stat.size, 0))
    : String(entries.reduce((n, e) => n + e.stat.blocks, 0))

/** The stat of an operand: the link itself (lstat), or what it points to, else the link when it leads nowhere. */
const operandStat = (c: SysproxyProcess, path: string, follow: boolean) =>
  follow
    ? c.stat(path).pipe(Effect.catchTag("SyscallError", (e) => (e.code === "ENOENT" ? c.lstat(path) : Effect.fail(e))))
    : c.lstat(path)

/** Lists one directory (and with -R those below it); false when any could not be read. */
const listDirectory = (
  c: SysproxyProcess,
  dir: Entry,
  options: Options,
  recursive: boolean,
  header: boolean,
  first: boolean
): Effect.Effect<boolean, CallError, Stdio.Stdio> =>
  Effect.gen(function*() {
    if (!first) yield* line("")
    if (header) yield* line(`${dir.path}:`)
    let subdirs: Array<Entry> = []
    let ok = yield* attempt(TOOL, dir.path, Effect.gen(function*() {
      const entries = yield* contents(c, dir.path, options)
      if (options.long) yield* line(`total ${totalOf(entries, options)}`)
      yield* print(c, entries, options)
      subdirs = entries.filter((e) => isDirectory(e.stat) && e.name !== "." && e.name !== "..")
    }))
    if (!recursive) return ok
    for (const sub of subdirs) ok = (yield* listDirectory(c, sub, options, true, true, false)) && ok
    return ok
  })

export const ls = Command.make(
  TOOL,
  {
    all: switchFlag("all", "a", "include names starting with ."),
    long: switchFlag("long", "l", "long format"),
    recursive: switchFlag("recursive", "R", "list directories below too"),
    directory: switchFlag("directory", "d", "list a directory itself, not its entries"),
    human: switchFlag("human-readable", "h", "sizes with a unit (K, M, G) in the long format"),
    time: switchFlag("time", "t", "sort by modification time, newest first"),
    size: switchFlag("size-sort", "S", "sort by size, largest first"),
    reverse: switchFlag("reverse", "r", "the order turned round"),
    classify: switchFlag("classify", "F", "mark directories /, executables *, links @, sockets =, fifos |"),
    single: switchFlag("one-per-line", "1", "one name per line, even on a terminal"),
    paths: Argument.String("path").pipe(Argument.variadic())
  },
  ({ all, classify, directory, human, long, paths, recursive, reverse, single, size, time }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const terminal = yield* Terminal
        const options: Options = {
          all,
          long,
          human,
          classify,
          order: size ? "size" : time ? "time" : "name",
          reverse,
          columns: single ? undefined : terminal.stdoutColumns,
          now: yield* Clock.currentTimeMillis
        }
        const operands = paths.length === 0 ? ["."] : paths
        let ok = true
        const files: Array<Entry> = []
        const dirs: Array<Entry> = []
        for (const path of operands) {
          // -l, -d and -F show a link itself; otherwise a link to a directory is listed as one
          const stat = yield* operandStat(c, path, !(long || directory || classify)).pipe(Effect.result)
          if (stat._tag === "Failure") {
            ok = (yield* attempt(TOOL, path, Effect.fail(stat.failure))) && ok
            continue
          }
          const entry = { name: path, path, stat: stat.success }
          if (isDirectory(stat.success) && !directory) dirs.push(entry)
          else files.push(entry)
        }
        files.sort(compareEntries(options.order, reverse))
        dirs.sort(compareEntries(options.order, reverse))
        yield* print(c, files, options)
        const headers = operands.length > 1
        for (const [i, dir] of dirs.entries()) {
          ok = (yield* listDirectory(c, dir, options, recursive, headers, files.length === 0 && i === 0)) && ok
        }
        if (!ok) return yield* failed
      }))
).pipe(Command.withDescription("List directory contents on the server (rump.ls)."))
