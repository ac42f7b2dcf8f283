/**
 * What the server settles before the kernel mounts host directories:
 * libuv's thread pool size (`--io-threads`), which must be set before the
 * first asynchronous file call starts the pool, and how many vnodes each
 * host mount may keep (`--vnodes`): every kept vnode holds a host
 * descriptor, so all of them together must stay within the process's
 * RLIMIT_NOFILE with room left for clients' files and sockets.
 */
import { DEFAULT_VNODE_CACHE, setThreadPoolSize } from "@sysproxy/kernel"
import { Effect, Option } from "effect"
import * as Fs from "node:fs"
import { StartupError, UsageError } from "./AppErrors.ts"
import type { AppOptions } from "./AppOptions.ts"
import type { MountOption } from "./OptionRules.ts"

/** Descriptors kept for everything but the vnode caches (clients' open files, sockets, the sidecars). */
export const DESCRIPTOR_RESERVE = 1024

/** The soft RLIMIT_NOFILE, read synchronously from /proc (an asynchronous read would start the pool); none without /proc. */
export const openFileLimit = (): number | undefined => {
  try {
    const line = Fs.readFileSync("/proc/self/limits", "latin1").split("\n").find((l) => l.startsWith("Max open files"))
    const soft = line?.split(/\s+/)[3]
    return soft === undefined || soft === "unlimited" ? undefined : Number(soft)
  } catch {
    return undefined
  }
}

/** Two host directories on one kernel path: the second would hide the first. */
export const checkMountPoints = (mounts: ReadonlyArray<MountOption>): Effect.Effect<void, UsageError> => {
  const seen = new Set<string>()
  for (const m of mounts) {
    const at = "/" + m.at.split("/").filter((c) => c !== "" && c !== ".").join("/")
    if (seen.has(at)) return Effect.fail(new UsageError({ message: `two host directories mounted on ${at} (--root is /)` }))
    seen.add(at)
  }
  return Effect.void
}

/**
 * Each host mount's vnode cache: `--vnodes` as given (a usage error when
 * all of them would not fit the descriptor limit), else the default, cut
 * down to what fits.
 */
export const vnodeCacheSize = (
  requested: Option.Option<number>,
  mounts: number,
  limit: number | undefined = openFileLimit()
): Effect.Effect<number | undefined, UsageError> => {
  if (mounts === 0) return Effect.succeed(Option.getOrUndefined(requested))
  const room = limit === undefined ? Number.POSITIVE_INFINITY : Math.floor((limit - DESCRIPTOR_RESERVE) / mounts)
  if (Option.isSome(requested)) {
    return requested.value <= room
      ? Effect.succeed(requested.value)
      : Effect.fail(
        new UsageError({
          message: `--vnodes ${requested.value} for ${mounts} host mounts needs more descriptors than RLIMIT_NOFILE (${limit}) leaves: at most ${
            Math.max(0, room)
          } each`
        })
      )
  }
  return Effect.succeed(Math.max(16, Math.min(DEFAULT_VNODE_CACHE, room)))
}

/** Sets libuv's pool size when asked; a pool running already with another size is a startup error. */
export const sizeThreadPool = (o: AppOptions): Effect.Effect<void, StartupError> =>
  Option.match(o.ioThreads, {
    onNone: () => Effect.void,
    onSome: (n) => Effect.mapError(setThreadPoolSize(n), (e) => new StartupError({ message: `--io-threads ${n}: ${e.message}` }))
  })
