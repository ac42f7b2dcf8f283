/**
 * `sysproxy du [-s] [-h|-k] [file ...]` (du(1)): the space each
 * directory uses with everything under it (st_blocks summed, a file with
 * several links counted once), in 512-byte blocks (1024 with -k, sizes
 * such as 12K with -h), one line per directory, deepest first; -s only
 * the total of each operand. Links are not followed.
 */
import { type CallError, isDirectory, type SysproxyProcess } from "@sysproxy/client"
import { Effect, Result, type Stdio } from "effect"
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { switchFlag } from "../Flags.ts"
import { humanSize } from "../format/Sizes.ts"
import { line, warn } from "../Output.ts"
import { joinPath } from "../Walk.ts"

const TOOL = "du"

interface Options {
  readonly summary: boolean
  readonly show: (blocks: number) => string
}

/** The blocks under `path`; prints each directory's line unless -s. ok false when anything was refused. */
const usage = (
  c: SysproxyProcess,
  path: string,
  seen: Set<string>,
  options: Options,
  state: { ok: boolean },
  top: boolean
): Effect.Effect<number, CallError, Stdio.Stdio> =>
  Effect.gen(function*() {
    const st = yield* c.lstat(path).pipe(Effect.result)
    if (Result.isFailure(st)) {
      if (st.failure._tag !== "SyscallError") return yield* st.failure
      yield* warn(TOOL, path, st.failure.description)
      state.ok = false
      return 0
    }
    const key = `${st.success.dev}:${st.success.ino}`
    if (st.success.nlink > 1 && !isDirectory(st.success)) {
      if (seen.has(key)) return 0
      seen.add(key)
    }
    let blocks = st.success.blocks
    if (isDirectory(st.success)) {
      const entries = yield* c.readdir(path).pipe(Effect.result)
      if (Result.isFailure(entries)) {
        if (entries.failure._tag !== "SyscallError") return yield* entries.failure
        yield* warn(TOOL, path, entries.failure.description)
        state.ok = false
      } else {
        const names = entries.success.map((d) => d.name).filter((n) => n !== "." && n !== "..").sort()
        for (const name of names) blocks += yield* usage(c, joinPath(path, name), seen, options, state, false)
      }
      if (!options.summary) yield* line(`${options.show(blocks)}\t${path}`)
    } else if (top && !options.summary) {
      // a file named on the command line gets its line too
      yield* line(`${options.show(blocks)}\t${path}`)
    }
    if (top && options.summary) yield* line(`${options.show(blocks)}\t${path}`)
    return blocks
  })

export const du = Command.make(
  TOOL,
  {
    summary: switchFlag("summarize", "s", "only a total for each operand"),
    human: switchFlag("human-readable", "h", "sizes with a unit (K, M, G)"),
    kilo: switchFlag("kilobytes", "k", "1024-byte blocks"),
    files: Argument.String("file").pipe(Argument.variadic())
  },
  ({ files, human, kilo, summary }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const show = (blocks: number) =>
          human ? humanSize(blocks * 512) : String(kilo ? Math.ceil(blocks / 2) : blocks)
        const state = { ok: true }
        const seen = new Set<string>()
        for (const file of files.length === 0 ? ["."] : files) yield* usage(c, file, seen, { summary, show }, state, true)
        if (!state.ok) return yield* failed
      }))
).pipe(Command.withDescription("Show the space files and directories use on the server."))
