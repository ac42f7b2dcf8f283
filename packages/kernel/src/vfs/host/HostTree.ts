/**
 * A host directory tree, as the host-backed file system reaches it: every
 * host call confined to the tree, every one asynchronous (HostCalls).
 *
 * The confinement is the host kernel's, not a check of ours. The root is
 * held by a path descriptor (O_PATH) opened once, from the operator's path.
 * Everything else is reached one name at a time from a descriptor: a step
 * opens `/proc/self/fd/N/name` (HostPath.ts) with O_NOFOLLOW, so the host
 * resolves `name` in the directory N holds and refuses to follow it if it
 * is a symlink (O_DIRECTORY too for a directory to walk through: a symlink
 * there is ENOTDIR). A host process that swaps a directory of the tree for
 * a symlink to `/` at any moment makes a step fail; it never makes one land
 * outside. Symlinks of the tree are read (readlink) and resolved by the
 * kernel's namei inside its own namespace.
 *
 * What a lookup gives is a path descriptor of the node (`lookup`): it pins
 * the node (the host inode) whatever happens to its name later. Attributes
 * are changed through it (chmod, chown, utimes on `/proc/self/fd/N`, which
 * lead to that node and no further: a symlink's own owner and times, never
 * its target's), and its data is opened through it (`reopen`), for regular
 * files and directories only: the host's own devices, fifos and sockets
 * are never opened, so opening one has no effect on the host. A new file
 * is created with O_EXCL (`create`): the name must be new, nothing is
 * followed.
 *
 * One caveat the host allows: a directory moved out of the tree by a host
 * process while the kernel holds it stays reachable through the descriptor
 * the kernel holds (as an open directory does on any kernel). Moving it
 * needs write access outside the tree, so only a process that could reach
 * that place anyway can arrange it.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect, Scope } from "effect"
import * as Fs from "node:fs"
import { HostCalls, type HostCallsService, type HostDirStream, type HostStat, type HostStatfs, O_PATH } from "./HostCalls.ts"
import { HostError } from "./HostError.ts"
import { HostFd } from "./HostFd.ts"
import { type HostPath, nameOfBytes, procNamePath, procPath } from "./HostPath.ts"

const { O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_RDONLY } = Fs.constants
const O_ACCMODE = 3

/** The kinds of node a host tree holds (the host's own; see Sidecar.ts for what it cannot hold). */
export type HostNodeType = "reg" | "dir" | "lnk" | "chr" | "blk" | "fifo" | "sock"

/** The kind of node a host stat describes. */
export const hostTypeOf = (st: HostStat): HostNodeType =>
  st.isFile()
    ? "reg"
    : st.isDirectory()
    ? "dir"
    : st.isSymbolicLink()
    ? "lnk"
    : st.isCharacterDevice()
    ? "chr"
    : st.isBlockDevice()
    ? "blk"
    : st.isFIFO()
    ? "fifo"
    : "sock"

/** One entry of a host directory: its name, and its type when the host's listing says it (d_type). */
export interface HostDirent {
  readonly name: string
  readonly type: HostNodeType | undefined
}

const entryType = (e: Fs.Dirent<Buffer>): HostNodeType | undefined =>
  e.isFile()
    ? "reg"
    : e.isDirectory()
    ? "dir"
    : e.isSymbolicLink()
    ? "lnk"
    : e.isCharacterDevice()
    ? "chr"
    : e.isBlockDevice()
    ? "blk"
    : e.isFIFO()
    ? "fifo"
    : e.isSocket()
    ? "sock"
    : undefined

const refusal = (errno: number, code: string, syscall: string, message: string): HostError =>
  new HostError({ errno, code, syscall, message: `${syscall}: ${message}` })

/** `open` once the node's host type allows it: a regular file, or a directory for reading only. */
const checkedReopen: <R>(
  calls: HostCallsService,
  node: HostFd,
  flags: number,
  open: Effect.Effect<HostFd, HostError, R>
) => Effect.Effect<HostFd, HostError, R> = Effect.fnUntraced(
  function*<R>(calls: HostCallsService, node: HostFd, flags: number, open: Effect.Effect<HostFd, HostError, R>) {
    const type = hostTypeOf(yield* node.use("fstat", (fd) => calls.fstat(fd)))
    if (type !== "reg" && type !== "dir") {
      return yield* refusal(Errno.EOPNOTSUPP, "EOPNOTSUPP", "open", `a host ${type} is not opened`)
    }
    if (type === "dir" && (flags & O_ACCMODE) !== O_RDONLY) {
      return yield* refusal(Errno.EISDIR, "EISDIR", "open", "a directory is opened read-only")
    }
    return yield* open
  }
)

