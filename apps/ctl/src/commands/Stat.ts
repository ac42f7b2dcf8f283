/**
 * `sysproxy stat [-FLlnqrsx] [-f format] [-t timefmt] file ...` (stat(1),
 * rump.stat): each file's status in a format (format/StatFormat.ts): by
 * default stat's line (dev ino mode nlink uid gid rdev size "atime"
 * "mtime" "ctime" "birthtime" blksize blocks flags name), -f one of the
 * user's, -l as ls -l shows it (-F with its type mark), -r raw numbers,
 * -s shell assignments, -x the verbose form. The file is lstat'ed, or
 * stat'ed with -L (a dangling link lstat'ed then). -t sets the time
 * format (strftime; `%b %e %T %Y`), -n leaves out the newline, -q the
 * complaints about files. Owners are numbers.
 */
import { isSymbolicLink, type SysproxyProcess } from "@sysproxy/client"
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { switchFlag } from "../Flags.ts"
import { BadFormat, FORMATS, formatStat, TIME_FORMAT } from "../format/StatFormat.ts"
import { errLine, out, warn } from "../Output.ts"

const TOOL = "stat"

const encoder = new TextEncoder()

const lookAt = (c: SysproxyProcess, path: string, follow: boolean) =>
  follow
    ? c.stat(path).pipe(Effect.catchTag("SyscallError", (e) => (e.code === "ENOENT" ? c.lstat(path) : Effect.fail(e))))
    : c.lstat(path)

export const stat = Command.make(
  TOOL,
  {
    format: Flag.String("format").pipe(
      Flag.withAlias("f"),
      Flag.withMetavar("format"),
      Flag.withDescription("the fields to print: %d %i %p %l %u %g %r %a %m %c %B %z %b %k %f %v %N %T %Y %Z, with [#+-0 ][size][.prec][DOUXFS][HML]"),
      Flag.optional
    ),
    long: switchFlag("long", "l", "as ls -l shows it"),
    classify: switchFlag("classify", "F", "with -l (or alone): the type mark after the name, as ls -F"),
    raw: switchFlag("raw", "r", "raw numbers"),
    shell: switchFlag("shell", "s", "shell variable assignments"),
    verbose: switchFlag("verbose", "x", "the verbose, multi-line form"),
    follow: switchFlag("dereference", "L", "what a link points to (the link itself when it leads nowhere)"),
    noNewline: switchFlag("no-newline", "n", "no newline after each file's output"),
    quiet: switchFlag("quiet", "q", "nothing about files that cannot be looked at"),
    timeFormat: Flag.String("time-format").pipe(
      Flag.withAlias("t"),
      Flag.withMetavar("timefmt"),
      Flag.withDescription(`strftime's format for times shown as strings (default ${TIME_FORMAT})`),
      Flag.optional
    ),
    paths: Argument.String("file").pipe(Argument.variadic({ min: 1 }))
  },
  (o) =>
    Effect.gen(function*() {
      // stat takes one format: -f, -l, -r, -s or -x (-F alone means -l)
      const chosen = [
        Option.isSome(o.format) ? "f" : undefined,
        o.long ? "l" : undefined,
        o.raw ? "r" : undefined,
        o.shell ? "s" : undefined,
        o.verbose ? "x" : undefined
      ].filter((x): x is string => x !== undefined)
      if (chosen.length > 1) {
        yield* errLine(`${TOOL}: can't use format '${chosen[0]}' with '${chosen[1]}'`)
        return yield* failed
      }
      const which = chosen[0] ?? (o.classify ? "l" : undefined)
      if (o.classify && which !== "l") {
        yield* errLine(`${TOOL}: can't use format '${which}' with -F`)
        return yield* failed
      }
      const format = which === "f"
        ? Option.getOrElse(o.format, () => "")
        : which === "l"
        ? (o.classify ? FORMATS.lsF : FORMATS.ls)
        : which === "r"
        ? FORMATS.raw
        : which === "s"
        ? FORMATS.shell
        : which === "x"
        ? FORMATS.linux
        : FORMATS.default
      const timeFormat = Option.getOrElse(o.timeFormat, () => (which === "x" ? "%c" : TIME_FORMAT))
      return yield* withClient(TOOL, (c) =>
        Effect.gen(function*() {
          let ok = true
          for (const [i, path] of o.paths.entries()) {
            const st = yield* lookAt(c, path, o.follow).pipe(
              Effect.map(Option.some),
              Effect.catchTag("SyscallError", (e) =>
                Effect.as(o.quiet ? Effect.void : warn(TOOL, path, `${o.follow ? "stat" : "lstat"}: ${e.description}`), Option.none()))
            )
            if (Option.isNone(st)) {
              ok = false
              continue
            }
            const linkTarget = isSymbolicLink(st.value)
              ? yield* c.readlink(path).pipe(
                Effect.map((t): string | undefined => t),
                Effect.catchTag("SyscallError", () => Effect.succeed(undefined))
              )
              : undefined
            const text = formatStat(format, st.value, { name: path, linkTarget, timeFormat }, i + 1, o.noNewline)
            if (text instanceof BadFormat) {
              yield* errLine(`${TOOL}: ${text.field}: bad format`)
              return yield* failed
            }
            yield* out(encoder.encode(text))
          }
          if (!ok) return yield* failed
        }))
    })
).pipe(Command.withDescription("Show file status on the server (rump.stat): stat(1)'s line, or -f FORMAT, -l, -r, -s, -x."))
