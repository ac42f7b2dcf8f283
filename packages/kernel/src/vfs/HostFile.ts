/**
 * A window of a host file that the kernel serves as one of its own files
 * (rump_server's `-d key=...,hostpath=...,size=...`, NetBSD's etfs): bytes
 * [offset, offset + size) of the host file, read and written in place with
 * positioned host I/O. The window's size is fixed when it is opened: reads
 * end at it and writes past it fail (ENOSPC), as a disk's would.
 */
import { Data, Effect, type Scope } from "effect"
import * as Fs from "node:fs"
import { onHost } from "./HostIo.ts"

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

export class HostFile {
  readonly hostPath: string
  readonly size: number
  private readonly fd: number
  private readonly offset: number

  constructor(hostPath: string, fd: number, offset: number, size: number) {
    this.hostPath = hostPath
    this.fd = fd
    this.offset = offset
    this.size = size
  }

  /** Up to `len` bytes at `pos` of the window, fewer at its end. Throws HostIoError. */
  read(pos: number, len: number): Uint8Array {
    const n = Math.max(0, Math.min(len, this.size - pos))
    const out = new Uint8Array(n)
    let done = 0
    while (done < n) {
      const got = onHost(this.hostPath, () => Fs.readSync(this.fd, out, done, n - done, this.offset + pos + done))
      // the host file shrank behind our back: what is gone reads as zeros
      if (got === 0) break
      done += got
    }
    return out
  }

  /** Writes all of `data` at `pos`; false (nothing written) when it does not fit in the window. Throws HostIoError. */
  write(pos: number, data: Uint8Array): boolean {
    if (pos < 0 || pos + data.length > this.size) return false
    let done = 0
    while (done < data.length) {
      done += onHost(this.hostPath, () => Fs.writeSync(this.fd, data, done, data.length - done, this.offset + pos + done))
    }
    return true
  }

  /** fsync(2) of the host file. Throws HostIoError. */
  sync(): void {
    onHost(this.hostPath, () => Fs.fsyncSync(this.fd))
  }

  close(): void {
    Fs.closeSync(this.fd)
  }
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/**
 * Opens the host file read-write, creating it (mode 0644) when it is
 * missing and a size is given, and growing it (never shrinking it) so the
 * whole window exists. Closed when the scope closes.
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
    (file) => Effect.sync(() => file.close())
  )
