/**
 * Every call the host-backed file system makes to the host, asynchronous:
 * node:fs's callback API, which runs each call on libuv's thread pool, so
 * a slow disk holds up the client waiting for it and nobody else (the
 * pool's size is ThreadPool.ts's). A failure is a HostError carrying the
 * NetBSD errno; anything else node:fs throws (a bad argument) is a defect.
 *
 * Paths are HostPaths only (HostPath.ts: a descriptor, or one name in the
 * directory a descriptor holds), apart from the tree's root, which the
 * server's operator names. Calls that change the host run uninterruptibly:
 * once handed to the host a change happens, so its caller always learns
 * the outcome (and can record it, see Sidecar.ts). Opens are made in a
 * Scope by HostTree, which closes what they return.
 *
 * A service, so that tests can make the host fail (ENOSPC, EIO) where they want.
 */
import { Context, Effect, Layer } from "effect"
import * as Fs from "node:fs"
import { HostError, hostError, isSystemError } from "./HostError.ts"
import type { HostPath } from "./HostPath.ts"

/** A host stat: node:fs's with bigint fields (inode numbers and nanoseconds stay exact). */
export type HostStat = Fs.BigIntStats

/** A host statfs: node:fs's with bigint fields. */
export type HostStatfs = Fs.BigIntStatsFs

/** A host directory open for reading, and one entry of it. */
export type HostDirStream = Fs.Dir
export type HostDirEntry = Fs.Dirent<Buffer>

/** O_PATH (Linux): a descriptor that names a node without opening it for I/O; node:fs passes flags through. */
export const O_PATH = 0o10000000

export interface HostCallsService {
  /** The tree's root directory (an operator's path), as a path descriptor. */
  readonly openRoot: (path: string) => Effect.Effect<number, HostError>
  readonly open: (path: HostPath, flags: number, mode: number) => Effect.Effect<number, HostError>
  readonly close: (fd: number) => Effect.Effect<void>
  readonly fstat: (fd: number) => Effect.Effect<HostStat, HostError>
  readonly lstat: (path: HostPath) => Effect.Effect<HostStat, HostError>
  /** Positioned read: bytes read, 0 at the end of the file. */
  readonly read: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => Effect.Effect<number, HostError>
  /** Positioned write: bytes written (maybe fewer than asked). */
  readonly write: (fd: number, buffer: Uint8Array, offset: number, length: number, position: number) => Effect.Effect<number, HostError>
  readonly fsync: (fd: number) => Effect.Effect<void, HostError>
  readonly fdatasync: (fd: number) => Effect.Effect<void, HostError>
  readonly ftruncate: (fd: number, length: number) => Effect.Effect<void, HostError>
  /** truncate(2) of what `path` leads to (called on `/proc/self/fd/N`: the node N holds). */
  readonly truncate: (path: HostPath, length: number) => Effect.Effect<void, HostError>
  /** statfs(2) of the file system `path` is on. */
  readonly statfs: (path: HostPath) => Effect.Effect<HostStatfs, HostError>
  readonly mkdir: (path: HostPath, mode: number) => Effect.Effect<void, HostError>
  readonly unlink: (path: HostPath) => Effect.Effect<void, HostError>
  readonly rmdir: (path: HostPath) => Effect.Effect<void, HostError>
  readonly rename: (from: HostPath, to: HostPath) => Effect.Effect<void, HostError>
  /** A hard link; `from` is not followed. */
  readonly link: (from: HostPath, to: HostPath) => Effect.Effect<void, HostError>
  readonly symlink: (target: Buffer, path: HostPath) => Effect.Effect<void, HostError>
  readonly readlink: (path: HostPath) => Effect.Effect<Buffer, HostError>
  /** These follow `path`: they are called on `/proc/self/fd/N`, which leads to the node N holds and no further. */
  readonly chmod: (path: HostPath, mode: number) => Effect.Effect<void, HostError>
  readonly chown: (path: HostPath, uid: number, gid: number) => Effect.Effect<void, HostError>
  /** Times in seconds (node:fs takes no nanoseconds: a double keeps about a quarter of a microsecond). */
  readonly utimes: (path: HostPath, atime: number, mtime: number) => Effect.Effect<void, HostError>
  /** A directory stream reading `bufferSize` entries per host call. */
  readonly opendir: (path: HostPath, bufferSize: number) => Effect.Effect<HostDirStream, HostError>
  /** The next entry (never `.` or `..`), null at the end. */
  readonly readdir: (dir: HostDirStream) => Effect.Effect<HostDirEntry | null, HostError>
  readonly closedir: (dir: HostDirStream) => Effect.Effect<void>
}

