/**
 * cp(1)'s work, between any two sides (kernel to kernel, host to kernel,
 * kernel to host): a file's bytes streamed across (see Transfer in the
 * client), a directory with -R made and filled entry by entry, a symbolic
 * link under -R copied as a link. NetBSD's cp is the model for what is
 * refused and how it is said: `cp: d is a directory (not copied).`,
 * `cp: b and a are identical (not copied).`, `cp: path: strerror`; one
 * refusal is reported and the rest still copied.
 */
import type { CallError } from "@sysproxy/client"
import { Effect, Result, type Stdio, Stream } from "effect"
import { errLine, warn } from "../Output.ts"
import { withProgress } from "../Progress.ts"
import type { FileInfo, HostEnv, Side, SideError } from "./Sides.ts"

export interface CopyOptions {
  /** The tool named in messages (cp, mv, put, get). */
  readonly tool: string
  /** -R: directories and what is in them; symbolic links as links. */
  readonly recursive: boolean
  /** -p: mode (set-id bits too), owner and times as the source's. */
  readonly preserve: boolean
  /** -f: a destination that cannot be opened is removed and made anew. */
  readonly force: boolean
  /** -q: no progress bar. */
  readonly quiet: boolean
  /**
   * mv: a file copy that fails once its destination is open leaves no
   * partial destination behind (it is unlinked, as NetBSD's mv does).
   */
  readonly removePartial?: boolean | undefined
}

export interface Endpoint {
  readonly side: Side
  readonly path: string
}

const shown = (e: Endpoint): string => e.side.label(e.path)

const sameFile = (a: FileInfo, b: FileInfo) => a.dev === b.dev && a.ino === b.ino && a.ino !== -1n

/** The stat of `e`, or undefined after the warning (a refusal); a lost connection fails. */
const statOf = (tool: string, e: Endpoint, follow: boolean) =>
  e.side.stat(e.path, follow).pipe(
    Effect.map((i): FileInfo | undefined => i),
    Effect.catchTag("OpFailed", (f) => Effect.as(warn(tool, shown(e), f.why), undefined))
  )

/** The stat of `e` when it exists; other refusals are reported as for statOf. */
const existing = (e: Endpoint, follow: boolean) =>
  e.side.stat(e.path, follow).pipe(
    Effect.map((i): FileInfo | undefined => i),
    Effect.catchTag("OpFailed", (f) => (f.code === "ENOENT" || f.code === "NotFound" ? Effect.succeed(undefined) : Effect.fail(f)))
  )

/** Runs a step; a refusal is warned about and gives false. */
const step = (tool: string, work: Effect.Effect<unknown, SideError, HostEnv | Stdio.Stdio>) =>
  work.pipe(
    Effect.as(true),
    Effect.catchTag("OpFailed", (f) => Effect.as(warn(tool, f.path, f.why), false))
  )

const preserveAttrs = (to: Endpoint, info: FileInfo) =>
  Effect.gen(function*() {
    // only root may give a file away: as cp -p, a refused chown is no error
    yield* to.side.chown(to.path, info.uid, info.gid).pipe(Effect.catchTag("OpFailed", () => Effect.void))
    yield* to.side.chmod(to.path, info.perm)
    yield* to.side.utimes(to.path, info.atime, info.mtime)
  })

const copyFile = (from: Endpoint, to: Endpoint, info: FileInfo, options: CopyOptions) => {
  // the destination is open (and truncated) once the writer starts on the source's bytes
  let opened = false
  // the source is opened before the destination is created, as cp(1) does: one that will not open leaves nothing behind
  const send = () =>
    Effect.scoped(Effect.flatMap(from.side.open(from.path), (source) =>
      to.side.write(
        to.path,
        info.perm & 0o777,
        withProgress(from.path, info.size, options.quiet, source).pipe(Stream.onStart(Effect.sync(() => (opened = true))))
      )))
  const removePartial = <E, R>(copy: Effect.Effect<void, E, R>) =>
    options.removePartial !== true ? copy : copy.pipe(
      Effect.tapError(() =>
        !opened ? Effect.void : to.side.unlink(to.path).pipe(
          Effect.catchTag("OpFailed", (f) => warn(options.tool, `${f.path}: remove`, f.why))
        ))
    )
  return removePartial(send().pipe(
    Effect.catchTag("OpFailed", (f) =>
      // -f: a destination that would not open is unlinked and created again
      options.force && f.path === to.side.label(to.path)
        ? Effect.andThen(to.side.unlink(to.path), send())
        : Effect.fail(f))
  ))
}

