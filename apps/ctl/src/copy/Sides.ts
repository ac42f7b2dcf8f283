/**
 * The two places a copy reads from and writes to, behind one interface:
 * the server's kernel (through the tool's client process) and the host
 * (through the FileSystem service, `-` being stdin or stdout). A refusal
 * of either is an OpFailed naming the path and saying why as strerror
 * would; a lost connection stays the CallError it is.
 */
import {
  type CallError,
  isDirectory,
  isRegularFile,
  isSymbolicLink,
  readStream,
  type Stat,
  SyscallError,
  type SysproxyProcess,
  type Timespec,
  TRANSFER_CHUNK,
  writeStream
} from "@sysproxy/client"
import { openFlags } from "@sysproxy/protocol/netbsd"
import { Cause, Data, Effect, FileSystem, Option, type PlatformError, type Scope, Stdio, Stream } from "effect"
import * as Path from "node:path"
import { chown, setTimes } from "../Calls.ts"
import type { Where } from "../HostPath.ts"
import { describeLocal } from "../HostErrors.ts"
import { removeTree } from "../commands/Rm.ts"

export class OpFailed extends Data.TaggedError("OpFailed")<{
  readonly path: string
  readonly why: string
  /** The errno's name (ENOENT ...), when there is one. */
  readonly code: string | undefined
}> {}

export type FileKind = "file" | "directory" | "symlink" | "other"

export interface FileInfo {
  readonly kind: FileKind
  /** Permission bits (07777). */
  readonly perm: number
  readonly size: number
  readonly dev: bigint
  readonly ino: bigint
  readonly uid: number
  readonly gid: number
  readonly atime: Timespec
  readonly mtime: Timespec
}

export type SideError = OpFailed | CallError

export type HostEnv = FileSystem.FileSystem | Stdio.Stdio

export interface Side {
  readonly where: Where
  /** A path as messages show it. */
  readonly label: (path: string) => string
  /** stat, or lstat when `follow` is false. */
  readonly stat: (path: string, follow: boolean) => Effect.Effect<FileInfo, SideError, HostEnv>
  /** The names in a directory, without . and .. */
  readonly list: (path: string) => Effect.Effect<Array<string>, SideError, HostEnv>
  readonly mkdir: (path: string, mode: number) => Effect.Effect<void, SideError, HostEnv>
  readonly readlink: (path: string) => Effect.Effect<string, SideError, HostEnv>
  readonly symlink: (target: string, path: string) => Effect.Effect<void, SideError, HostEnv>
  readonly unlink: (path: string) => Effect.Effect<void, SideError, HostEnv>
  /** Removes `path`, a directory with everything in it. */
  readonly removeTree: (path: string) => Effect.Effect<void, SideError, HostEnv>
  /**
   * Opens a file for reading (now, so a file that will not open is refused
   * before anything is created for it); its bytes from the start, as
   * chunks. Closed with the scope.
   */
  readonly open: (path: string) => Effect.Effect<Stream.Stream<Uint8Array, SideError, HostEnv>, SideError, Scope.Scope | HostEnv>
  /** Creates or truncates `path` (created with `mode`, less the umask) and writes the chunks. */
  readonly write: <E, R>(
    path: string,
    mode: number,
    chunks: Stream.Stream<Uint8Array, E, R>
  ) => Effect.Effect<void, SideError | E, R | HostEnv>
  readonly chmod: (path: string, mode: number) => Effect.Effect<void, SideError, HostEnv>
  readonly chown: (path: string, uid: number, gid: number) => Effect.Effect<void, SideError, HostEnv>
  readonly utimes: (path: string, atime: Timespec, mtime: Timespec) => Effect.Effect<void, SideError, HostEnv>
  readonly join: (dir: string, name: string) => string
  readonly basename: (path: string) => string
}

const kindOfMode = (s: Pick<Stat, "mode">): FileKind =>
  isRegularFile(s) ? "file" : isDirectory(s) ? "directory" : isSymbolicLink(s) ? "symlink" : "other"

