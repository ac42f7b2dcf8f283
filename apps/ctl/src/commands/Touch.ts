/**
 * `sysproxy touch [-acm] [-r file | -t [[CC]YY]MMDDhhmm[.SS]] file ...`
 * (touch(1)): a file that exists gets its access and modification times
 * set, one that does not is created empty (mode 0666 less the umask),
 * unless -c. The times are now (utimes with no times), or those of the
 * -r file, or the -t time (local time, as touch reads it); -a or -m
 * changes only that one, the other kept as it was.
 */
import type { SysproxyProcess, Timespec } from "@sysproxy/client"
import { openFlags } from "@sysproxy/protocol/netbsd"
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { setTimes, touchTimes } from "../Calls.ts"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { switchFlag } from "../Flags.ts"
import { attempt, eachOperand } from "../Operands.ts"
import { errLine, warn } from "../Output.ts"

const TOOL = "touch"

const ILLEGAL_TIME = `${TOOL}: out of range or illegal time specification: [[CC]YY]MMDDhhmm[.SS]`

/**
 * touch -t's [[CC]YY]MMDDhhmm[.SS] as local time (YY below 69 is 20YY,
 * else 19YY; no year is this year); undefined for anything that is not a
 * real time.
 */
export const parseTouchTime = (text: string, now: Date = new Date()): Timespec | undefined => {
  const m = /^(\d{8}|\d{10}|\d{12})(?:\.(\d{2}))?$/.exec(text)
  if (m === null) return undefined
  const digits = m[1]!
  const tail = digits.slice(-8)
  const head = digits.slice(0, -8)
  const year = head.length === 4
    ? Number(head)
    : head.length === 2
    ? (Number(head) < 69 ? 2000 : 1900) + Number(head)
    : now.getFullYear()
  const [month, day, hour, minute] = [0, 2, 4, 6].map((i) => Number(tail.slice(i, i + 2)))
  const second = m[2] === undefined ? 0 : Number(m[2])
  const date = new Date(year, month! - 1, day, hour, minute, second)
  // a field out of range (month 13, Feb 30, 25 o'clock, 61 seconds) rolls over: not a real time
  const same = date.getFullYear() === year && date.getMonth() === month! - 1 && date.getDate() === day &&
    date.getHours() === hour && date.getMinutes() === minute && date.getSeconds() === second
  return same ? { sec: BigInt(Math.floor(date.getTime() / 1000)), nsec: 0 } : undefined
}

interface Times {
  readonly atime: Timespec
  readonly mtime: Timespec
}

const nowSpec = (): Timespec => {
  const ms = Date.now()
  return { sec: BigInt(Math.floor(ms / 1000)), nsec: (ms % 1000) * 1_000_000 }
}

/** Sets the times of an existing `file`: all now, or `given`, for the ones chosen; the others as they are. */
const setFileTimes = (
  c: SysproxyProcess,
  file: string,
  given: Times | undefined,
  access: boolean,
  modification: boolean
) =>
  Effect.gen(function*() {
    if (given === undefined && access && modification) return yield* Effect.asVoid(touchTimes(c, file))
    const st = yield* c.stat(file)
    const now = nowSpec()
    yield* setTimes(
      c,
      file,
      access ? given?.atime ?? now : st.atime,
      modification ? given?.mtime ?? now : st.mtime
    )
  })

export const touch = Command.make(
  TOOL,
  {
    access: switchFlag("access", "a", "change the access time (only, without -m)"),
    modification: switchFlag("modification", "m", "change the modification time (only, without -a)"),
    noCreate: switchFlag("no-create", "c", "do not create files that do not exist"),
    reference: Flag.String("reference").pipe(
      Flag.withAlias("r"),
      Flag.withMetavar("file"),
      Flag.withDescription("the times of this file on the server, not now"),
      Flag.optional
    ),
    time: Flag.String("time").pipe(
      Flag.withAlias("t"),
      Flag.withMetavar("[[CC]YY]MMDDhhmm[.SS]"),
      Flag.withDescription("this local time, not now"),
      Flag.optional
    ),
    files: Argument.String("file").pipe(Argument.variadic({ min: 1 }))
  },
  ({ access, files, modification, noCreate, reference, time }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        // neither -a nor -m: both
        const [a, m] = access || modification ? [access, modification] : [true, true]
        let given: Times | undefined
        if (Option.isSome(time)) {
          const at = parseTouchTime(time.value)
          if (at === undefined) {
            yield* errLine(ILLEGAL_TIME)
            return yield* failed
          }
          given = { atime: at, mtime: at }
        }
        if (Option.isSome(reference)) {
          const st = yield* c.stat(reference.value).pipe(
            Effect.map(Option.some),
            Effect.catchTag("SyscallError", (e) => Effect.as(warn(TOOL, reference.value, e.description), Option.none()))
          )
          if (Option.isNone(st)) return yield* failed
          given = { atime: st.value.atime, mtime: st.value.mtime }
        }
        return yield* eachOperand(files, (file) =>
          attempt(
            TOOL,
            file,
            Effect.gen(function*() {
              const exists = yield* c.stat(file).pipe(
                Effect.as(true),
                Effect.catchTag("SyscallError", (e) => (e.code === "ENOENT" ? Effect.succeed(false) : Effect.fail(e)))
              )
              if (!exists) {
                if (noCreate) return
                yield* Effect.flatMap(c.open(file, openFlags.O_WRONLY | openFlags.O_CREAT, 0o666), (fd) => c.close(fd))
                // made just now: its times are now already
                if (given === undefined && a && m) return
              }
              yield* setFileTimes(c, file, given, a, m)
            })
          ))
      }))
).pipe(Command.withDescription("Set file times on the server (now, -r a file's, -t a time), creating files that are missing."))