/** Up to `length` bytes at `position` of the host descriptor `fd`; short only at the file's end. */
const readAt = Effect.fnUntraced(function*(calls: HostCallsService, fd: number, length: number, position: number) {
  const out = new Uint8Array(length)
  let done = 0
  while (done < length) {
    const n = yield* calls.read(fd, out, done, length - done, position + done)
    done += n
    if (n === 0 || done < length) break
  }
  return done === length ? out : out.subarray(0, done)
})

/** Entries read per host call when a directory is listed. */
export const READDIR_CHUNK = 64

/**
 * A host directory open for listing, read in pieces: `next(max)` takes up
 * to `max` more entries (none at the end), reading from the host only as
 * many as asked for (in chunks of READDIR_CHUNK).
 */
export class HostDirReader {
  readonly #calls: HostCallsService
  readonly #dir: HostDirStream
  #ended = false

  constructor(calls: HostCallsService, dir: HostDirStream) {
    this.#calls = calls
    this.#dir = dir
  }

  get ended(): boolean {
    return this.#ended
  }

  next(max: number): Effect.Effect<ReadonlyArray<HostDirent>, HostError> {
    return HostDirReader.#next(this, max)
  }

  // made once for the class, not per call (a generator function per call survives young collections)
  static readonly #next = Effect.fnUntraced(function*(self: HostDirReader, max: number) {
    const out: Array<HostDirent> = []
    while (out.length < max && !self.#ended) {
      const e = yield* self.#calls.readdir(self.#dir)
      if (e === null) self.#ended = true
      else out.push({ name: nameOfBytes(e.name), type: entryType(e) })
    }
    return out
  })
}

export class HostTree {
  readonly calls: HostCallsService
  /** The root directory, by a path descriptor. */
  readonly root: HostFd
  /** The root as it was when the tree was opened (its dev is the tree's). */
  readonly rootStat: HostStat

  private constructor(calls: HostCallsService, root: HostFd, rootStat: HostStat) {
    this.calls = calls
    this.root = root
    this.rootStat = rootStat
  }

  /**
   * The tree at `hostPath` (the operator's path: symlinks on the way to it
   * are followed, once, now). Its root descriptor is closed with the scope.
   */
  static open(hostPath: string): Effect.Effect<HostTree, HostError, Scope.Scope | HostCalls> {
    return Effect.gen(function*() {
      const calls = yield* HostCalls
      const root = yield* Effect.acquireRelease(
        Effect.map(calls.openRoot(hostPath), (fd) => new HostFd(fd, "path", calls.close)),
        (fd) => fd.close
      )
      const rootStat = yield* root.use("fstat", (fd) => calls.fstat(fd))
      if (!rootStat.isDirectory()) return yield* refusal(Errno.ENOTDIR, "ENOTDIR", "open", `${hostPath} is not a directory`)
      // the walk reaches names through /proc/self/fd: without it nothing here is confined
      yield* root.use("open", (fd) => calls.lstat(procPath(fd))).pipe(
        Effect.mapError(() => refusal(Errno.EOPNOTSUPP, "ENOTSUP", "open", "/proc/self/fd is needed (Linux)"))
      )
      return new HostTree(calls, root, rootStat)
    })
  }

  /** Runs `f` on the path of `name` in `dir`, with `dir` held for the call. */
  at<A>(dir: HostFd, name: string, syscall: string, f: (path: HostPath) => Effect.Effect<A, HostError>): Effect.Effect<A, HostError> {
    return dir.use(syscall, (fd) => {
      const path = procNamePath(fd, name)
      return path === undefined ? Effect.fail(refusal(Errno.EINVAL, "EINVAL", syscall, `not a name: ${JSON.stringify(name)}`)) : f(path)
    })
  }

  /** Runs `f` on `/proc/self/fd/N` of `node`: the node itself, wherever it is named now. */
  private onNode<A>(node: HostFd, syscall: string, f: (path: HostPath) => Effect.Effect<A, HostError>): Effect.Effect<A, HostError> {
    return node.use(syscall, (fd) => f(procPath(fd)))
  }

  /** A descriptor from `open`, closed with the scope. */
  private opened(kind: "path" | "io", open: Effect.Effect<number, HostError>): Effect.Effect<HostFd, HostError, Scope.Scope> {
    return Effect.acquireRelease(this.wrap(kind, open), (fd) => fd.close)
  }

  private wrap(kind: "path" | "io", open: Effect.Effect<number, HostError>): Effect.Effect<HostFd, HostError> {
    const close = this.calls.close
    return Effect.map(open, (fd) => new HostFd(fd, kind, close))
  }

  private dirStep(dir: HostFd, name: string): Effect.Effect<number, HostError> {
    return this.at(dir, name, "open", (p) => this.calls.open(p, O_PATH | O_DIRECTORY | O_NOFOLLOW, 0))
  }

