/**
 * A guest for the VFS tests: a fresh in-process kernel, one process forked
 * from init with its own LocalMemory, and helpers that run one syscall on
 * a new lwp and check its result.
 */
import { assert } from "@effect/vitest"
import { type LocalMemory, makeLocalMemory, type ProcessHandle, provideLocalMemory, type SyscallResult } from "@sysproxy/hypervisor"
import { errnoName, openFlags, SYS, Structs } from "@sysproxy/protocol/netbsd"
import { Effect, type Scope } from "effect"
import { packArgs } from "../src/abi/Args.ts"
import type { KernelConfig } from "../src/KernelConfig.ts"
import { makeKernel } from "../src/Kernel.ts"

export const AT_FDCWD = -100
export const { O_RDONLY, O_WRONLY, O_RDWR, O_CREAT, O_EXCL, O_TRUNC, O_APPEND, O_DIRECTORY, O_NOFOLLOW, O_CLOEXEC } =
  openFlags

const statOffset = new Map<string, number>(Structs.stat.fields.map((f) => [f.name, f.offset]))

/** struct stat decoded by hand from its layout. */
export interface Stat {
  readonly dev: bigint
  readonly mode: number
  readonly ino: bigint
  readonly nlink: number
  readonly uid: number
  readonly gid: number
  readonly rdev: bigint
  readonly atime: readonly [bigint, bigint]
  readonly mtime: readonly [bigint, bigint]
  readonly ctime: readonly [bigint, bigint]
  readonly birthtime: readonly [bigint, bigint]
  readonly size: bigint
  readonly blocks: bigint
  readonly blksize: number
  readonly flags: number
}

export const decodeStat = (bytes: Uint8Array): Stat => {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const at = (name: string) => statOffset.get(name) ?? -1
  const ts = (name: string) => [v.getBigInt64(at(name), true), v.getBigInt64(at(name) + 8, true)] as const
  return {
    dev: v.getBigUint64(at("st_dev"), true),
    mode: v.getUint32(at("st_mode"), true),
    ino: v.getBigUint64(at("st_ino"), true),
    nlink: v.getUint32(at("st_nlink"), true),
    uid: v.getUint32(at("st_uid"), true),
    gid: v.getUint32(at("st_gid"), true),
    rdev: v.getBigUint64(at("st_rdev"), true),
    atime: ts("st_atim"),
    mtime: ts("st_mtim"),
    ctime: ts("st_ctim"),
    birthtime: ts("st_birthtim"),
    size: v.getBigInt64(at("st_size"), true),
    blocks: v.getBigInt64(at("st_blocks"), true),
    blksize: v.getInt32(at("st_blksize"), true),
    flags: v.getUint32(at("st_flags"), true)
  }
}

/** struct tmpfs_args version 1 (40 bytes). */
export const tmpfsArgs = (o: { version?: number; mode?: number; uid?: number; gid?: number; sizeMax?: bigint; nodesMax?: bigint } = {}) => {
  const bytes = new Uint8Array(40)
  const v = new DataView(bytes.buffer)
  v.setInt32(0, o.version ?? 1, true)
  v.setBigUint64(8, o.nodesMax ?? 0n, true)
  v.setBigInt64(16, o.sizeMax ?? 0n, true)
  v.setUint32(24, o.uid ?? 0, true)
  v.setUint32(28, o.gid ?? 0, true)
  v.setUint32(32, o.mode ?? 0o755, true)
  return bytes
}

const describeResult = (r: SyscallResult) => `error ${r.error} (${errnoName(r.error) ?? "?"}), retval0 ${r.retval0}`

export interface Guest {
  readonly mem: LocalMemory
  readonly process: ProcessHandle
  readonly kernel: Effect.Success<ReturnType<typeof makeKernel>>
  /** Runs one syscall on a fresh lwp. */
  readonly call: (number: number, ...args: ReadonlyArray<bigint | number>) => Effect.Effect<SyscallResult>
  /** Runs one syscall that must succeed; its retval0. */
  readonly ok: (number: number, ...args: ReadonlyArray<bigint | number>) => Effect.Effect<bigint>
  /** Runs one syscall that must fail with `errno`. */
  readonly fails: (errno: number, number: number, ...args: ReadonlyArray<bigint | number>) => Effect.Effect<void>
  /** A NUL-terminated string in the guest's memory. */
  readonly str: (s: string) => bigint
  /** `size` zero bytes in the guest's memory. */
  readonly buf: (size: number) => bigint
  readonly bytes: (addr: bigint, len: number) => Uint8Array

