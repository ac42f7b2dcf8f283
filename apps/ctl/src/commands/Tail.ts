/**
 * `sysproxy tail [-f] [-b N | -c N | -n N] file ...` (tail(1)): the end of
 * each file, by default its last 10 lines. As NetBSD's tail: `-n N` (or
 * `-n -N`) is the last N lines, `-n +N` everything from line N on (1 based);
 * `-c` the same in bytes, `-b` in 512-byte blocks; the obsolescent `tail -3`,
 * `tail +3`, `tail -3f` are read as those. The lines at the end are found
 * reading backwards from the end in blocks. Several files each get a
 * `==> file <==` header. With -f (one file only) it then follows the file,
 * printing what another client appends, checking its size every
 * FOLLOW_INTERVAL, and starting over (with `tail: file: file truncated`)
 * if it shrinks; it stops at a signal, as tail -f does.
 */
import { type CallError, IO_CHUNK, type SysproxyProcess } from "@sysproxy/client"
import { Effect, Option, type Stdio } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { switchFlag } from "../Flags.ts"
import { attempt } from "../Operands.ts"
import { errLine, line, out, warn } from "../Output.ts"

const TOOL = "tail"

/** How often -f looks at the file's size (NetBSD's tail sleeps a quarter second between looks without kqueue). */
export const FOLLOW_INTERVAL = "250 millis"

const NEWLINE = 0x0a

/** Where to start: the last `count` lines or bytes, or from line or byte `count` (1 based) on. */
export interface Start {
  readonly unit: "lines" | "bytes"
  readonly fromStart: boolean
  readonly count: number
}

/** An offset operand as tail's ARG() reads it, times `units`; undefined when it is not a number. */
export const parseStart = (text: string, unit: Start["unit"], units: number): Start | undefined => {
  const m = /^([-+]?)(\d+)$/.exec(text)
  if (m === null) return undefined
  return { unit, fromStart: m[1] === "+", count: Number(m[2]) * units }
}

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

/** The offset where line `line` (1 based) starts, or `size` when the file has fewer lines. */
const startOfLine = (c: SysproxyProcess, fd: number, size: number, line: number): Effect.Effect<number, CallError> =>
  Effect.gen(function*() {
    let skip = line - 1
    if (skip <= 0) return 0
    for (let at = 0; at < size;) {
      const block = yield* c.pread(fd, Math.min(IO_CHUNK, size - at), at)
      if (block.byteLength === 0) break
      for (let i = 0; i < block.byteLength; i++) {
        if (block[i] === NEWLINE && --skip === 0) return at + i + 1
      }
      at += block.byteLength
    }
    return size
  })

const startOffset = (c: SysproxyProcess, fd: number, size: number, start: Start) => {
  if (start.unit === "bytes") {
    return Effect.succeed(start.fromStart ? Math.min(size, Math.max(0, start.count - 1)) : Math.max(0, size - start.count))
  }
  return start.fromStart ? startOfLine(c, fd, size, start.count) : startOfLastLines(c, fd, size, start.count)
}

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

const offsetFlag = (name: string, alias: string, description: string) =>
  Flag.String(name).pipe(Flag.withAlias(alias), Flag.withMetavar("N"), Flag.withDescription(description), Flag.optional)

export const tail = Command.make(
  TOOL,
  {
    lines: offsetFlag("lines", "n", "the last N lines (10), or from line +N on"),
    bytes: offsetFlag("bytes", "c", "the last N bytes, or from byte +N on"),
    blocks: offsetFlag("blocks", "b", "the last N 512-byte blocks, or from block +N on"),
    follow: switchFlag("follow", "f", "then print what is appended, until interrupted (one file)"),
    files: Argument.String("file").pipe(Argument.variadic({ min: 1 }))
  },
  ({ blocks, bytes, files, follow: following, lines }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const given: Array<readonly [string, Start["unit"], number]> = []
        if (Option.isSome(lines)) given.push([lines.value, "lines", 1])
        if (Option.isSome(bytes)) given.push([bytes.value, "bytes", 1])
        if (Option.isSome(blocks)) given.push([blocks.value, "bytes", 512])
        if (given.length > 1) {
          yield* errLine("usage: tail [-f] [-b # | -c # | -n #] [file ...]")
          return yield* failed
        }
        const [text, unit, units] = given[0] ?? ["10", "lines", 1]
        const start = parseStart(text, unit, units)
        if (start === undefined) {
          yield* errLine(`${TOOL}: illegal offset -- ${text}`)
          return yield* failed
        }
        if (following && files.length > 1) {
          yield* errLine(`${TOOL}: -f and -F options only appropriate for a single file`)
          return yield* failed
        }
        let ok = true
        let first = true
        for (const file of files) {
          const opened = yield* c.open(file).pipe(Effect.map(Option.some), Effect.catchTag("SyscallError", (e) =>
            Effect.as(warn(TOOL, file, e.description), Option.none())))
          if (Option.isNone(opened)) {
            ok = false
            continue
          }
          const fd = opened.value
          if (files.length > 1) {
            yield* line(`${first ? "" : "\n"}==> ${file} <==`)
            first = false
          }
          ok = (yield* attempt(TOOL, file, Effect.gen(function*() {
            const size = (yield* c.fstat(fd)).size
            yield* printRange(c, fd, yield* startOffset(c, fd, size, start), size)
            if (following) yield* follow(c, file, fd, size)
          }).pipe(Effect.ensuring(Effect.ignore(c.close(fd)))))) && ok
        }
        if (!ok) return yield* failed
      }))
).pipe(Command.withDescription("Print the end of files on the server; -f follows one as it grows."))