  /** A path descriptor of whatever `name` in `dir` is (a symlink itself, not followed). */
  lookup(dir: HostFd, name: string): Effect.Effect<HostFd, HostError, Scope.Scope> {
    return Effect.acquireRelease(this.lookupOwned(dir, name), (fd) => fd.close)
  }

  /**
   * `lookup` for a descriptor that outlives any scope: a vnode's, which the
   * vnode cache closes when it drops the vnode. Run it with what takes the
   * descriptor over in one uninterruptible region, or it may be lost.
   */
  lookupOwned(dir: HostFd, name: string): Effect.Effect<HostFd, HostError> {
    return this.wrap("path", this.at(dir, name, "open", (p) => this.calls.open(p, O_PATH | O_NOFOLLOW, 0)))
  }

  /** The directory `name` in `dir`, by a path descriptor; ENOTDIR for anything else, a symlink included. */
  openDir(dir: HostFd, name: string): Effect.Effect<HostFd, HostError, Scope.Scope> {
    return this.opened("path", this.dirStep(dir, name))
  }

  /**
   * The directory at `names` below the root, one step at a time (each
   * step's descriptor closed once the next one is open); the root itself
   * for no names.
   */
  walk(names: ReadonlyArray<string>): Effect.Effect<HostFd, HostError, Scope.Scope> {
    const last = names.length - 1
    return Effect.flatMap(Effect.scope, (scope) => {
      const from = (dir: HostFd, i: number): Effect.Effect<HostFd, HostError> =>
        i === last
          ? Scope.provide(this.openDir(dir, names[i] ?? ""), scope)
          : Effect.acquireUseRelease(
            this.wrap("path", this.dirStep(dir, names[i] ?? "")),
            (next) => from(next, i + 1),
            (next) => next.close
          )
      return last < 0 ? Effect.succeed(this.root) : from(this.root, 0)
    })
  }

  /** A node's data opened through its path descriptor: regular files and directories only. */
  reopen(node: HostFd, flags: number): Effect.Effect<HostFd, HostError, Scope.Scope> {
    return this.checkedReopen(node, flags, this.opened("io", this.reopenCall(node, flags)))
  }

  /**
   * `reopen` for a descriptor that outlives any scope (an open file's, closed
   * when the file is); run it with what takes it over uninterruptibly. With
   * `known`, the caller vouches for the node's type (an fstat of this very
   * descriptor said it: an inode's type never changes), so it is not asked again.
   */
  reopenOwned(node: HostFd, flags: number, known?: "reg" | "dir"): Effect.Effect<HostFd, HostError> {
    const open = this.wrap("io", this.reopenCall(node, flags))
    if (known === "reg" || (known === "dir" && (flags & O_ACCMODE) === O_RDONLY)) return open
    return this.checkedReopen(node, flags, open)
  }

  private reopenCall(node: HostFd, flags: number): Effect.Effect<number, HostError> {
    return this.onNode(node, "open", (p) => this.calls.open(p, flags & ~O_CREAT, 0))
  }

  private checkedReopen<R>(node: HostFd, flags: number, open: Effect.Effect<HostFd, HostError, R>): Effect.Effect<HostFd, HostError, R> {
    return checkedReopen(this.calls, node, flags, open)
  }

  /** A new regular file `name` in `dir`, open for I/O with `flags` (O_CREAT|O_EXCL|O_NOFOLLOW added). */
  create(dir: HostFd, name: string, flags: number, mode: number): Effect.Effect<HostFd, HostError, Scope.Scope> {
    return Effect.acquireRelease(this.createOwned(dir, name, flags, mode), (fd) => fd.close)
  }

  /** `create` for a descriptor that outlives any scope (an open file's); run it with what takes it over uninterruptibly. */
  createOwned(dir: HostFd, name: string, flags: number, mode: number): Effect.Effect<HostFd, HostError> {
    const how = flags | O_CREAT | O_EXCL | O_NOFOLLOW
    return this.wrap("io", this.at(dir, name, "open", (p) => this.calls.open(p, how, mode)))
  }

  lstat(dir: HostFd, name: string): Effect.Effect<HostStat, HostError> {
    return this.at(dir, name, "lstat", (p) => this.calls.lstat(p))
  }

  fstat(fd: HostFd): Effect.Effect<HostStat, HostError> {
    return fd.use("fstat", (n) => this.calls.fstat(n))
  }

  mkdir(dir: HostFd, name: string, mode: number): Effect.Effect<void, HostError> {
    return this.at(dir, name, "mkdir", (p) => this.calls.mkdir(p, mode))
  }

