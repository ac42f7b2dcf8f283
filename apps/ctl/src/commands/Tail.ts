/**
 * `sysproxy tail [-n N] [-f] file` (tail(1)): the last N lines (10) of a
 * file, read backwards from its end in blocks; with -f it then follows
 * the file, printing what another client appends, checking its size
 * every FOLLOW_INTERVAL, and starting over (with `tail: file: file
 * truncated`) if it shrinks; it stops at a signal, as tail -f does.
 */
import { type CallError, IO_CHUNK, type SysproxyProcess } from "@sysproxy/client"
import { Effect, Option, type Stdio } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { switchFlag } from "../Flags.ts"
import { attempt } from "../Operands.ts"
import { out, warn } from "../Output.ts"

const TOOL = "tail"

/** How often -f looks at the file's size (NetBSD's tail sleeps a quarter second between looks without kqueue). */
export const FOLLOW_INTERVAL = "250 millis"

const NEWLINE = 0x0a

/** The offset where the last `lines` lines of the file start. */
const startOfLastLines = (c: SysproxyProcess, fd: number, size: number, lines: number): Effect.Effect<number, CallError> =>
  Effect.gen(function*() {
    if (lines === 0) return size
    let end = size
    let seen = 0
    while (end > 0) {
      const from = Math.max(0, end - IO_CHUNK)
      const block = yield* c.pread(fd, end - from, from)
      for (let i = block.byteLength - 1; i >= 0; i--) {
        // a newline that ends the file does not start a line
        if (block[i] !== NEWLINE || from + i === size - 1) continue
        if (++seen === lines) return from + i + 1
      }
      end = from
    }
    return 0
  })

/** Prints the bytes of [from, to). */
const printRange = (c: SysproxyProcess, fd: number, from: number, to: number): Effect.Effect<void, CallError, Stdio.Stdio> =>
  Effect.gen(function*() {
    for (let at = from; at < to;) {
      const block = yield* c.pread(fd, Math.min(IO_CHUNK, to - at), at)
      if (block.byteLength === 0) return
      yield* out(block)
      at += block.byteLength
    }
  })

const follow = (c: SysproxyProcess, file: string, fd: number, from: number) =>
  Effect.gen(function*() {
    let at = from
    for (;;) {
      yield* Effect.sleep(FOLLOW_INTERVAL)
      const size = (yield* c.fstat(fd)).size
      if (size < at) {
        yield* warn(TOOL, file, "file truncated")
        at = 0
      }
      if (size > at) {
        yield* printRange(c, fd, at, size)
        at = size
      }
    }
  })

export const tail = Command.make(
  TOOL,
  {
    lines: Flag.Int("lines").pipe(Flag.withAlias("n"), Flag.withMetavar("N"), Flag.withDescription("how many lines (10)"), Flag.optional),
    follow: switchFlag("follow", "f", "then print what is appended, until interrupted"),
    file: Argument.String("file")
  },
  ({ file, follow: following, lines }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const count = Math.abs(Option.getOrElse(lines, () => 10))
        const opened = yield* c.open(file).pipe(Effect.map(Option.some), Effect.catchTag("SyscallError", (e) =>
          Effect.as(warn(TOOL, file, e.description), Option.none())))
        if (Option.isNone(opened)) return yield* failed
        const fd = opened.value
        const ok = yield* attempt(TOOL, file, Effect.gen(function*() {
          const size = (yield* c.fstat(fd)).size
          yield* printRange(c, fd, yield* startOfLastLines(c, fd, size, count), size)
          if (following) yield* follow(c, file, fd, size)
        }))
        if (!ok) return yield* failed
      }))
).pipe(Command.withDescription("Print the end of a file on the server; -f follows it as it grows."))
