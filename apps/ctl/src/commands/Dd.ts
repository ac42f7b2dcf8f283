/**
 * `sysproxy dd [if=FILE] [of=FILE] [bs=N] [count=N] [skip=N] [seek=N]`
 * (dd(1), the classic rump.dd use): copies blocks of bs bytes (512 by
 * default; suffixes b, k, m, g) from if= (a kernel path, host:PATH, or
 * the host's stdin when absent) to of= (likewise, stdout when absent),
 * count blocks at most, skipping skip input blocks and seek output blocks
 * first. On stderr at the end, as dd says it: records in and out (full+
 * partial) and the bytes moved with the time and rate.
 */
import type { CallError, SysproxyProcess } from "@sysproxy/client"
import { lseekWhence, openFlags } from "@sysproxy/protocol/netbsd"
import { Clock, Data, Effect, FileSystem, Option, Pull, type Scope, Stdio, Stream } from "effect"
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { sidePath } from "../HostPath.ts"
import { errLine, warn } from "../Output.ts"
import { describeLocal } from "../HostErrors.ts"

const TOOL = "dd"

const MULTIPLIERS: Readonly<Record<string, number>> = { b: 512, k: 1024, m: 1024 ** 2, g: 1024 ** 3, w: 2 }

/** "64k" -> 65536; undefined for anything that is not a count. */
export const parseSize = (text: string): number | undefined => {
  const m = /^(\d+)([bkmgw]?)$/i.exec(text)
  if (m === null) return undefined
  return Number(m[1]) * (m[2] === "" ? 1 : MULTIPLIERS[m[2]!.toLowerCase()]!)
}

interface Operands {
  readonly input: string | undefined
  readonly output: string | undefined
  readonly bs: number
  readonly count: number | undefined
  readonly skip: number
  readonly seek: number
}

/** The key=value operands, or the complaint about the first bad one. */
export const parseOperands = (args: ReadonlyArray<string>): Operands | string => {
  const values = new Map<string, string>()
  for (const arg of args) {
    const eq = arg.indexOf("=")
    const key = eq === -1 ? arg : arg.slice(0, eq)
    if (eq === -1 || !["if", "of", "bs", "count", "skip", "seek"].includes(key)) return `unknown operand ${key}`
    values.set(key, arg.slice(eq + 1))
  }
  const number = (key: string, fallback: number | undefined) => {
    const text = values.get(key)
    if (text === undefined) return fallback
    return parseSize(text) ?? `${key}: illegal numeric value`
  }
  const bs = number("bs", 512)
  const count = number("count", undefined)
  const skip = number("skip", 0)
  const seek = number("seek", 0)
  for (const v of [bs, count, skip, seek]) if (typeof v === "string") return v
  if (bs === 0) return "bs: illegal numeric value"
  return {
    input: values.get("if"),
    output: values.get("of"),
    bs: bs as number,
    count: count as number | undefined,
    skip: skip as number,
    seek: seek as number
  }
}

/** A file dd could not open, read or write: reported as `dd: path: why`. */
class Refused extends Data.TaggedError("Refused")<{ readonly path: string; readonly why: string }> {}

interface Input {
  /** One read of at most n bytes; empty at the end. */
  readonly read: (n: number) => Effect.Effect<Uint8Array, CallError | Refused>
}

interface Output {
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, CallError | Refused>
}

const kernelRefusal = (path: string) => <A>(e: Effect.Effect<A, CallError>) =>
  Effect.catchTag(e, "SyscallError", (err) => Effect.fail(new Refused({ path, why: err.description })))

const openInput = (
  c: SysproxyProcess,
  operand: string | undefined,
  skipBytes: number
): Effect.Effect<Input, CallError | Refused, Scope.Scope | FileSystem.FileSystem | Stdio.Stdio> =>
  Effect.gen(function*() {
    const where = operand === undefined ? { where: "host" as const, path: "-" } : sidePath(operand)
    if (where.where === "kernel") {
      const fd = yield* Effect.acquireRelease(kernelRefusal(where.path)(c.open(where.path)), (fd) => Effect.ignore(c.close(fd)))
      if (skipBytes > 0) yield* kernelRefusal(where.path)(c.lseek(fd, skipBytes, lseekWhence.SEEK_SET))
      return { read: (n) => kernelRefusal(where.path)(c.read(fd, n)) }
    }
    if (where.path === "-") {
      const pull = yield* Stream.toPull((yield* Stdio.Stdio).stdin)
      let pending = new Uint8Array(0)
      let skipped = 0
      const read = (n: number): Effect.Effect<Uint8Array, Refused> =>
        Effect.gen(function*() {
          if (pending.byteLength === 0) {
            const next = yield* pull.pipe(
              Effect.map((chunks) => new Uint8Array(Buffer.concat(chunks))),
              Pull.catchDone(() => Effect.succeed(new Uint8Array(0))),
              Effect.mapError((e) => new Refused({ path: "stdin", why: describeLocal(e) }))
            )
            if (next.byteLength === 0) return next
            pending = next
          }
          const out = pending.subarray(0, n)
          pending = pending.subarray(out.byteLength)
          return out
        })
      // skip= on a pipe: read and drop
      while (skipped < skipBytes) {
        const dropped = yield* read(Math.min(skipBytes - skipped, 1 << 20))
        if (dropped.byteLength === 0) break
        skipped += dropped.byteLength
      }
      return { read }
    }
    const fs = yield* FileSystem.FileSystem
    const file = yield* fs.open(where.path, { flag: "r" }).pipe(Effect.mapError((e) => new Refused({ path: where.path, why: describeLocal(e) })))
    if (skipBytes > 0) yield* file.seek(BigInt(skipBytes), "start").pipe(Effect.mapError((e) => new Refused({ path: where.path, why: describeLocal(e) })))
    return {
      read: (n) =>
        file.readAlloc(n).pipe(
          Effect.map(Option.getOrElse(() => new Uint8Array(0))),
          Effect.mapError((e) => new Refused({ path: where.path, why: describeLocal(e) }))
        )
    }
  })

