/**
 * Shared helpers for the server's wire tests (Handshake, Rules, Listener):
 * a server on a fresh unix socket (or tcp) backed by a fresh test kernel,
 * bounded polling, and a raw node:net connection that reads the banner and
 * cuts the server's bytes into frames, for tests that must send bytes the
 * real client never would.
 */
import { Hypervisor } from "@sysproxy/hypervisor"
import { TestHypervisor, type TestKernelService } from "@sysproxy/hypervisor/testing"
import {
  type DecodedFrame,
  encodeFrameResult,
  type Frame,
  type FrameOf,
  type FrameTag,
  FrameDecoder,
  parseServerUrl
} from "@sysproxy/protocol"
import { Cause, Effect, References, Result, type Scope } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { make, type ServerOptions, type SysproxyServerService } from "../src/index.ts"

export const BANNER = "RUMPSP-0.4-NetBSD-7.99.34/amd64\n"

/** Can this host listen on the IPv6 loopback? */
export const hasIpv6Loopback = await new Promise<boolean>((resolve) => {
  const probe = Net.createServer()
  probe.once("error", () => resolve(false))
  probe.listen({ host: "::1", port: 0, ipv6Only: true }, () => probe.close(() => resolve(true)))
})

/** A fresh temporary directory, removed with everything in it when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "sp-srv-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/** A socket path in a fresh temporary directory. */
export const tempSocketPath = Effect.map(tempDir, (dir) => Path.join(dir, "sp.sock"))

export interface Running {
  readonly server: SysproxyServerService
  readonly kernel: TestKernelService
  /** The bound URL (real port for tcp). */
  readonly url: string
}

/**
 * A server with its own test kernel, living as long as the caller's scope.
 * Without `url`, it listens on a unix socket in a fresh temporary directory.
 * Logs below Error are dropped to keep the test output readable.
 */
export const startServer = (options: Partial<ServerOptions> = {}) =>
  Effect.gen(function*() {
    const url = options.url ?? `unix://${yield* tempSocketPath}`
    const { hypervisor, kernel } = yield* TestHypervisor.make()
    const server = yield* make({ ...options, url }).pipe(
      Effect.provideService(Hypervisor, hypervisor),
      Effect.provideService(References.MinimumLogLevel, "Error")
    )
    return { server, kernel, url: server.address.url } satisfies Running
  })

/**
 * Re-runs `read` until `done` holds for its value, every `intervalMs`, for at
 * most `timeoutMs`; dies with `what` and the last value if it never does.
 */
export const pollUntil = <A, E, R>(
  read: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  what: string,
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
      yield* Effect.sleep(intervalMs)
    }
  })

const show = (u: unknown): string => {
  try {
    return JSON.stringify(u, (_k, v) => (typeof v === "bigint" ? `${v}n` : v))
  } catch {
    return String(u)
  }
}

// -- frames built by hand -------------------------------------------------------

/** A 24-byte header, written field by field (not through the codec under test). */
export const header = (len: number | bigint, reqno: bigint, cls: number, type: number, arg: number): Uint8Array => {
  const b = new Uint8Array(24)
  const v = new DataView(b.buffer)
  v.setBigUint64(0, BigInt(len), true)
  v.setBigUint64(8, reqno, true)
  v.setUint16(16, cls, true)
  v.setUint16(18, type, true)
  v.setUint32(20, arg, true)
  return b
}

/** A whole frame: header (len computed) and body. */
export const rawFrame = (reqno: bigint, cls: number, type: number, arg: number, body: Uint8Array = new Uint8Array(0)) =>
  cat(header(24 + body.byteLength, reqno, cls, type, arg), body)

export const cat = (...parts: ReadonlyArray<Uint8Array>): Uint8Array => new Uint8Array(Buffer.concat(parts))

/** The bytes of a well-formed frame. */
export const encode = (frame: Frame): Uint8Array => {
  const r = encodeFrameResult(frame)
  if (Result.isFailure(r)) throw new Error(`cannot encode ${frame._tag}: ${r.failure.message}`)
  return r.success
}

export const guestFrame = (reqno: bigint, comm: string) => encode({ _tag: "HandshakeGuest", reqno, comm })
export const getpidFrame = (reqno: bigint) =>
  encode({ _tag: "SyscallRequest", reqno, sysnum: 20, args: new Uint8Array(0) })

// -- a raw connection ---------------------------------------------------------

/** Where a server URL points, as node:net connect options. */
export const netTarget = (url: string): Net.NetConnectOpts => {
  const parsed = parseServerUrl(url, { role: "client" })
  if (Result.isFailure(parsed)) throw new Error(`bad url ${url}: ${parsed.failure.message}`)
  const u = parsed.success
  return u._tag === "Unix" ? { path: u.path } : { host: u.host, port: u.port }
}

/**
 * One raw socket to the server: gathers the banner line, then cuts what
 * follows into frames. Every wait is bounded and dies with a message.
 */
export class RawConn {
  /** The chunks received, banner included; joined only when `received` is read (one concat per chunk was quadratic). */
  private readonly chunks: Array<Buffer> = []
  /** How many bytes have arrived, banner included. */
  receivedLength = 0
  banner: string | undefined = undefined
  readonly frames: Array<DecodedFrame> = []
  /** The socket closed (EOF or reset). */
  closed = false
  closedAt: number | undefined = undefined
  private taken = 0
  private readonly decoder = new FrameDecoder({ maxFrameLength: 1 << 24 })
  private readonly watchers = new Set<() => void>()

  readonly socket: Net.Socket

