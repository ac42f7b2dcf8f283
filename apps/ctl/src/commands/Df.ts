/**
 * `sysproxy df [-hk] [file ...]` (df(1)): each mounted file system
 * (getvfsstat), or the one each file is on (statvfs1), as
 * `Filesystem 512-blocks Used Avail %Cap Mounted on` (1K-blocks with -k,
 * sizes such as 12M with -h). A kernel without these calls (ENOSYS) gets
 * one clear line and exit 1, not a table of nothing.
 */
import type { SyscallError } from "@sysproxy/client"
import { mountFlags, statvfsFlags } from "@sysproxy/protocol/netbsd"
import { Effect, Result } from "effect"
import { Argument, Command } from "effect/cli"
import { type FsStats, mounted, statvfs } from "../Calls.ts"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { switchFlag } from "../Flags.ts"
import { humanSize } from "../format/Sizes.ts"
import { errLine, line, warn } from "../Output.ts"

const TOOL = "df"

/** The line for a kernel that has no file system statistics at all. */
export const noStatistics = (e: SyscallError) =>
  `${TOOL}: the server's kernel does not report file system statistics (${e.syscall}: ${e.description})`

const row = (fs: FsStats, human: boolean, unit: number): Array<string> => {
  const used = fs.blocks - fs.bfree
  const capacity = used + fs.bavail === 0 ? 0 : Math.ceil((used * 100) / (used + fs.bavail))
  const size = (blocks: number) =>
    human ? humanSize(blocks * fs.frsize) : String(Math.floor((blocks * fs.frsize) / unit))
  return [fs.mntfromname, size(fs.blocks), size(used), size(fs.bavail), `${capacity}%`, fs.mntonname]
}

const table = (rows: ReadonlyArray<Array<string>>, header: Array<string>) => {
  const all = [header, ...rows]
  const width = (i: number) => Math.max(...all.map((r) => r[i]!.length))
  return all.map((r) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(width(0)) : i === r.length - 1 ? cell : cell.padStart(width(i)))).join(" ")
  )
}

export const df = Command.make(
  TOOL,
  {
    human: switchFlag("human-readable", "h", "sizes with a unit (K, M, G)"),
    kilo: switchFlag("kilobytes", "k", "1024-byte blocks"),
    files: Argument.String("file").pipe(Argument.variadic())
  },
  ({ files, human, kilo }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const unit = kilo ? 1024 : 512
        const header = ["Filesystem", human ? "Size" : kilo ? "1K-blocks" : "512-blocks", "Used", "Avail", "%Cap", "Mounted on"]
        const rows: Array<Array<string>> = []
        let missing: SyscallError | undefined
        const ok = yield* Effect.gen(function*() {
          if (files.length === 0) {
            const all = yield* mounted(c, mountFlags.MNT_NOWAIT).pipe(
              Effect.map((list): ReadonlyArray<FsStats> => list),
              Effect.catchTag("SyscallError", (e) => e.code === "ENOSYS" ? Effect.sync(() => (missing = e, [])) : Effect.fail(e))
            )
            for (const fs of all) rows.push(row(fs, human, unit))
            return missing === undefined
          }
          let fine = true
          for (const file of files) {
            const one = yield* statvfs(c, file, statvfsFlags.ST_NOWAIT).pipe(Effect.result)
            if (Result.isSuccess(one)) rows.push(row(one.success, human, unit))
            else if (one.failure._tag !== "SyscallError") return yield* one.failure
            else if (one.failure.code === "ENOSYS") missing ??= one.failure
            else yield* warn(TOOL, file, one.failure.description)
            fine = Result.isSuccess(one) && fine
          }
          return fine
        })
        if (missing !== undefined) {
          yield* errLine(noStatistics(missing))
          return yield* failed
        }
        for (const l of table(rows, header)) yield* line(l)
        if (!ok) return yield* failed
      }))
).pipe(Command.withDescription("Show free space of the server's file systems."))
