/**
 * `sysproxy df [-ahkn] [file ...]` (df(1)): each mounted file system, or
 * the one each file is on, as `Filesystem 512-blocks Used Avail %Cap
 * Mounted on` (1K-blocks with -k, sizes such as 12M with -h). As NetBSD's
 * df: the mounts are listed (getvfsstat, MNT_NOWAIT), then each is asked
 * again for fresh figures (statvfs, ST_WAIT) unless -n, which shows what
 * the kernel remembers from the last fresh look; -a shows those marked
 * MNT_IGNORE too (and takes the whole list fresh, getvfsstat MNT_WAIT); a
 * file operand is always asked fresh. Avail is the free blocks less those
 * kept for root; %Cap is used / (used + avail), rounded toward zero as
 * strspct(3) does. A kernel without these calls (ENOSYS) gets one clear
 * line and exit 1, not a table of nothing.
 */
import type { CallError, SyscallError, SysproxyProcess } from "@sysproxy/client"
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

/** strspct(used, total, 0): the whole percentage, rounded toward zero; 100 for an empty file system. */
export const capacity = (used: number, total: number): number => (total === 0 ? 100 : Math.trunc((used * 100) / total))

const row = (fs: FsStats, human: boolean, unit: number): Array<string> => {
  const used = fs.blocks - fs.bfree
  const avail = fs.bfree - fs.bresvd
  const size = (blocks: number) =>
    human ? humanSize(blocks * fs.frsize) : String(Math.floor((blocks * fs.frsize) / unit))
  return [fs.mntfromname, size(fs.blocks), size(used), size(avail), `${capacity(used, used + avail)}%`, fs.mntonname]
}

const table = (rows: ReadonlyArray<Array<string>>, header: Array<string>) => {
  const all = [header, ...rows]
  const width = (i: number) => Math.max(...all.map((r) => r[i]!.length))
  return all.map((r) =>
    r.map((cell, i) => (i === 0 ? cell.padEnd(width(0)) : i === r.length - 1 ? cell : cell.padStart(width(i)))).join(" ")
  )
}

/**
 * regetmntinfo: the mounts to show, fresh unless `remembered`. A mount
 * whose fresh look fails, or answers for another file system (one mounted
 * over it since), keeps its listed figures.
 */
const mountsToShow = (
  c: SysproxyProcess,
  all: boolean,
  remembered: boolean
): Effect.Effect<ReadonlyArray<FsStats>, CallError> =>
  Effect.gen(function*() {
    if (all) return yield* mounted(c, remembered ? mountFlags.MNT_NOWAIT : mountFlags.MNT_WAIT)
    const listed = (yield* mounted(c, mountFlags.MNT_NOWAIT)).filter((fs) => (fs.flag & mountFlags.MNT_IGNORE) === 0)
    if (remembered) return listed
    const out: Array<FsStats> = []
    for (const fs of listed) {
      const now = yield* statvfs(c, fs.mntonname, statvfsFlags.ST_WAIT).pipe(
        Effect.catchTag("SyscallError", () => Effect.succeed(fs))
      )
      out.push(now.mntfromname === fs.mntfromname ? now : fs)
    }
    return out
  })

export const df = Command.make(
  TOOL,
  {
    all: switchFlag("all", "a", "every mounted file system, those marked ignore too"),
    human: switchFlag("human-readable", "h", "sizes with a unit (K, M, G)"),
    kilo: switchFlag("kilobytes", "k", "1024-byte blocks"),
    remembered: switchFlag("no-refresh", "n", "the figures the kernel has from its last fresh look, without asking again"),
    files: Argument.String("file").pipe(Argument.variadic())
  },
  ({ all, files, human, kilo, remembered }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const unit = kilo ? 1024 : 512
        const header = ["Filesystem", human ? "Size" : kilo ? "1K-blocks" : "512-blocks", "Used", "Avail", "%Cap", "Mounted on"]
        const rows: Array<Array<string>> = []
        let missing: SyscallError | undefined
        const ok = yield* Effect.gen(function*() {
          if (files.length === 0) {
            const list = yield* mountsToShow(c, all, remembered).pipe(
              Effect.catchTag("SyscallError", (e) => e.code === "ENOSYS" ? Effect.sync(() => (missing = e, [])) : Effect.fail(e))
            )
            for (const fs of list) rows.push(row(fs, human, unit))
            return missing === undefined
          }
          let fine = true
          for (const file of files) {
            // as NetBSD's df: statvfs takes no wait flag there, so a file is always asked fresh
            const one = yield* statvfs(c, file, statvfsFlags.ST_WAIT).pipe(Effect.result)
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
