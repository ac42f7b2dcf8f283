/**
 * libuv's thread pool, where every host call of the host file system runs
 * (HostCalls.ts), beside dns.lookup, crypto and zlib: how many clients' host
 * I/O can wait on the disk at once. Its size is UV_THREADPOOL_SIZE (libuv's
 * default 4, at most 1024), which libuv reads once, when the pool starts at
 * the first call that needs it; loading modules does not start it.
 *
 * So a program that sizes it must do so before its first asynchronous file
 * call (reading a config file with fs.promises included): `setThreadPoolSize`
 * sets the variable, and fails when the pool runs already with another size,
 * rather than let the setting be ignored in silence. The threads are counted
 * by their name (Linux names them libuv-worker), read synchronously from
 * /proc: an asynchronous read would start the pool it looks for.
 */
import { Data, Effect } from "effect"
import * as Fs from "node:fs"

/** libuv's default and largest pool sizes. */
export const THREADPOOL_DEFAULT = 4
export const THREADPOOL_MAX = 1024

export class ThreadPoolStarted extends Data.TaggedError("ThreadPoolStarted")<{
  readonly running: number
  readonly wanted: number
  readonly message: string
}> {}

/** libuv's pool threads running in this process; undefined where that cannot be told (no /proc). */
export const poolThreads = (): number | undefined => {
  try {
    let n = 0
    for (const task of Fs.readdirSync("/proc/self/task")) {
      try {
        if (Fs.readFileSync(`/proc/self/task/${task}/comm`, "latin1").startsWith("libuv-worker")) n++
      } catch {
        // the thread ended meanwhile
      }
    }
    return n
  } catch {
    return undefined
  }
}

/** Sets the pool's size (1 to THREADPOOL_MAX) for when it starts; fails when it runs already with another size. */
export const setThreadPoolSize = (size: number): Effect.Effect<void, ThreadPoolStarted> =>
  Effect.suspend(() => {
    if (!Number.isInteger(size) || size < 1 || size > THREADPOOL_MAX) {
      return Effect.die(new RangeError(`thread pool size ${size}: expected 1 to ${THREADPOOL_MAX}`))
    }
    const running = poolThreads() ?? 0
    if (running > 0 && running !== size) {
      return Effect.fail(
        new ThreadPoolStarted({
          running,
          wanted: size,
          message: `libuv's thread pool runs already with ${running} threads: its size must be set before the first host call`
        })
      )
    }
    process.env["UV_THREADPOOL_SIZE"] = String(size)
    return Effect.void
  })