export class HostCalls extends Context.Service<HostCalls, HostCallsService>()("@sysproxy/kernel/HostCalls") {
  /** node:fs on libuv's thread pool. */
  static readonly layer: Layer.Layer<HostCalls> = Layer.sync(HostCalls, () => nodeHostCalls)
}

type Callback<A> = (err: NodeJS.ErrnoException | null, value: A) => void

const fail = (syscall: string, err: unknown): Effect.Effect<never, HostError> =>
  isSystemError(err) ? Effect.fail(hostError(err.code, err.syscall ?? syscall)) : Effect.die(err)

/** One host call: `start` hands node:fs the callback that resumes the fiber. */
const call = <A>(syscall: string, start: (cb: Callback<A>) => void): Effect.Effect<A, HostError> =>
  Effect.callback<A, HostError>((resume) => {
    start((err, value) => resume(err === null ? Effect.succeed(value) : fail(syscall, err)))
  })

/** A call that changes the host: once started it is waited for, interruption or not. */
const change = (syscall: string, start: (cb: (err: NodeJS.ErrnoException | null) => void) => void): Effect.Effect<void, HostError> =>
  Effect.uninterruptible(call<void>(syscall, (cb) => start((err) => cb(err, undefined))))

const voidCall = (syscall: string, start: (cb: (err: NodeJS.ErrnoException | null) => void) => void): Effect.Effect<void, HostError> =>
  call<void>(syscall, (cb) => start((err) => cb(err, undefined)))

const BIGINT = { bigint: true } as const

/** An open whose descriptor must not be lost: an interrupted open still returns it (HostTree's acquireRelease closes it). */
const openCall = (syscall: string, start: (cb: Callback<number>) => void): Effect.Effect<number, HostError> =>
  Effect.uninterruptible(call(syscall, start))

export const nodeHostCalls: HostCallsService = {
  openRoot: (path) => openCall("open", (cb) => Fs.open(path, O_PATH | Fs.constants.O_DIRECTORY, cb)),
  open: (path, flags, mode) => openCall("open", (cb) => Fs.open(path, flags, mode, cb)),
  close: (fd) => Effect.callback<void>((resume) => Fs.close(fd, () => resume(Effect.void))),
  fstat: (fd) => call("fstat", (cb) => Fs.fstat(fd, BIGINT, cb)),
  lstat: (path) => call("lstat", (cb) => Fs.lstat(path, BIGINT, cb)),
  read: (fd, buffer, offset, length, position) =>
    call("read", (cb) => Fs.read(fd, buffer, offset, length, position, (err, n) => cb(err, n))),
  write: (fd, buffer, offset, length, position) =>
    Effect.uninterruptible(call("write", (cb) => Fs.write(fd, buffer, offset, length, position, (err, n) => cb(err, n)))),
  fsync: (fd) => voidCall("fsync", (cb) => Fs.fsync(fd, cb)),
  fdatasync: (fd) => voidCall("fdatasync", (cb) => Fs.fdatasync(fd, cb)),
  ftruncate: (fd, length) => change("ftruncate", (cb) => Fs.ftruncate(fd, length, cb)),
  truncate: (path, length) => change("truncate", (cb) => Fs.truncate(path, length, cb)),
  statfs: (path) => call("statfs", (cb) => Fs.statfs(path, BIGINT, cb)),
  mkdir: (path, mode) => change("mkdir", (cb) => Fs.mkdir(path, { mode }, (err) => cb(err))),
  unlink: (path) => change("unlink", (cb) => Fs.unlink(path, cb)),
  rmdir: (path) => change("rmdir", (cb) => Fs.rmdir(path, cb)),
  rename: (from, to) => change("rename", (cb) => Fs.rename(from, to, cb)),
  link: (from, to) => change("link", (cb) => Fs.link(from, to, cb)),
  symlink: (target, path) => change("symlink", (cb) => Fs.symlink(target, path, cb)),
  readlink: (path) => call("readlink", (cb) => Fs.readlink(path, { encoding: "buffer" }, cb)),
  chmod: (path, mode) => change("chmod", (cb) => Fs.chmod(path, mode, cb)),
  chown: (path, uid, gid) => change("chown", (cb) => Fs.chown(path, uid, gid, cb)),
  utimes: (path, atime, mtime) => change("utime", (cb) => Fs.utimes(path, atime, mtime, cb)),
  opendir: (path, bufferSize) =>
    // "buffer": names as the host's bytes (the types know only text encodings)
    call("opendir", (cb) => Fs.opendir(path, { encoding: "buffer" as BufferEncoding, bufferSize }, cb)),
  readdir: (dir) => call("scandir", (cb) => dir.read((err, entry) => cb(err, entry as HostDirEntry | null))),
  closedir: (dir) => Effect.callback<void>((resume) => dir.close(() => resume(Effect.void)))
}