const openOutput = (
  c: SysproxyProcess,
  operand: string | undefined,
  seekBytes: number
): Effect.Effect<Output, CallError | Refused, Scope.Scope | FileSystem.FileSystem | Stdio.Stdio> =>
  Effect.gen(function*() {
    const where = operand === undefined ? { where: "host" as const, path: "-" } : sidePath(operand)
    if (where.where === "kernel") {
      const flags = openFlags.O_WRONLY | openFlags.O_CREAT | (seekBytes === 0 ? openFlags.O_TRUNC : 0)
      const fd = yield* Effect.acquireRelease(
        kernelRefusal(where.path)(c.open(where.path, flags, 0o666)),
        (fd) => Effect.ignore(c.close(fd))
      )
      if (seekBytes > 0) {
        // dd truncates at the seek offset: what was past it goes, what was before it stays
        yield* kernelRefusal(where.path)(c.ftruncate(fd, seekBytes))
        yield* kernelRefusal(where.path)(c.lseek(fd, seekBytes, lseekWhence.SEEK_SET))
      }
      const write = (bytes: Uint8Array): Effect.Effect<void, CallError | Refused> =>
        bytes.byteLength === 0
          ? Effect.void
          : Effect.flatMap(kernelRefusal(where.path)(c.write(fd, bytes)), (n) =>
            n === 0 ? Effect.fail(new Refused({ path: where.path, why: "short write" })) : write(bytes.subarray(n)))
      return { write }
    }
    if (where.path === "-") {
      const stdio = yield* Stdio.Stdio
      return {
        write: (bytes) =>
          Stream.run(Stream.succeed(bytes), stdio.stdout()).pipe(Effect.mapError((e) => new Refused({ path: "stdout", why: describeLocal(e) })))
      }
    }
    const fs = yield* FileSystem.FileSystem
    const file = yield* fs.open(where.path, { flag: seekBytes === 0 ? "w" : "a+" }).pipe(
      Effect.mapError((e) => new Refused({ path: where.path, why: describeLocal(e) }))
    )
    if (seekBytes > 0) {
      yield* file.truncate(seekBytes).pipe(Effect.mapError((e) => new Refused({ path: where.path, why: describeLocal(e) })))
      yield* file.seek(BigInt(seekBytes), "start").pipe(Effect.mapError((e) => new Refused({ path: where.path, why: describeLocal(e) })))
    }
    return { write: (bytes) => file.writeAll(bytes).pipe(Effect.mapError((e) => new Refused({ path: where.path, why: describeLocal(e) }))) }
  })

/** dd's closing lines. */
export const summary = (
  full: number,
  partial: number,
  bytes: number,
  ms: number
): string => {
  const secs = Math.max(ms, 0) / 1000
  const rate = secs > 0 ? Math.floor(bytes / secs) : 0
  return `${full}+${partial} records in\n${full}+${partial} records out\n` +
    `${bytes} bytes transferred in ${secs.toFixed(3)} secs (${rate} bytes/sec)`
}

export const dd = Command.make(
  TOOL,
  { operands: Argument.String("operand").pipe(Argument.withDescription("if= of= bs= count= skip= seek="), Argument.variadic()) },
  ({ operands }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const ops = parseOperands(operands)
        if (typeof ops === "string") {
          yield* errLine(`${TOOL}: ${ops}`)
          return yield* failed
        }
        const start = yield* Clock.currentTimeMillis
        let full = 0
        let partial = 0
        let bytes = 0
        const copied = yield* Effect.scoped(Effect.gen(function*() {
          const input = yield* openInput(c, ops.input, ops.skip * ops.bs)
          const output = yield* openOutput(c, ops.output, ops.seek * ops.bs)
          while (ops.count === undefined || full + partial < ops.count) {
            const block = yield* input.read(ops.bs)
            if (block.byteLength === 0) break
            if (block.byteLength === ops.bs) full++
            else partial++
            yield* output.write(block)
            bytes += block.byteLength
          }
        })).pipe(
          Effect.as(true),
          Effect.catch((e) => (e instanceof Refused ? Effect.as(warn(TOOL, e.path, e.why), false) : Effect.fail(e)))
        )
        yield* errLine(summary(full, partial, bytes, (yield* Clock.currentTimeMillis) - start))
        if (!copied) return yield* failed
      }))
).pipe(Command.withDescription("Copy blocks between files (rump.dd): if= of= bs= count= skip= seek=."))
