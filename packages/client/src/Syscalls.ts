/**
 * The typed syscalls: NetBSD's calls as Effects that take JavaScript
 * values, map their buffers for the length of the call (CallBuffers),
 * decode what the kernel copied out (abi/), and fail with a SyscallError
 * when the kernel answers an errno. Built over any raw syscall function,
 * so one implementation serves a guest, a forked child and a reconnecting
 * client alike.
 */
import {
  Errno,
  lseekWhence,
  limits,
  openFlags,
  SYS,
  sysctlKern,
  sysctlKernProc,
  sysctlSpecial,
  sysctlTop
} from "@sysproxy/protocol/netbsd"
import { Effect, Result } from "effect"
import { type Dirent, decodeDirents } from "./abi/Dirent.ts"
import { decodeKinfoProc2, KINFO_PROC2_SIZE, type ProcInfo } from "./abi/KinfoProc2.ts"
import { decodeStat, type Stat, STAT_SIZE } from "./abi/Stat.ts"
import {
  decodeSysctlNodes,
  isAnyNumber,
  type ResolvedSysctl,
  type SysctlNodeInfo,
  sysctlNameError,
  sysctlNameParts,
  sysctlNumber,
  sysctlQueryNode,
  SYSCTLNODE_SIZE
} from "./abi/SysctlNames.ts"
import { decodeSysctlValue, encodeSysctlValue, type SysctlValue } from "./abi/SysctlValue.ts"
import { viewOf } from "./abi/StructReader.ts"
import type { AddressSpace } from "./AddressSpace.ts"
import { type CallBuffers, withBuffers } from "./CallBuffers.ts"
import type { SyscallResult } from "./Connection.ts"
import { type CallError, ClientError, type RequestError, syscallError } from "./Errors.ts"
import { type SyscallArg, slotsFor, syscallName } from "./SyscallArgs.ts"

/** Sends one syscall with its argument slots, as a connection does. */
export type RawSyscall = (sysnum: number, slots: ReadonlyArray<SyscallArg>) => Effect.Effect<SyscallResult, RequestError>

/** Bytes, or a string sent as UTF-8. */
export type IoData = Uint8Array | string

/** A sysctl node: its name ("kern.hostname") or its MIB. */
export type SysctlName = string | ReadonlyArray<number>

