/**
 * `sysproxy dd [if=FILE] [of=FILE] [bs=N | ibs=N obs=N] [count=N] [skip=N]
 * [seek=N] [conv=notrunc]` (dd(1), the classic rump.dd use): copies from
 * if= (a kernel path, host:PATH, or the host's stdin when absent) to of=
 * (likewise, stdout when absent). Numbers are strsuftoll(3)'s: suffixes
 * b k m g t w, and products with x (`1kx2`). With bs= each block read is
 * written as it is (512 bytes by default); with ibs=/obs= input is read
 * in ibs blocks and written in obs blocks. count= input blocks at most,
 * skipping skip= input blocks and seek= output blocks first; the output
 * is truncated (at the seek point) unless conv=notrunc. As dd does, a
 * file that will not open ends it with one line and nothing else; once
 * both are open, the records in and out (full+partial) and the bytes with
 * the time and rate go to stderr at the end, whatever happens after.
 */
import type { CallError, SysproxyProcess } from "@sysproxy/client"
import { lseekWhence, openFlags } from "@sysproxy/protocol/netbsd"
import { Clock, Data, Effect, FileSystem, Option, type PlatformError, Pull, type Scope, Stdio, Stream } from "effect"
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { describeLocal } from "../HostErrors.ts"
import { sidePath } from "../HostPath.ts"
import { errLine, warn } from "../Output.ts"

const TOOL = "dd"

const SUFFIXES: Readonly<Record<string, number>> = { b: 512, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, w: 4 }

const UINT_MAX = 0xffff_ffff

/**
 * strsuftoll(desc, text, min, max): a number with an optional suffix, or
 * several joined by x (or *) multiplied; the complaint (in its words) for
 * anything else.
 */
export const parseSize = (desc: string, text: string, min: number, max: number): number | string => {
  const m = /^\s*(\d+)([bkmgtw]?)(.*)$/s.exec(text)
  if (m === null) return `${desc} \`${text}': illegal number`
  let value = Number(m[1]) * (m[2] === "" ? 1 : SUFFIXES[m[2]!]!)
  const rest = m[3]!
  if (rest !== "") {
    // a product: the rest is read the same way, its complaint (about the rest) the one given
    if (rest[0] !== "x" && rest[0] !== "*") return `${desc} \`${text}': illegal number`
    const factor = parseSize(desc, rest.slice(1), min, max)
    if (typeof factor === "string") return factor
    value *= factor
  }
  if (value < min) return `${desc} ${value} is less than ${min}.`
  if (value > max) return `${desc} ${value} is greater than ${max}.`
  return value
}

export interface Operands {
  readonly input: string | undefined
  readonly output: string | undefined
  readonly ibs: number
  readonly obs: number
  /** bs= given: each block read is written as it is, one record out per record in. */
  readonly blockForBlock: boolean
  readonly count: number | undefined
  readonly skip: number
  readonly seek: number
  readonly notrunc: boolean
}

const KEYS = ["if", "of", "bs", "ibs", "obs", "count", "skip", "seek", "conv"]

/** What each numeric operand is called in dd's messages, and its least value. */
const NUMBERS: Readonly<Record<string, readonly [string, number, number]>> = {
  bs: ["block size", 1, UINT_MAX],
  ibs: ["input block size", 1, UINT_MAX],
  obs: ["output block size", 1, UINT_MAX],
  count: ["block count", 0, Number.MAX_SAFE_INTEGER],
  skip: ["skip", 0, Number.MAX_SAFE_INTEGER],
  seek: ["seek", 0, Number.MAX_SAFE_INTEGER]
}

/** The conversions this dd knows (the rest change the data, which it does not do). */
const CONVERSIONS = new Set(["notrunc"])

/** The key=value operands, or the complaint about the first bad one. */
export const parseOperands = (args: ReadonlyArray<string>): Operands | string => {
  const values = new Map<string, string>()
  for (const arg of args) {
    const eq = arg.indexOf("=")
    const key = eq === -1 ? arg : arg.slice(0, eq)
    if (eq === -1 || !KEYS.includes(key)) return `unknown operand ${key}`
    values.set(key, arg.slice(eq + 1))
  }
  const numbers = new Map<string, number>()
  for (const [key, [desc, min, max]] of Object.entries(NUMBERS)) {
    const text = values.get(key)
    if (text === undefined) continue
    const n = parseSize(desc, text, min, max)
    if (typeof n === "string") return n
    numbers.set(key, n)
  }
  const conv = values.get("conv")?.split(",") ?? []
  for (const c of conv) if (!CONVERSIONS.has(c)) return `unknown conversion ${c}`
  const bs = numbers.get("bs")
  return {
    input: values.get("if"),
    output: values.get("of"),
    ibs: bs ?? numbers.get("ibs") ?? 512,
    obs: bs ?? numbers.get("obs") ?? 512,
    blockForBlock: bs !== undefined,
    count: numbers.get("count"),
    skip: numbers.get("skip") ?? 0,
    seek: numbers.get("seek") ?? 0,
    notrunc: conv.includes("notrunc")
  }
}

