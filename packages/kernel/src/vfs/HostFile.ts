/**
 * A window of a host file that the kernel serves as one of its own files
 * (rump_server's `-d key=...,hostpath=...,size=...`, NetBSD's etfs): bytes
 * [offset, offset + size) of the host file, read and written in place with
 * positioned host I/O, asynchronous (libuv's pool, host/HostCalls.ts), so a
 * slow disk holds up only the caller. The window's size is fixed when it
 * is opened: reads end at it and writes past it fail (ENOSPC), as a disk's
 * would. A host failure is the caller's errno (the host's ENOSPC, EIO, ...).
 */
import { Data, Effect, type Scope } from "effect"
import * as Fs from "node:fs"
import { SysErr } from "../kern/SysErr.ts"
import { type HostCallsService, nodeHostCalls } from "./host/HostCalls.ts"
import type { HostError } from "./host/HostError.ts"
import { HostFd } from "./host/HostFd.ts"

/** How rump_server names the three kinds of file a mapping may appear as. */
export const HostFileTypes = ["reg", "blk", "chr"] as const
export type HostFileType = (typeof HostFileTypes)[number]

export interface HostFileSpec {
  readonly hostPath: string
  /** Bytes of the window; "host": the host file's current size past `offset`. */
  readonly size: number | "host"
  /** Where the window starts in the host file (default 0). */
  readonly offset?: number | undefined
}

export class HostFileError extends Data.TaggedError("HostFileError")<{
  readonly hostPath: string
  readonly message: string
}> {}

const toSysErr = (e: HostError): SysErr => new SysErr({ errno: e.errno })

/** `n` bytes of the host file at `at`; what the host file no longer has (it shrank behind our back) reads as zeros. */
const readWindow = Effect.fnUntraced(function*(calls: HostCallsService, fd: number, n: number, at: number) {
  const out = new Uint8Array(n)
  let done = 0
  while (done < n) {
    const got = yield* calls.read(fd, out, done, n - done, at + done)
    if (got === 0) break
    done += got
  }
  return out
})

/** All of `data` into the host file at `at`, a short write going on from where it stopped. */
const writeWindow = Effect.fnUntraced(function*(calls: HostCallsService, fd: number, data: Uint8Array, at: number) {
  let done = 0
  while (done < data.length) done += yield* calls.write(fd, data, done, data.length - done, at + done)
  return true
})

export class HostFile {
  readonly hostPath: string
  readonly size: number
  readonly #fd: HostFd
  readonly #offset: number
  readonly #calls: HostCallsService

  constructor(hostPath: string, fd: number, offset: number, size: number, calls: HostCallsService = nodeHostCalls) {
    this.hostPath = hostPath
    this.#fd = new HostFd(fd, "io", calls.close)
    this.#offset = offset
    this.size = size
    this.#calls = calls
  }

  /** Up to `len` bytes at `pos` of the window, fewer at its end. */
  read(pos: number, len: number): Effect.Effect<Uint8Array, SysErr> {
    const n = Math.max(0, Math.min(len, this.size - pos))
    const calls = this.#calls
    const at = this.#offset + pos
    return Effect.mapError(this.#fd.use("read", (fd) => readWindow(calls, fd, n, at)), toSysErr)
  }

  /** Writes all of `data` at `pos`; false (nothing written) when it does not fit in the window. */
  write(pos: number, data: Uint8Array): Effect.Effect<boolean, SysErr> {
    if (pos < 0 || pos + data.length > this.size) return Effect.succeed(false)
    const calls = this.#calls
    const at = this.#offset + pos
    return Effect.mapError(this.#fd.use("write", (fd) => writeWindow(calls, fd, data, at)), toSysErr)
  }

  /** fsync(2) (or fdatasync) of the host file. */
  sync(dataOnly: boolean): Effect.Effect<void, SysErr> {
    const calls = this.#calls
    return Effect.mapError(this.#fd.use("fsync", (fd) => (dataOnly ? calls.fdatasync(fd) : calls.fsync(fd))), toSysErr)
  }

  /** Closes the host file once no call uses it. */
  get close(): Effect.Effect<void> {
    return this.#fd.close
  }
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/**
 * Opens the host file read-write, creating it (mode 0644) when it is
 * missing and a size is given, and growing it (never shrinking it) so the
 * whole window exists. Closed when the scope closes. This runs once at
 * startup, before the server serves anyone (and before libuv's pool
 * starts: its size may still be set).
 */
export const openHostFile = (spec: HostFileSpec): Effect.Effect<HostFile, HostFileError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        const offset = spec.offset ?? 0
        const fd = Fs.openSync(spec.hostPath, spec.size === "host" ? "r+" : Fs.constants.O_RDWR | Fs.constants.O_CREAT, 0o644)
        try {
          const stat = Fs.fstatSync(fd)
          if (!stat.isFile() && !stat.isBlockDevice() && !stat.isCharacterDevice()) {
            throw new Error("not a regular file or a device")
          }
          const size = spec.size === "host" ? Math.max(0, stat.size - offset) : spec.size
          if (stat.isFile() && stat.size < offset + size) Fs.ftruncateSync(fd, offset + size)
          return new HostFile(spec.hostPath, fd, offset, size)
        } catch (e) {
          Fs.closeSync(fd)
          throw e
        }
      },
      catch: (e) => new HostFileError({ hostPath: spec.hostPath, message: `${spec.hostPath}: ${describe(e)}` })
    }),
    (file) => file.close
  )