  constructor(socket: Net.Socket) {
    this.socket = socket
    socket.on("data", (chunk: Buffer) => {
      const before = this.receivedLength
      this.chunks.push(chunk)
      this.receivedLength += chunk.byteLength
      let rest: Uint8Array = chunk
      if (this.banner === undefined) {
        // earlier chunks had no newline: the banner ends at this chunk's first one
        const nl = chunk.indexOf(0x0a)
        if (nl === -1) return this.changed()
        const all = this.received
        this.banner = all.subarray(0, before + nl + 1).toString("latin1")
        rest = all.subarray(before + nl + 1)
      }
      this.frames.push(...this.decoder.push(new Uint8Array(rest)))
      this.changed()
    })
    socket.on("error", () => {})
    socket.on("close", () => {
      this.closed = true
      this.closedAt = Date.now()
      this.changed()
    })
  }

  /** Every byte received, banner included. */
  get received(): Buffer {
    if (this.chunks.length !== 1) this.chunks.splice(0, this.chunks.length, Buffer.concat(this.chunks))
    return this.chunks[0]!
  }

  private changed() {
    for (const w of [...this.watchers]) w()
  }

  /** Waits until `check` returns a value (not undefined); dies after `timeoutMs`. */
  waitFor<A>(check: () => A | undefined, what: string, timeoutMs = 3000): Effect.Effect<A> {
    return Effect.callback<A>((resume) => {
      const now = check()
      if (now !== undefined) return resume(Effect.succeed(now))
      const watcher = () => {
        const value = check()
        if (value === undefined) return
        cleanup()
        resume(Effect.succeed(value))
      }
      const timer = setTimeout(() => {
        cleanup()
        resume(Effect.die(new Error(`raw connection: timed out after ${timeoutMs} ms waiting for ${what}`)))
      }, timeoutMs)
      const cleanup = () => {
        clearTimeout(timer)
        this.watchers.delete(watcher)
      }
      this.watchers.add(watcher)
      return Effect.sync(cleanup)
    })
  }

  /** The banner line, newline included. */
  readBanner(timeoutMs = 3000): Effect.Effect<string> {
    return this.waitFor(() => this.banner, "the banner", timeoutMs)
  }

  /** The next frame from the server; dies if it did not decode. */
  nextFrame(timeoutMs = 3000): Effect.Effect<Frame> {
    return this.waitFor(() => {
      const item = this.frames[this.taken]
      if (item === undefined) return undefined
      this.taken++
      return item
    }, "a frame", timeoutMs).pipe(
      Effect.flatMap((item) =>
        Result.isSuccess(item)
          ? Effect.succeed(item.success)
          : Effect.die(new Error(`the server sent an undecodable frame: ${item.failure.message}`))
      )
    )
  }

  /** The next frame, which must be a `tag`. */
  next<T extends FrameTag>(tag: T, timeoutMs = 3000): Effect.Effect<FrameOf<T>> {
    return this.nextFrame(timeoutMs).pipe(
      Effect.flatMap((f) =>
        f._tag === tag
          ? Effect.succeed(f as FrameOf<T>)
          : Effect.die(new Error(`expected ${tag}, got ${show(f)}`))
      )
    )
  }

  /** Frames received and not taken yet. */
  get pendingFrames(): number {
    return this.frames.length - this.taken
  }

  /** Waits until the server has closed the connection. */
  awaitClosed(timeoutMs = 3000): Effect.Effect<void> {
    return this.waitFor(() => (this.closed ? true : undefined), "the connection to close", timeoutMs).pipe(Effect.asVoid)
  }

  write(bytes: Uint8Array): Effect.Effect<void> {
    return Effect.sync(() => void this.socket.write(bytes))
  }
}

/** A raw connection (not yet past the banner), destroyed when the scope closes. */
export const rawConnect = (url: string): Effect.Effect<RawConn, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.callback<RawConn, Error>((resume) => {
      const socket = Net.createConnection(netTarget(url))
      // attached before connect so that nothing the server sends is missed
      const conn = new RawConn(socket)
      const onError = (e: Error) => resume(Effect.fail(e))
      socket.once("error", onError)
      socket.once("connect", () => {
        socket.off("error", onError)
        resume(Effect.succeed(conn))
      })
      return Effect.sync(() => socket.destroy())
    }),
    (conn) => Effect.sync(() => conn.socket.destroy())
  )

/** A raw connection past the banner and a guest handshake (reqno 0); returns it and the pid. */
export const rawGuest = (url: string, comm = "raw") =>
  Effect.gen(function*() {
    const conn = yield* rawConnect(url)
    yield* conn.readBanner()
    yield* conn.write(guestFrame(0n, comm))
    const answer = yield* conn.next("HandshakeResponse")
    if (answer.reqno !== 0n || answer.error !== 0) {
      return yield* Effect.die(new Error(`guest handshake refused: ${show(answer)}`))
    }
    yield* conn.write(getpidFrame(1n))
    const pid = yield* conn.next("SyscallResponse")
    return { conn, pid: Number(pid.retval0) }
  })

// -- seeded runs ---------------------------------------------------------------

/** The seed in environment variable `variable`, or a fresh one. */
export const seedFrom = (variable: string): number =>
  Number(process.env[variable] ?? ((Date.now() ^ (Math.random() * 0x1_0000_0000)) >>> 0))

/** Prints the seed whatever went wrong, so the run can be replayed with `variable`=<seed>. */
export const withSeed = (seed: number, variable: string) => <A, E, R>(self: Effect.Effect<A, E, R>) =>
  self.pipe(
    Effect.onError((cause) =>
      Effect.sync(() =>
        console.error(`failure with seed ${seed}: rerun with ${variable}=${seed}\n${Cause.pretty(cause).slice(0, 2000)}`)
      )
    )
  )