/** A file dd could not open, read or write: reported as `dd: path: why`. */
class Refused extends Data.TaggedError("Refused")<{ readonly path: string; readonly why: string }> {}

interface Input {
  /** One read of at most n bytes; empty at the end. */
  readonly read: (n: number) => Effect.Effect<Uint8Array, CallError | Refused>
  /** Past the first `bytes` (a seek on a file, reading and dropping on a pipe). */
  readonly skip: (bytes: number) => Effect.Effect<void, CallError | Refused>
}

interface Output {
  readonly write: (bytes: Uint8Array) => Effect.Effect<void, CallError | Refused>
  /** To `bytes` from the start, cutting what is past it unless `keep` (conv=notrunc). */
  readonly seek: (bytes: number, keep: boolean) => Effect.Effect<void, CallError | Refused>
}

const kernelRefusal = (path: string) => <A>(e: Effect.Effect<A, CallError>) =>
  Effect.catchTag(e, "SyscallError", (err) => Effect.fail(new Refused({ path, why: err.description })))

const hostRefusal = (path: string) => <A, R>(e: Effect.Effect<A, PlatformError.PlatformError, R>) =>
  Effect.mapError(e, (err) => new Refused({ path, why: describeLocal(err) }))

const openInput = (
  c: SysproxyProcess,
  operand: string | undefined
): Effect.Effect<Input, CallError | Refused, Scope.Scope | FileSystem.FileSystem | Stdio.Stdio> =>
  Effect.gen(function*() {
    const where = operand === undefined ? { where: "host" as const, path: "-" } : sidePath(operand)
    if (where.where === "kernel") {
      const refused = kernelRefusal(where.path)
      const fd = yield* Effect.acquireRelease(refused(c.open(where.path)), (fd) => Effect.ignore(c.close(fd)))
      return {
        read: (n) => refused(c.read(fd, n)),
        skip: (bytes) => Effect.asVoid(refused(c.lseek(fd, bytes, lseekWhence.SEEK_CUR)))
      }
    }
    if (where.path === "-") {
      const pull = yield* Stream.toPull((yield* Stdio.Stdio).stdin)
      let pending = new Uint8Array(0)
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
      const skip = (bytes: number): Effect.Effect<void, Refused> =>
        bytes <= 0
          ? Effect.void
          : Effect.flatMap(read(Math.min(bytes, 1 << 20)), (dropped) => (dropped.byteLength === 0 ? Effect.void : skip(bytes - dropped.byteLength)))
      return { read, skip }
    }
    const refused = hostRefusal(where.path)
    const file = yield* refused((yield* FileSystem.FileSystem).open(where.path, { flag: "r" }))
    return {
      read: (n) => refused(file.readAlloc(n)).pipe(Effect.map(Option.getOrElse(() => new Uint8Array(0)))),
      skip: (bytes) => refused(file.seek(BigInt(bytes), "current"))
    }
  })

