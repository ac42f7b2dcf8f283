/**
 * End-to-end support: the real kernel layer behind a real SysproxyServer
 * on a unix socket in a fresh temporary directory, and guests that are
 * real @sysproxy/client connections. Every syscall goes over the wire:
 * arguments as 8-byte slots, copyin/copyout served from the client's
 * AddressSpace.
 */
import { assert } from "@effect/vitest"
import { type ClientConnection, connect, type SyscallResult } from "@sysproxy/client"
import { errnoName, SYS } from "@sysproxy/protocol/netbsd"
import { type ServerOptions, SysproxyServer, type SysproxyServerService } from "@sysproxy/server"
import { Context, Effect, Layer, References, type Scope } from "effect"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import { Kernel, type KernelService, layer as kernelLayer } from "../../src/Kernel.ts"
import { decodeStat, type Stat } from "../VfsGuest.ts"

export interface ConsoleWrite {
  readonly pid: number
  readonly text: string
}

export interface World {
  readonly url: string
  readonly kernel: KernelService
  readonly server: SysproxyServerService
  /** Everything guests wrote to the console (fds 0-2), in order. */
  readonly console: Array<ConsoleWrite>
}

/** A fresh temporary directory, removed with everything in it when the scope closes. */
const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "sp-e2e-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/**
 * A kernel (`layer({ console })`) and a server (`SysproxyServer.layer`)
 * on `unix://<tmp>/sp.sock`, both living as long as the caller's scope.
 * Logs below Error are dropped to keep the test output readable.
 */
export const startWorld = (options: Partial<Omit<ServerOptions, "url">> = {}): Effect.Effect<World, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const dir = yield* tempDir
    const console: Array<ConsoleWrite> = []
    const kernel = kernelLayer({
      console: (pid, bytes) => console.push({ pid, text: new TextDecoder().decode(bytes) })
    })
    const server = SysproxyServer.layer({ ...options, url: `unix://${Path.join(dir, "sp.sock")}` })
    const context = yield* Layer.build(server.pipe(Layer.provideMerge(kernel))).pipe(
      Effect.provideService(References.MinimumLogLevel, "Error")
    )
    const srv = Context.get(context, SysproxyServer)
    return { url: srv.address.url, kernel: Context.get(context, Kernel), server: srv, console }
  })

/**
 * Re-runs `read` until `done` holds, every `intervalMs`, for at most
 * `timeoutMs` of real time; dies with `what` and the last value otherwise.
 */