/** A kernel refusal as OpFailed; the connection's own failures pass. */
const refused = (path: string) => <A, R>(effect: Effect.Effect<A, CallError, R>): Effect.Effect<A, SideError, R> =>
  Effect.catchTag(effect, "SyscallError", (e: SyscallError) => Effect.fail(new OpFailed({ path, why: e.description, code: e.code })))

export const kernelSide = (c: SysproxyProcess): Side => {
  const withFd = <A, E, R>(path: string, flags: number, mode: number, use: (fd: number) => Effect.Effect<A, E, R>) =>
    Effect.acquireUseRelease(refused(path)(c.open(path, flags, mode)), use, (fd) => Effect.ignore(c.close(fd)))
  return {
    where: "kernel",
    label: (path) => path,
    stat: (path, follow) =>
      refused(path)(follow ? c.stat(path) : c.lstat(path)).pipe(
        Effect.map((s): FileInfo => ({
          kind: kindOfMode(s),
          perm: s.mode & 0o7777,
          size: s.size,
          dev: BigInt(s.dev),
          ino: BigInt(s.ino),
          uid: s.uid,
          gid: s.gid,
          atime: s.atime,
          mtime: s.mtime
        }))
      ),
    list: (path) =>
      refused(path)(c.readdir(path)).pipe(
        Effect.map((ds) => ds.map((d) => d.name).filter((n) => n !== "." && n !== ".."))
      ),
    mkdir: (path, mode) => refused(path)(c.mkdir(path, mode)),
    readlink: (path) => refused(path)(c.readlink(path)),
    symlink: (target, path) => refused(path)(c.symlink(target, path)),
    unlink: (path) => refused(path)(c.unlink(path)),
    removeTree: (path) => refused(path)(removeTree(c, path)),
    open: (path) =>
      Effect.map(
        Effect.acquireRelease(refused(path)(c.open(path)), (fd) => Effect.ignore(c.close(fd))),
        (fd) =>
          readStream(c, fd).pipe(
            Stream.mapError((e) => (e instanceof SyscallError ? new OpFailed({ path, why: e.description, code: e.code }) : e))
          )
      ),
    write: (path, mode, chunks) =>
      withFd(path, openFlags.O_WRONLY | openFlags.O_CREAT | openFlags.O_TRUNC, mode, (fd) =>
        Effect.asVoid(writeStream(c, fd, chunks)).pipe(
          Effect.mapError((e) => (e instanceof SyscallError ? new OpFailed({ path, why: e.description, code: e.code }) : e))
        )),
    chmod: (path, mode) => refused(path)(c.chmod(path, mode)),
    chown: (path, uid, gid) => refused(path)(Effect.asVoid(chown(c, path, uid, gid))),
    utimes: (path, atime, mtime) => refused(path)(Effect.asVoid(setTimes(c, path, atime, mtime))),
    join: (dir, name) => (dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`),
    basename: (path) => Path.posix.basename(path)
  }
}

const hostFailure = (path: string, e: PlatformError.PlatformError) =>
  new OpFailed({ path, why: describeLocal(e), code: e.reason._tag === "BadArgument" ? undefined : e.reason._tag })

const timespecOf = (date: Option.Option<Date>): Timespec => {
  const ms = Option.match(date, { onNone: () => 0, onSome: (d) => d.getTime() })
  const sec = Math.floor(ms / 1000)
  return { sec: BigInt(sec), nsec: (ms - sec * 1000) * 1_000_000 }
}

/** A time as the host's utimes takes a number: in seconds (a fraction for the rest). */
const secondsOf = (ts: Timespec) => Number(ts.sec) + ts.nsec / 1e9

const kindOfHost = (type: FileSystem.File.Type): FileKind =>
  type === "File" ? "file" : type === "Directory" ? "directory" : type === "SymbolicLink" ? "symlink" : "other"

/**
 * The host's files; `prefix` goes before a path in messages (`host:` for
 * cp, where both sides appear; nothing for put and get).
 */
export const hostSide = (prefix: string): Side => {
const hostRefused = (path: string) => <A, R>(effect: Effect.Effect<A, PlatformError.PlatformError, R>) =>
  Effect.mapError(effect, (e) => hostFailure(`${prefix}${path}`, e))
return {
  where: "host",
  label: (path) => `${prefix}${path}`,
  stat: (path, follow) =>
    path === "-"
      ? Effect.succeed({
        kind: "other",
        perm: 0o666,
        size: 0,
        dev: -1n,
        ino: -1n,
        uid: 0,
        gid: 0,
        atime: timespecOf(Option.none()),
        mtime: timespecOf(Option.none())
      })
      : Effect.flatMap(FileSystem.FileSystem, (fs) =>
        hostRefused(path)(follow ? fs.stat(path) : fs.lstat(path)).pipe(
          Effect.map((i): FileInfo => ({
            kind: kindOfHost(i.type),
            perm: i.mode & 0o7777,
            size: Number(i.size),
            dev: i.dev,
            ino: Option.getOrElse(i.ino, () => -1n),
            uid: Option.getOrElse(i.uid, () => 0),
            gid: Option.getOrElse(i.gid, () => 0),
            atime: timespecOf(i.atime),
            mtime: timespecOf(i.mtime)
          }))
        )),
  list: (path) =>
    Effect.flatMap(FileSystem.FileSystem, (fs) => hostRefused(path)(fs.readDirectory(path))).pipe(
      Effect.map((names) => [...names].sort())
    ),
  mkdir: (path, mode) => Effect.flatMap(FileSystem.FileSystem, (fs) => hostRefused(path)(fs.makeDirectory(path, { mode }))),
  readlink: (path) => Effect.flatMap(FileSystem.FileSystem, (fs) => hostRefused(path)(fs.readLink(path))),
  symlink: (target, path) => Effect.flatMap(FileSystem.FileSystem, (fs) => hostRefused(path)(fs.symlink(target, path))),
  unlink: (path) => Effect.flatMap(FileSystem.FileSystem, (fs) => hostRefused(path)(fs.remove(path))),
  removeTree: (path) => Effect.flatMap(FileSystem.FileSystem, (fs) => hostRefused(path)(fs.remove(path, { recursive: true }))),
  open: (path) =>
    path === "-"
      ? Effect.map(Stdio.Stdio, (stdio) => stdio.stdin.pipe(Stream.mapError((e) => hostFailure(`${prefix}${path}`, e))))
      : Effect.gen(function*() {
        const file = yield* hostRefused(path)((yield* FileSystem.FileSystem).open(path, { flag: "r" }))
        const chunk = hostRefused(path)(file.readAlloc(TRANSFER_CHUNK)).pipe(
          Effect.flatMap(Option.match({ onNone: () => Cause.done(), onSome: (bytes) => Effect.succeed(bytes) }))
        )
        return Stream.fromEffectRepeat(chunk)
      }),
  write: (path, mode, chunks) =>
    path === "-"
      ? Effect.flatMap(Stdio.Stdio, (stdio) =>
        Stream.run(chunks, stdio.stdout()).pipe(
          // a closed stdout (`| head`) ends the copy quietly, as for cat
          Effect.catchTag("PlatformError", () => Effect.void)
        ))
      : Effect.scoped(Effect.gen(function*() {
        const fs = yield* FileSystem.FileSystem
        const file = yield* hostRefused(path)(fs.open(path, { flag: "w", mode }))
        yield* Stream.runForEach(chunks, (chunk) => hostRefused(path)(file.writeAll(chunk)))
      })),
  chmod: (path, mode) => Effect.flatMap(FileSystem.FileSystem, (fs) => hostRefused(path)(fs.chmod(path, mode))),
  chown: (path, uid, gid) => Effect.flatMap(FileSystem.FileSystem, (fs) => hostRefused(path)(fs.chown(path, uid, gid))),
  utimes: (path, atime, mtime) =>
    Effect.flatMap(FileSystem.FileSystem, (fs) => hostRefused(path)(fs.utimes(path, secondsOf(atime), secondsOf(mtime)))),
  join: (dir, name) => Path.join(dir, name),
  basename: (path) => Path.basename(path)
}
}