  unlink(dir: HostFd, name: string): Effect.Effect<void, HostError> {
    return this.at(dir, name, "unlink", (p) => this.calls.unlink(p))
  }

  rmdir(dir: HostFd, name: string): Effect.Effect<void, HostError> {
    return this.at(dir, name, "rmdir", (p) => this.calls.rmdir(p))
  }

  rename(from: HostFd, fromName: string, to: HostFd, toName: string): Effect.Effect<void, HostError> {
    return this.at(from, fromName, "rename", (src) => this.at(to, toName, "rename", (dst) => this.calls.rename(src, dst)))
  }

  /** A hard link: `toName` in `to` for the node `fromName` in `from` (not followed). */
  link(from: HostFd, fromName: string, to: HostFd, toName: string): Effect.Effect<void, HostError> {
    return this.at(from, fromName, "link", (src) => this.at(to, toName, "link", (dst) => this.calls.link(src, dst)))
  }

  /** A symlink `name` in `dir` holding `target`'s bytes (the kernel's, never resolved by the host). */
  symlink(target: string, dir: HostFd, name: string): Effect.Effect<void, HostError> {
    return this.at(dir, name, "symlink", (p) => this.calls.symlink(Buffer.from(target, "latin1"), p))
  }

  /** The target of the symlink `name` in `dir`, as the kernel's name bytes. */
  readlink(dir: HostFd, name: string): Effect.Effect<string, HostError> {
    return this.at(dir, name, "readlink", (p) => Effect.map(this.calls.readlink(p), nameOfBytes))
  }

  /** Attributes, changed through a node's descriptor (a symlink's own: chmod of one is EOPNOTSUPP on Linux). */
  chmod(node: HostFd, mode: number): Effect.Effect<void, HostError> {
    return this.onNode(node, "chmod", (p) => this.calls.chmod(p, mode))
  }

  chown(node: HostFd, uid: number, gid: number): Effect.Effect<void, HostError> {
    return this.onNode(node, "chown", (p) => this.calls.chown(p, uid, gid))
  }

  utimes(node: HostFd, atime: number, mtime: number): Effect.Effect<void, HostError> {
    return this.onNode(node, "utime", (p) => this.calls.utimes(p, atime, mtime))
  }

  /**
   * Up to `length` bytes of the regular file `file` at `position`, fewer only
   * at its end (a positioned read of a regular file that comes back short
   * has met the end: it is not asked again).
   */
  read(file: HostFd, length: number, position: number): Effect.Effect<Uint8Array, HostError> {
    const calls = this.calls
    return file.use("read", (fd) => readAt(calls, fd, length, position))
  }

  /** All of `data` into `file` at `position`; a host refusal (ENOSPC, EDQUOT, EIO) fails it as that errno. */
  write(file: HostFd, data: Uint8Array, position: number): Effect.Effect<void, HostError> {
    const calls = this.calls
    return file.use("write", (fd) => {
      // one host call almost always; a short write goes on from where it stopped
      const from = (done: number): Effect.Effect<void, HostError> =>
        Effect.flatMap(calls.write(fd, data, done, data.length - done, position + done), (n) =>
          done + n >= data.length ? Effect.void : from(done + n))
      return data.length === 0 ? Effect.void : from(0)
    })
  }

  fsync(file: HostFd): Effect.Effect<void, HostError> {
    return file.use("fsync", (fd) => this.calls.fsync(fd))
  }

  fdatasync(file: HostFd): Effect.Effect<void, HostError> {
    return file.use("fdatasync", (fd) => this.calls.fdatasync(fd))
  }

  truncate(file: HostFd, length: number): Effect.Effect<void, HostError> {
    return file.use("ftruncate", (fd) => this.calls.ftruncate(fd, length))
  }

  /** Truncates the regular file a path descriptor holds (no descriptor opened for it). */
  truncateNode(node: HostFd, length: number): Effect.Effect<void, HostError> {
    return this.onNode(node, "truncate", (p) => this.calls.truncate(p, length))
  }

  /** The host file system's figures (statfs) for the one `node` is on. */
  statfs(node: HostFd): Effect.Effect<HostStatfs, HostError> {
    return this.onNode(node, "statfs", (p) => this.calls.statfs(p))
  }

  /** A listing of the directory `dir` holds (opened through its descriptor), closed with the scope. */
  readdir(dir: HostFd, chunk = READDIR_CHUNK): Effect.Effect<HostDirReader, HostError, Scope.Scope> {
    const calls = this.calls
    return Effect.acquireRelease(
      this.onNode(dir, "opendir", (p) => Effect.uninterruptible(calls.opendir(p, chunk))),
      (stream) => calls.closedir(stream)
    ).pipe(Effect.map((stream) => new HostDirReader(calls, stream)))
  }
}