export interface Syscalls {
  /** open(2); `mode` matters with O_CREAT (default 0666, less the umask). */
  readonly open: (path: string, flags?: number, mode?: number) => Effect.Effect<number, CallError>
  readonly close: (fd: number) => Effect.Effect<void, CallError>
  /** One read(2) of at most `length` bytes; fewer at end of file. */
  readonly read: (fd: number, length: number) => Effect.Effect<Uint8Array, CallError>
  /** One write(2); the count written. */
  readonly write: (fd: number, data: IoData) => Effect.Effect<number, CallError>
  readonly pread: (fd: number, length: number, offset: number | bigint) => Effect.Effect<Uint8Array, CallError>
  readonly pwrite: (fd: number, data: IoData, offset: number | bigint) => Effect.Effect<number, CallError>
  /** lseek(2); the new offset. `whence` defaults to SEEK_SET. */
  readonly lseek: (fd: number, offset: number | bigint, whence?: number) => Effect.Effect<number, CallError>
  readonly stat: (path: string) => Effect.Effect<Stat, CallError>
  readonly lstat: (path: string) => Effect.Effect<Stat, CallError>
  readonly fstat: (fd: number) => Effect.Effect<Stat, CallError>
  /** mkdir(2), mode 0777 (less the umask) by default. */
  readonly mkdir: (path: string, mode?: number) => Effect.Effect<void, CallError>
  readonly rmdir: (path: string) => Effect.Effect<void, CallError>
  readonly unlink: (path: string) => Effect.Effect<void, CallError>
  readonly rename: (from: string, to: string) => Effect.Effect<void, CallError>
  readonly chmod: (path: string, mode: number) => Effect.Effect<void, CallError>
  readonly symlink: (target: string, path: string) => Effect.Effect<void, CallError>
  readonly readlink: (path: string) => Effect.Effect<string, CallError>
  readonly ftruncate: (fd: number, length: number | bigint) => Effect.Effect<void, CallError>
  readonly fsync: (fd: number) => Effect.Effect<void, CallError>
  /** One __getdents30 with a buffer of `size` bytes; empty at the end of the directory. */
  readonly getdents: (fd: number, size?: number) => Effect.Effect<Array<Dirent>, CallError>
  /** Every entry of a directory, `.` and `..` included, in the kernel's order. */
  readonly readdir: (path: string) => Effect.Effect<Array<Dirent>, CallError>
  readonly getpid: () => Effect.Effect<number, CallError>
  readonly getppid: () => Effect.Effect<number, CallError>
  readonly kill: (pid: number, signo: number) => Effect.Effect<void, CallError>
  /** pipe(2): the read end, then the write end. */
  readonly pipe: () => Effect.Effect<readonly [number, number], CallError>
  readonly dup: (fd: number) => Effect.Effect<number, CallError>
  readonly dup2: (from: number, to: number) => Effect.Effect<number, CallError>
  /** fcntl(2) with an integer argument (F_GETFD, F_SETFD, F_GETFL, F_SETFL, F_DUPFD, ...). */
  readonly fcntl: (fd: number, cmd: number, arg?: number) => Effect.Effect<number, CallError>
  readonly chdir: (path: string) => Effect.Effect<void, CallError>
  readonly fchdir: (fd: number) => Effect.Effect<void, CallError>
  readonly getcwd: () => Effect.Effect<string, CallError>
  /**
   * reboot(2) (what rump.halt sends): the server halts. Succeeds also when
   * the server closes the connection after the request was written and
   * before it answers, as it may; a connection gone before the request
   * could be written fails with ConnectionClosed.
   */
  readonly reboot: (howto?: number, bootstr?: string) => Effect.Effect<void, CallError>
  /**
   * The MIB, type and node of a name, resolved through the kernel as libc's
   * sysctlnametomib does (CTL_QUERY, level by level; a component may be a
   * number). Numbers past a node the kernel lists no children of are taken
   * as they are (kern.proc2.0.0.680.4). An unknown name fails with ENOENT
   * and sysctl(8)'s words for it.
   */
  readonly sysctlResolve: (name: SysctlName) => Effect.Effect<ResolvedSysctl, CallError>
  /** The children of the node at `mib` (the top level for []), as CTL_QUERY lists them. */
  readonly sysctlQuery: (mib: ReadonlyArray<number>) => Effect.Effect<Array<SysctlNodeInfo>, CallError>
  /** The value of a node, decoded by its type (raw bytes for a struct or past the listed nodes). */
  readonly sysctl: (name: SysctlName) => Effect.Effect<SysctlValue, CallError>
  /** Sets a node; the old value. */
  readonly sysctlWrite: (name: SysctlName, value: SysctlValue) => Effect.Effect<SysctlValue, CallError>
  /** __sysctl on a MIB: the old value's bytes (sized by asking first), optionally writing `newValue`. */
  readonly sysctlRaw: (mib: ReadonlyArray<number>, newValue?: Uint8Array) => Effect.Effect<Uint8Array, CallError>
  /** Every process of the kernel (kern.proc2), newest first. */
  readonly processes: () => Effect.Effect<Array<ProcInfo>, CallError>
  /** A whole file, read in chunks. */
  readonly readFile: (path: string) => Effect.Effect<Uint8Array, CallError>
  /** Creates or truncates `path` (mode 0666 less the umask by default) and writes all of `data`. */
  readonly writeFile: (path: string, data: IoData, mode?: number) => Effect.Effect<void, CallError>
  /**
   * Any syscall by number, its argument block one value per 8-byte slot
   * as in NetBSD's `struct sys_<name>_args` (PAD slots included); fails
   * with SyscallError on an errno. Pointers come from `withBuffers`.
   */
  readonly syscall: (sysnum: number, args?: ReadonlyArray<SyscallArg>) => Effect.Effect<SyscallResult, CallError>
  /** Buffers in the client's memory for the length of `use` (for raw syscalls). */
  readonly withBuffers: <A, E, R>(use: (buffers: CallBuffers) => Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

/** Largest read or write sent in one request by readFile and writeFile. */
export const IO_CHUNK = 64 * 1024

const SIZE_T = 8
const encoder = new TextEncoder()
const bytesOf = (data: IoData): Uint8Array => (typeof data === "string" ? encoder.encode(data) : data)

const u64 = (value: number | bigint): Uint8Array => {
  const bytes = new Uint8Array(SIZE_T)
  viewOf(bytes).setBigUint64(0, BigInt(value), true)
  return bytes
}

const badRequest = (message: string, errno: number = Errno.EINVAL) =>
  new ClientError({ reason: "BadRequest", errno, code: undefined, message })

const badResponse = (message: string) =>
  new ClientError({ reason: "BadResponse", errno: Errno.EPROTO, code: undefined, message })

/** How often a sysctl read is retried when the value grew between asking its size and reading it. */
const SYSCTL_RETRIES = 4

export const makeSyscalls = (raw: RawSyscall, space: AddressSpace): Syscalls => {
  const buffers = <A, E, R>(use: (b: CallBuffers) => Effect.Effect<A, E, R>) => withBuffers(space, use)

  /** The slots as given (PAD slots included, as in the C struct). */
  const rawCall = (
    sysnum: number,
    slots: ReadonlyArray<SyscallArg>,
    name: string = syscallName(sysnum)
  ): Effect.Effect<SyscallResult, CallError> =>
    Effect.flatMap(raw(sysnum, slots), (r) => r.error === 0 ? Effect.succeed(r) : Effect.fail(syscallError(name, r.error)))
  /** One syscall by number with its named arguments; an errno becomes a SyscallError named `name`. */
  const call = (
    sysnum: number,
    values: ReadonlyArray<SyscallArg>,
    name: string = syscallName(sysnum)
  ): Effect.Effect<SyscallResult, CallError> => {
    const slots = slotsFor(sysnum, values)
    if (Result.isFailure(slots)) return Effect.fail(badRequest(slots.failure))
    return rawCall(sysnum, slots.success, name)
  }
  const ret = (sysnum: number, values: ReadonlyArray<SyscallArg>, name?: string) =>
    Effect.map(call(sysnum, values, name), (r) => Number(r.retval0))
  const done = (sysnum: number, values: ReadonlyArray<SyscallArg>, name?: string) =>
    Effect.asVoid(call(sysnum, values, name))

  const onPath = (sysnum: number, name: string) => (path: string) =>
    buffers((b) => done(sysnum, [b.string(path)], name))

  const statAt = (sysnum: number, name: string, target: (b: CallBuffers) => SyscallArg) =>
    buffers((b) => {
      const out = b.alloc(STAT_SIZE)
      return Effect.map(call(sysnum, [target(b), out], name), () => decodeStat(b.read(out, STAT_SIZE)))
    })

  const readInto = (sysnum: number, name: string, fd: number, length: number, extra: ReadonlyArray<SyscallArg>) =>
    buffers((b) => {
      const out = b.alloc(length)
      // the bytes the kernel copied out, as they landed (no copy)
      return Effect.map(call(sysnum, [fd, out, length, ...extra], name), (r) => b.view(out, Number(r.retval0)))
    })

  const writeFrom = (sysnum: number, name: string, fd: number, data: IoData, extra: ReadonlyArray<SyscallArg>) =>
    buffers((b) => {
      const bytes = bytesOf(data)
      // the caller's bytes answer the kernel's COPYIN as they are
      return ret(sysnum, [fd, b.borrow(bytes), bytes.byteLength, ...extra], name)
    })

  const open = (path: string, flags: number = openFlags.O_RDONLY, mode = 0o666) =>
    buffers((b) => ret(SYS.open, [b.string(path), flags, mode], "open"))
  const close = (fd: number) => done(SYS.close, [fd], "close")

  const getdents = (fd: number, size = 8192) =>
    buffers((b) => {
      const out = b.alloc(size)
      return Effect.flatMap(call(SYS.__getdents30, [fd, out, size], "getdents"), (r) => {
        const decoded = decodeDirents(b.read(out, Number(r.retval0)))
        return Result.isSuccess(decoded)
          ? Effect.succeed(decoded.success)
          : Effect.fail(badResponse(`getdents: ${decoded.failure}`))
      })
    })

  /** Runs `use` on a descriptor of `path`, closing it however `use` ends. */
  const withFd = <A>(path: string, flags: number, mode: number, use: (fd: number) => Effect.Effect<A, CallError>) =>
    Effect.acquireUseRelease(open(path, flags, mode), use, (fd) => Effect.ignore(close(fd)))

  const readdir = (path: string) =>
    withFd(path, openFlags.O_RDONLY | openFlags.O_DIRECTORY, 0, (fd) =>
      Effect.gen(function*() {
        const all: Array<Dirent> = []
        for (;;) {
          const batch = yield* getdents(fd)
          if (batch.length === 0) return all
          all.push(...batch)
        }
      }))

  const read = (fd: number, length: number) => readInto(SYS.read, "read", fd, length, [])
  const write = (fd: number, data: IoData) => writeFrom(SYS.write, "write", fd, data, [])

  const readFile = (path: string) =>
    withFd(path, openFlags.O_RDONLY, 0, (fd) =>
      Effect.gen(function*() {
        const chunks: Array<Uint8Array> = []
        for (;;) {
          const chunk = yield* read(fd, IO_CHUNK)
          if (chunk.byteLength === 0) return new Uint8Array(Buffer.concat(chunks))
          chunks.push(chunk)
        }
      }))

  const writeFile = (path: string, data: IoData, mode = 0o666) =>
    withFd(path, openFlags.O_WRONLY | openFlags.O_CREAT | openFlags.O_TRUNC, mode, (fd) =>
      Effect.gen(function*() {
        const bytes = bytesOf(data)
        let at = 0
        while (at < bytes.byteLength) {
          const n = yield* write(fd, bytes.subarray(at, Math.min(at + IO_CHUNK, bytes.byteLength)))
          if (n === 0) return yield* syscallError("write", Errno.EIO)
          at += n
        }
      }))

  /**
   * __sysctl with an old buffer of `size` bytes (none when undefined); the
   * bytes copied out and the length the kernel wrote back.
   */
  const sysctlOnce = (mib: ReadonlyArray<number>, size: number | undefined, newValue: Uint8Array | undefined) =>
    buffers((b) => {
      const name = new Uint8Array(mib.length * 4)
      mib.forEach((c, i) => viewOf(name).setInt32(i * 4, c, true))
      const oldp = size === undefined ? 0n : b.alloc(Math.max(size, 1))
      const oldlenp = b.alloc(u64(size ?? 0))
      const newp = newValue === undefined ? 0n : b.alloc(newValue)
      return Effect.map(
        call(SYS.__sysctl, [b.alloc(name), mib.length, oldp, oldlenp, newp, newValue?.byteLength ?? 0], "sysctl"),
        () => {
          const oldlen = Number(viewOf(b.read(oldlenp, SIZE_T)).getBigUint64(0, true))
          return oldp === 0n ? new Uint8Array(0) : b.read(oldp, Math.min(size ?? 0, oldlen))
        }
      )
    })

  const sysctlSize = (mib: ReadonlyArray<number>) =>
    buffers((b) => {
      const name = new Uint8Array(mib.length * 4)
      mib.forEach((c, i) => viewOf(name).setInt32(i * 4, c, true))
      const oldlenp = b.alloc(u64(0))
      return Effect.map(
        call(SYS.__sysctl, [b.alloc(name), mib.length, 0n, oldlenp, 0n, 0], "sysctl"),
        () => Number(viewOf(b.read(oldlenp, SIZE_T)).getBigUint64(0, true))
      )
    })

  const sysctlRaw = (mib: ReadonlyArray<number>, newValue?: Uint8Array) =>
    Effect.gen(function*() {
      let size = yield* sysctlSize(mib)
      for (let attempt = 0;; attempt++) {
        const result = yield* Effect.result(sysctlOnce(mib, size, newValue))
        if (Result.isSuccess(result)) return result.success
        const e = result.failure
        // the value grew between the two calls: ask again with room to spare
        if (e._tag !== "SyscallError" || e.errno !== Errno.ENOMEM || attempt >= SYSCTL_RETRIES) return yield* e
        size = Math.max(size * 2, yield* sysctlSize(mib))
      }
    })

  const sysctlQuery = (mib: ReadonlyArray<number>) =>
    Effect.gen(function*() {
      // room for a kernel's usual fan-out first; ENOMEM says how much all of them take
      let size = 64 * SYSCTLNODE_SIZE
      for (let attempt = 0;; attempt++) {
        const result = yield* Effect.result(sysctlOnce([...mib, sysctlSpecial.CTL_QUERY], size, sysctlQueryNode()))
        if (Result.isSuccess(result)) return decodeSysctlNodes(result.success)
        const e = result.failure
        if (e._tag !== "SyscallError" || e.errno !== Errno.ENOMEM || attempt >= SYSCTL_RETRIES) return yield* e
        size *= 4
      }
    })

  const sysctlResolve = (name: SysctlName) =>
    Effect.gen(function*() {
      const written = typeof name === "string" ? name : name.join(".")
      const parts = typeof name === "string" ? sysctlNameParts(name) : name.map(String)
      const mib: Array<number> = []
      const names: Array<string> = []
      let node: SysctlNodeInfo | undefined
      let listed = true
      for (let level = 0; level < parts.length; level++) {
        const part = parts[level]!
        const number = sysctlNumber(part)
        const invalid = badRequest(sysctlNameError(level, part, written), Errno.ENOENT)
        if (node !== undefined && node.type !== "node") return yield* invalid
        const children = listed ? yield* sysctlQuery(mib) : []
        const any = children.find(isAnyNumber)
        const child = number === undefined
          ? children.find((c) => c.name === part)
          : children.find((c) => c.num === number) ?? (number >= 0 ? any : undefined)
        if (child !== undefined) {
          mib.push(number ?? child.num)
          names.push(child === any && number !== undefined ? part : child.name)
          node = child
          continue
        }
        // past a node the kernel lists nothing under (it answers by a function), numbers go as they are;
        // a MIB given as numbers goes to the kernel as it is, for its errno
        if (number === undefined || (children.length > 0 && typeof name === "string")) return yield* invalid
        mib.push(number)
        names.push(part)
        node = undefined
        listed = false
      }
      return { name: names.join("."), mib, type: listed ? node?.type : undefined, node: listed ? node : undefined }
    })

  const sysctl = (name: SysctlName) =>
    Effect.flatMap(sysctlResolve(name), (node) => Effect.map(sysctlRaw(node.mib), (bytes) => decodeSysctlValue(node.type, bytes)))

  const sysctlWrite = (name: SysctlName, value: SysctlValue) =>
    Effect.gen(function*() {
      const node = yield* sysctlResolve(name)
      const encoded = encodeSysctlValue(node.type, value)
      if (Result.isFailure(encoded)) return yield* badRequest(`${node.name}: ${encoded.failure}`)
      return decodeSysctlValue(node.type, yield* sysctlRaw(node.mib, encoded.success))
    })

  const processes = () =>
    Effect.gen(function*() {
      const mib = [sysctlTop.CTL_KERN, sysctlKern.KERN_PROC2, sysctlKernProc.KERN_PROC_ALL, 0, KINFO_PROC2_SIZE]
      // the count is part of the name: ask for the size, then for that many records
      const size = yield* sysctlSize([...mib, 0x7fff_ffff])
      const count = Math.ceil(size / KINFO_PROC2_SIZE)
      const bytes = yield* sysctlOnce([...mib, count], count * KINFO_PROC2_SIZE, undefined)
      const records = Math.floor(bytes.byteLength / KINFO_PROC2_SIZE)
      return Array.from({ length: records }, (_, i) => decodeKinfoProc2(bytes, i * KINFO_PROC2_SIZE))
    })

  return {
    open,
    close,
    read,
    write,
    pread: (fd, length, offset) => readInto(SYS.pread, "pread", fd, length, [offset]),
    pwrite: (fd, data, offset) => writeFrom(SYS.pwrite, "pwrite", fd, data, [offset]),
    lseek: (fd, offset, whence = lseekWhence.SEEK_SET) => ret(SYS.lseek, [fd, offset, whence], "lseek"),
    stat: (path) => statAt(SYS.__stat50, "stat", (b) => b.string(path)),
    lstat: (path) => statAt(SYS.__lstat50, "lstat", (b) => b.string(path)),
    fstat: (fd) => statAt(SYS.__fstat50, "fstat", () => fd),
    mkdir: (path, mode = 0o777) => buffers((b) => done(SYS.mkdir, [b.string(path), mode], "mkdir")),
    rmdir: onPath(SYS.rmdir, "rmdir"),
    unlink: onPath(SYS.unlink, "unlink"),
    rename: (from, to) => buffers((b) => done(SYS.rename, [b.string(from), b.string(to)], "rename")),
    chmod: (path, mode) => buffers((b) => done(SYS.chmod, [b.string(path), mode], "chmod")),
    symlink: (target, path) => buffers((b) => done(SYS.symlink, [b.string(target), b.string(path)], "symlink")),
    readlink: (path) =>
      buffers((b) => {
        const out = b.alloc(limits.MAXPATHLEN)
        return Effect.map(
          call(SYS.readlink, [b.string(path), out, limits.MAXPATHLEN], "readlink"),
          (r) => new TextDecoder().decode(b.read(out, Number(r.retval0)))
        )
      }),
    ftruncate: (fd, length) => done(SYS.ftruncate, [fd, length], "ftruncate"),
    fsync: (fd) => done(SYS.fsync, [fd], "fsync"),
    getdents,
    readdir,
    getpid: () => ret(SYS.getpid, [], "getpid"),
    getppid: () => ret(SYS.getppid, [], "getppid"),
    kill: (pid, signo) => done(SYS.kill, [pid, signo], "kill"),
    pipe: () => Effect.map(call(SYS.pipe, [], "pipe"), (r) => [Number(r.retval0), Number(r.retval1)] as const),
    dup: (fd) => ret(SYS.dup, [fd], "dup"),
    dup2: (from, to) => ret(SYS.dup2, [from, to], "dup2"),
    fcntl: (fd, cmd, arg = 0) => ret(SYS.fcntl, [fd, cmd, arg], "fcntl"),
    chdir: onPath(SYS.chdir, "chdir"),
    fchdir: (fd) => done(SYS.fchdir, [fd], "fchdir"),
    getcwd: () =>
      buffers((b) => {
        const out = b.alloc(limits.MAXPATHLEN)
        return Effect.map(call(SYS.__getcwd, [out, limits.MAXPATHLEN], "getcwd"), () => b.readString(out, limits.MAXPATHLEN))
      }),
    reboot: (howto = 0, bootstr) =>
      buffers((b) => done(SYS.reboot, [howto, bootstr === undefined ? 0n : b.string(bootstr)], "reboot")).pipe(
        // a server that halts closes without answering: the close after the request left is the success;
        // a connection already gone (the request never written) or closed by us is not
        Effect.catchTag("ConnectionClosed", (e) => (e.sent && e.reason !== "Local" ? Effect.void : Effect.fail(e)))
      ),
    sysctlResolve,
    sysctlQuery,
    sysctl,
    sysctlWrite,
    sysctlRaw,
    processes,
    readFile,
    writeFile,
    syscall: (sysnum, args = []) => rawCall(sysnum, args),
    withBuffers: buffers
  }
}