const openOutput = (
  c: SysproxyProcess,
  operand: string | undefined,
  truncate: boolean
): Effect.Effect<Output, CallError | Refused, Scope.Scope | FileSystem.FileSystem | Stdio.Stdio> =>
  Effect.gen(function*() {
    const where = operand === undefined ? { where: "host" as const, path: "-" } : sidePath(operand)
    if (where.where === "kernel") {
      const refused = kernelRefusal(where.path)
      const flags = openFlags.O_WRONLY | openFlags.O_CREAT | (truncate ? openFlags.O_TRUNC : 0)
      const fd = yield* Effect.acquireRelease(refused(c.open(where.path, flags, 0o666)), (fd) => Effect.ignore(c.close(fd)))
      const write = (bytes: Uint8Array): Effect.Effect<void, CallError | Refused> =>
        bytes.byteLength === 0
          ? Effect.void
          : Effect.flatMap(refused(c.write(fd, bytes)), (n) =>
            n === 0 ? Effect.fail(new Refused({ path: where.path, why: "short write" })) : write(bytes.subarray(n)))
      return {
        write,
        seek: (bytes, keep) =>
          Effect.gen(function*() {
            if (!keep) yield* refused(c.ftruncate(fd, bytes))
            yield* refused(c.lseek(fd, bytes, lseekWhence.SEEK_SET))
          })
      }
    }
    if (where.path === "-") {
      const stdio = yield* Stdio.Stdio
      return {
        write: (bytes) =>
          Stream.run(Stream.succeed(bytes), stdio.stdout()).pipe(Effect.mapError((e) => new Refused({ path: "stdout", why: describeLocal(e) }))),
        // nothing to seek on a pipe: dd writes the blocks as NULs would be, which no one asks of stdout here
        seek: () => Effect.void
      }
    }
    const refused = hostRefusal(where.path)
    const fs = yield* FileSystem.FileSystem
    // r+ keeps what is there (conv=notrunc, or seek=); a missing file is created
    const file = truncate
      ? yield* refused(fs.open(where.path, { flag: "w" }))
      : yield* refused(fs.open(where.path, { flag: "r+" })).pipe(
        Effect.catchTag("Refused", (e) => e.why === "No such file or directory" ? refused(fs.open(where.path, { flag: "w" })) : Effect.fail(e))
      )
    return {
      write: (bytes) => refused(file.writeAll(bytes)),
      seek: (bytes, keep) =>
        Effect.gen(function*() {
          if (!keep) yield* refused(file.truncate(bytes))
          yield* refused(file.seek(BigInt(bytes), "start"))
        })
    }
  })

/** dd's closing lines. */
export const summary = (
  records: { readonly fullIn: number; readonly partialIn: number; readonly fullOut: number; readonly partialOut: number },
  bytes: number,
  ms: number
): string => {
  const secs = Math.max(ms, 0) / 1000
  const rate = secs > 0 ? Math.floor(bytes / secs) : 0
  return `${records.fullIn}+${records.partialIn} records in\n${records.fullOut}+${records.partialOut} records out\n` +
    `${bytes} bytes transferred in ${secs.toFixed(3)} secs (${rate} bytes/sec)`
}

export const dd = Command.make(
  TOOL,
  {
    operands: Argument.String("operand").pipe(
      Argument.withDescription("if= of= bs= ibs= obs= count= skip= seek= conv=notrunc"),
      Argument.variadic()
    )
  },
  ({ operands }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const ops = parseOperands(operands)
        if (typeof ops === "string") {
          yield* errLine(`${TOOL}: ${ops}`)
          return yield* failed
        }
        const counts = { fullIn: 0, partialIn: 0, fullOut: 0, partialOut: 0 }
        let bytes = 0
        let start = 0
        let opened = false
        const copied = yield* Effect.scoped(Effect.gen(function*() {
          const input = yield* openInput(c, ops.input)
          const output = yield* openOutput(c, ops.output, !ops.notrunc && ops.seek === 0)
          // from here on dd has its summary to give (atexit), whatever happens
          opened = true
          start = yield* Clock.currentTimeMillis
          if (ops.skip > 0) yield* input.skip(ops.skip * ops.ibs)
          if (ops.seek > 0) yield* output.seek(ops.seek * ops.obs, ops.notrunc)
          let pending = new Uint8Array(0)
          const put = (block: Uint8Array) =>
            Effect.gen(function*() {
              yield* output.write(block)
              if (block.byteLength === ops.obs) counts.fullOut++
              else counts.partialOut++
              bytes += block.byteLength
            })
          while (ops.count === undefined || counts.fullIn + counts.partialIn < ops.count) {
            const block = yield* input.read(ops.ibs)
            if (block.byteLength === 0) break
            if (block.byteLength === ops.ibs) counts.fullIn++
            else counts.partialIn++
            if (ops.blockForBlock) {
              yield* put(block)
              continue
            }
            const joined = new Uint8Array(pending.byteLength + block.byteLength)
            joined.set(pending)
            joined.set(block, pending.byteLength)
            let at = 0
            for (; joined.byteLength - at >= ops.obs; at += ops.obs) yield* put(joined.subarray(at, at + ops.obs))
            pending = joined.slice(at)
          }
          if (pending.byteLength > 0) yield* put(pending)
        })).pipe(
          Effect.as(true),
          Effect.catch((e) => (e instanceof Refused ? Effect.as(warn(TOOL, e.path, e.why), false) : Effect.fail(e)))
        )
        if (opened) yield* errLine(summary(counts, bytes, (yield* Clock.currentTimeMillis) - start))
        if (!copied) return yield* failed
      }))
).pipe(Command.withDescription("Copy blocks between files (rump.dd): if= of= bs= ibs= obs= count= skip= seek= conv=notrunc."))