/**
 * Copies `from` to exactly `to` (already placed: no "into a directory"
 * here); true when everything under it was copied.
 */
export const copyEntry = (
  from: Endpoint,
  to: Endpoint,
  options: CopyOptions,
  made: Set<string> = new Set()
): Effect.Effect<boolean, CallError, HostEnv | Stdio.Stdio> =>
  Effect.gen(function*() {
    const { tool } = options
    // without -R, cp follows links; with it a link is copied as one
    const info = yield* statOf(tool, from, !options.recursive)
    if (info === undefined) return false
    // a directory this copy made (cp -R a a/b): copying it again would never end
    if (from.side.where === to.side.where && made.has(`${info.dev}:${info.ino}`)) {
      yield* errLine(`${tool}: ${shown(from)} is a directory this copy made (not copied again).`)
      return false
    }
    if (info.kind === "directory" && !options.recursive) {
      yield* errLine(`${tool}: ${shown(from)} is a directory (not copied).`)
      return false
    }
    const target = yield* existing(to, true).pipe(Effect.result)
    if (Result.isFailure(target)) return yield* step(tool, Effect.fail(target.failure))
    const present = target.success
    if (present !== undefined && from.side.where === to.side.where && sameFile(info, present)) {
      yield* errLine(`${tool}: ${shown(to)} and ${shown(from)} are identical (not copied).`)
      return false
    }
    if (info.kind === "directory") {
      if (present !== undefined && present.kind !== "directory") {
        yield* warn(tool, shown(to), "Not a directory")
        return false
      }
      if (present === undefined) {
        if (!(yield* step(tool, to.side.mkdir(to.path, info.perm | 0o700)))) return false
        const madeInfo = yield* to.side.stat(to.path, false).pipe(Effect.option)
        if (madeInfo._tag === "Some") made.add(`${madeInfo.value.dev}:${madeInfo.value.ino}`)
      }
      const names = yield* from.side.list(from.path).pipe(Effect.result)
      if (Result.isFailure(names)) return yield* step(tool, Effect.fail(names.failure))
      let ok = true
      for (const name of names.success) {
        const copied = yield* copyEntry(
          { side: from.side, path: from.side.join(from.path, name) },
          { side: to.side, path: to.side.join(to.path, name) },
          options,
          made
        )
        ok = copied && ok
      }
      if (options.preserve) ok = (yield* step(tool, preserveAttrs(to, info))) && ok
      else if (present === undefined) ok = (yield* step(tool, to.side.chmod(to.path, info.perm))) && ok
      return ok
    }
    if (info.kind === "symlink") {
      return yield* step(tool, Effect.gen(function*() {
        const linkTarget = yield* from.side.readlink(from.path)
        if (present !== undefined || (yield* existing(to, false)) !== undefined) yield* to.side.unlink(to.path)
        yield* to.side.symlink(linkTarget, to.path)
      }))
    }
    return yield* step(
      tool,
      Effect.andThen(copyFile(from, to, info, options), options.preserve ? preserveAttrs(to, info) : Effect.void)
    )
  })

/**
 * cp's operands: one source onto a target (into it when it is a
 * directory), or several sources into a directory. Fails (after saying
 * so) when several sources meet a target that is not a directory.
 */
export const placeCopies = (
  tool: string,
  sources: ReadonlyArray<Endpoint>,
  target: Endpoint
): Effect.Effect<Array<readonly [Endpoint, Endpoint]> | undefined, CallError, HostEnv | Stdio.Stdio> =>
  Effect.gen(function*() {
    const info = target.path === "-" && target.side.where === "host"
      ? undefined
      : yield* existing(target, true).pipe(Effect.orElseSucceed(() => undefined))
    const intoDir = info?.kind === "directory"
    if (sources.length > 1 && !intoDir) {
      yield* warn(tool, shown(target), "Not a directory")
      return undefined
    }
    return sources.map((s) =>
      [s, intoDir ? { side: target.side, path: target.side.join(target.path, s.side.basename(s.path)) } : target] as const
    )
  })