  readonly open: (path: string, flags: number, mode?: number) => Effect.Effect<number>
  readonly stat: (path: string) => Effect.Effect<Stat>
  readonly lstat: (path: string) => Effect.Effect<Stat>
  readonly fstat: (fd: number) => Effect.Effect<Stat>
  readonly write: (fd: number, data: Uint8Array | string) => Effect.Effect<number>
  readonly read: (fd: number, len: number) => Effect.Effect<Uint8Array>
  readonly close: (fd: number) => Effect.Effect<void>
  /** Creates (or truncates) a file holding `data`. */
  readonly writeFile: (path: string, data: Uint8Array | string) => Effect.Effect<void>
  readonly readFile: (path: string) => Effect.Effect<string>
  readonly mkdir: (path: string, mode?: number) => Effect.Effect<void>
}

const text = (data: Uint8Array | string) => (typeof data === "string" ? new TextEncoder().encode(data) : data)

/** A guest of a fresh kernel that lives as long as the caller's scope. */
export const makeGuest = (config: KernelConfig = {}): Effect.Effect<Guest, never, Scope.Scope> =>
  Effect.gen(function*() {
    const kernel = yield* Effect.orDie(makeKernel({ console: () => {}, ...config }))
    const mem = makeLocalMemory()
    const hv = kernel.hypervisor
    const process = yield* Effect.orDie(hv.rfork({ client: mem.service, mode: "clear", comm: "t" }))
    const call = (number: number, ...args: ReadonlyArray<bigint | number>) =>
      Effect.acquireUseRelease(
        Effect.orDie(hv.newLwp(process.pid)),
        (lwp) => hv.syscall(lwp, number, packArgs(...args)).pipe(provideLocalMemory(mem)),
        (lwp) => hv.releaseLwp(lwp)
      )
    const ok = (number: number, ...args: ReadonlyArray<bigint | number>) =>
      Effect.map(call(number, ...args), (r) => {
        assert.strictEqual(r.error, 0, `syscall ${number} failed: ${describeResult(r)}`)
        return r.retval0
      })
    const fails = (errno: number, number: number, ...args: ReadonlyArray<bigint | number>) =>
      Effect.map(call(number, ...args), (r) => {
        assert.strictEqual(r.error, errno, `syscall ${number}: want ${errnoName(errno)}, got ${describeResult(r)}`)
        assert.strictEqual(r.retval0, -1n)
      })
    const str = (s: string) => mem.allocString(s)
    const buf = (size: number) => mem.alloc(size)
    const bytes = (addr: bigint, len: number) => mem.read(addr, len) ?? new Uint8Array(0)
    const statWith = (sys: number, path: string) =>
      Effect.gen(function*() {
        const b = buf(152)
        yield* ok(sys, str(path), b)
        return decodeStat(bytes(b, 152))
      })
    const open = (path: string, flags: number, mode = 0o644) => Effect.map(ok(SYS.open, str(path), flags, mode), Number)
    const write = (fd: number, data: Uint8Array | string) => {
      const d = text(data)
      return Effect.map(ok(SYS.write, fd, d.length === 0 ? buf(1) : mem.alloc(d), d.length), Number)
    }
    const read = (fd: number, len: number) =>
      Effect.gen(function*() {
        const b = buf(Math.max(len, 1))
        const n = Number(yield* ok(SYS.read, fd, b, len))
        return bytes(b, n)
      })
    const close = (fd: number) => Effect.asVoid(ok(SYS.close, fd))
    const guest: Guest = {
      mem,
      process,
      kernel,
      call,
      ok,
      fails,
      str,
      buf,
      bytes,
      open,
      stat: (path) => statWith(SYS.__stat50, path),
      lstat: (path) => statWith(SYS.__lstat50, path),
      fstat: (fd) =>
        Effect.gen(function*() {
          const b = buf(152)
          yield* ok(SYS.__fstat50, fd, b)
          return decodeStat(bytes(b, 152))
        }),
      write,
      read,
      close,
      writeFile: (path, data) =>
        Effect.gen(function*() {
          const fd = yield* open(path, O_WRONLY | O_CREAT | O_TRUNC)
          yield* write(fd, data)
          yield* close(fd)
        }),
      readFile: (path) =>
        Effect.gen(function*() {
          const fd = yield* open(path, O_RDONLY)
          const data = yield* read(fd, 1 << 16)
          yield* close(fd)
          return new TextDecoder().decode(data)
        }),
      mkdir: (path, mode = 0o755) => Effect.asVoid(ok(SYS.mkdir, str(path), mode))
    }
    return guest
  })