export const pollUntil = <A, E, R>(
  what: string,
  read: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  { intervalMs = 10, timeoutMs = 3000 }: { readonly intervalMs?: number; readonly timeoutMs?: number } = {}
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = yield* read
      if (done(value)) return value
      if (Date.now() >= deadline) {
        return yield* Effect.die(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last value: ${show(value)}`))
      }
      yield* Effect.sleep(`${intervalMs} millis`)
    }
  })

export const show = (u: unknown): string => {
  try {
    return JSON.stringify(u, (_k, v) => (typeof v === "bigint" ? `${v}n` : v instanceof Map ? [...v] : v))
  } catch {
    return String(u)
  }
}

const describe = (r: SyscallResult) => `error ${r.error} (${errnoName(r.error) ?? "?"}), retval0 ${r.retval0}`

const encoder = new TextEncoder()
const asBytes = (data: Uint8Array | string): Uint8Array => (typeof data === "string" ? encoder.encode(data) : data)

export type Arg = bigint | number

/** One client process: a connection past its handshake, with syscall helpers. */
export interface Guest {
  readonly conn: ClientConnection
  /** The pid getpid reported right after the handshake. */
  readonly pid: number
  /** One syscall; a lost connection or an ERROR frame is a defect. */
  readonly call: (n: number, ...args: ReadonlyArray<Arg>) => Effect.Effect<SyscallResult>
  /** One syscall that must succeed; its retval0. */
  readonly ok: (n: number, ...args: ReadonlyArray<Arg>) => Effect.Effect<bigint>
  /** One syscall that must fail with `errno` (and retval0 -1). */
  readonly fails: (errno: number, n: number, ...args: ReadonlyArray<Arg>) => Effect.Effect<void>
  /** A NUL-terminated string in the client's memory. */
  readonly str: (s: string) => bigint
  /** `size` zero bytes (at least one) in the client's memory. */
  readonly buf: (size: number) => bigint
  /** A copy of client memory (the assertion fails when it is not mapped). */
  readonly bytes: (addr: bigint, len: number) => Uint8Array
  readonly open: (path: string, flags: number, mode?: number) => Effect.Effect<number>
  readonly write: (fd: number, data: Uint8Array | string) => Effect.Effect<number>
  /** One read(2) of at most `len` bytes. */
  readonly read: (fd: number, len: number) => Effect.Effect<Uint8Array>
  readonly stat: (path: string) => Effect.Effect<Stat>
  readonly fstat: (fd: number) => Effect.Effect<Stat>
  /**
   * __sysctl(mib) with an old buffer of `oldSize` bytes (0: none) and an
   * optional new value; the syscall's result, the bytes copied out and
   * *oldlenp as written back.
   */
  readonly sysctl: (
    mib: ReadonlyArray<number>,
    oldSize: number,
    newValue?: Uint8Array
  ) => Effect.Effect<{ readonly result: SyscallResult; readonly old: Uint8Array; readonly oldlen: bigint }>
}

/** Wraps a connection that is past its handshake (guest, fork or exec). */
export const attach = (conn: ClientConnection): Effect.Effect<Guest> =>
  Effect.gen(function*() {
    const call: Guest["call"] = (n, ...args) => Effect.orDie(conn.syscall(n, args))
    const ok: Guest["ok"] = (n, ...args) =>
      Effect.map(call(n, ...args), (r) => {
        assert.strictEqual(r.error, 0, `syscall ${n} failed: ${describe(r)}`)
        return r.retval0
      })
    const fails: Guest["fails"] = (errno, n, ...args) =>
      Effect.map(call(n, ...args), (r) => {
        assert.strictEqual(r.error, errno, `syscall ${n}: want ${errnoName(errno)}, got ${describe(r)}`)
        assert.strictEqual(r.retval0, -1n)
      })
    const str = (s: string) => conn.space.allocString(s)
    const buf = (size: number) => conn.space.alloc(Math.max(size, 1))
    const bytes = (addr: bigint, len: number) => {
      const b = conn.space.read(addr, len)
      assert.isDefined(b, `client memory at ${addr} (${len} bytes) is mapped`)
      return b
    }
    const statAt = (addr: bigint) => decodeStat(bytes(addr, 152))
    const pid = Number(yield* ok(SYS.getpid))
    return {
      conn,
      pid,
      call,
      ok,
      fails,
      str,
      buf,
      bytes,
      open: (path, flags, mode = 0o644) => Effect.map(ok(SYS.open, str(path), flags, mode), Number),
      write: (fd, data) => {
        const d = asBytes(data)
        return Effect.map(ok(SYS.write, fd, d.length === 0 ? buf(1) : conn.space.alloc(d), d.length), Number)
      },
      read: (fd, len) =>
        Effect.gen(function*() {
          const b = buf(len)
          const n = Number(yield* ok(SYS.read, fd, b, len))
          return bytes(b, n)
        }),
      stat: (path) =>
        Effect.gen(function*() {
          const b = buf(152)
          yield* ok(SYS.__stat50, str(path), b)
          return statAt(b)
        }),
      fstat: (fd) =>
        Effect.gen(function*() {
          const b = buf(152)
          yield* ok(SYS.__fstat50, fd, b)
          return statAt(b)
        }),
      sysctl: (mib, oldSize, newValue) =>
        Effect.gen(function*() {
          const name = new Uint8Array(mib.length * 4)
          mib.forEach((c, i) => new DataView(name.buffer).setInt32(i * 4, c, true))
          const oldp = oldSize > 0 ? buf(oldSize) : 0n
          const lenBytes = new Uint8Array(8)
          new DataView(lenBytes.buffer).setBigUint64(0, BigInt(oldSize), true)
          const oldlenp = conn.space.alloc(lenBytes)
          const newp = newValue === undefined ? 0n : conn.space.alloc(newValue)
          const result = yield* call(
            SYS.__sysctl,
            conn.space.alloc(name),
            mib.length,
            oldp,
            oldlenp,
            newp,
            newValue?.length ?? 0
          )
          const oldlen = new DataView(bytes(oldlenp, 8).buffer).getBigUint64(0, true)
          const old = oldp === 0n ? new Uint8Array(0) : bytes(oldp, Math.min(oldSize, Number(oldlen)))
          return { result, old, oldlen }
        })
    }
  })

/** A new client: connects, says HANDSHAKE GUEST with `comm`, and wraps the connection. */
export const guest = (world: World, comm: string): Effect.Effect<Guest, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const conn = yield* connect(world.url)
    yield* conn.handshakeGuest(comm)
    return yield* attach(conn)
  })

/** A NUL-terminated C string out of a fixed-size char array. */
export const cString = (bytes: Uint8Array): string => {
  const nul = bytes.indexOf(0)
  return new TextDecoder().decode(nul < 0 ? bytes : bytes.subarray(0, nul))
}
