/**
 * A file tree in the kernel, visited as fts(3) gives it to chmod -R,
 * chown -R and find: the named path, then (for a directory) each entry in
 * name order, depth first, links not followed below the top; with
 * `postOrder` a directory comes after what is in it (find -depth). A path
 * that cannot be looked at or a directory that cannot be read is reported
 * (`tool: path: why`) and the walk goes on; the result says whether all
 * went well.
 */
import { type CallError, isDirectory, type Stat, type SysproxyProcess } from "@sysproxy/client"
import { Effect, Result, type Stdio } from "effect"
import { warn } from "./Output.ts"

export interface WalkEntry {
  readonly path: string
  readonly stat: Stat
  /** 0 for the path named. */
  readonly depth: number
}

/** What a visit says: whether it went well, and (in pre-order) whether to go into the directory (fts_set FTS_SKIP). */
export type Visited = boolean | { readonly ok: boolean; readonly descend: boolean }

export const joinPath = (dir: string, name: string) => (dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`)

export const walk = <R>(
  c: SysproxyProcess,
  tool: string,
  root: string,
  visit: (entry: WalkEntry) => Effect.Effect<Visited, CallError, R>,
  options: { readonly followRoot?: boolean; readonly postOrder?: boolean } = {}
): Effect.Effect<boolean, CallError, R | Stdio.Stdio> => {
  const postOrder = options.postOrder ?? false
  const go = (path: string, depth: number, follow: boolean): Effect.Effect<boolean, CallError, R | Stdio.Stdio> =>
    Effect.gen(function*() {
      const st = yield* (follow ? c.stat(path) : c.lstat(path)).pipe(Effect.result)
      if (Result.isFailure(st)) {
        if (st.failure._tag !== "SyscallError") return yield* st.failure
        yield* warn(tool, path, st.failure.description)
        return false
      }
      const entry = { path, stat: st.success, depth }
      if (!isDirectory(st.success)) return okOf(yield* visit(entry))
      let ok = true
      if (!postOrder) {
        const seen = yield* visit(entry)
        ok = okOf(seen)
        if (typeof seen !== "boolean" && !seen.descend) return ok
      }
      const entries = yield* c.readdir(path).pipe(Effect.result)
      if (Result.isFailure(entries)) {
        if (entries.failure._tag !== "SyscallError") return yield* entries.failure
        yield* warn(tool, path, entries.failure.description)
        ok = false
      } else {
        const names = entries.success.map((d) => d.name).filter((n) => n !== "." && n !== "..").sort()
        for (const name of names) ok = (yield* go(joinPath(path, name), depth + 1, false)) && ok
      }
      if (postOrder) ok = okOf(yield* visit(entry)) && ok
      return ok
    })
  return go(root, 0, options.followRoot ?? true)
}

const okOf = (v: Visited): boolean => (typeof v === "boolean" ? v : v.ok)
