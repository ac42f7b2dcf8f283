/**
 * Helpers for the runtime tests (Syscalls.test.ts, Lifecycle.test.ts): a
 * real server on a fresh unix socket (or tcp 127.0.0.1:0) over a fresh
 * test kernel, library clients, a raw client for misbehaving peers, and a
 * bounded poll for asynchronous cleanup.
 */
import { type ClientConnection, connect } from "@sysproxy/client"
import { Hypervisor } from "@sysproxy/hypervisor"
import { TestHypervisor, type TestKernelService } from "@sysproxy/hypervisor/testing"
import { encodeFrameResult, type Frame, FrameDecoder, type FrameOf, type FrameTag } from "@sysproxy/protocol"
import { Cause, Effect, Exit, References, Result } from "effect"
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { make, type ServerOptions, type SysproxyServerService } from "../src/index.ts"

export interface Runtime {
  readonly server: SysproxyServerService
  readonly kernel: TestKernelService
  /** The URL clients connect to (the real port for tcp). */
  readonly url: string
  /** The unix socket file, undefined for tcp. */
  readonly socketPath: string | undefined
}

/** A fresh temporary directory, removed when the scope closes. */
export const tempDir = Effect.acquireRelease(
  Effect.sync(() => Fs.mkdtempSync(Path.join(Os.tmpdir(), "sysproxy-rt-"))),
  (dir) => Effect.sync(() => Fs.rmSync(dir, { recursive: true, force: true }))
)

/**
 * A server over a fresh test kernel, scoped. Listens on a unix socket in a
 * fresh temp dir, or on tcp://127.0.0.1:0.
 */
export const startServer = (
  options: Omit<ServerOptions, "url"> & { readonly transport?: "unix" | "tcp" } = {}
) =>
  Effect.gen(function*() {
    const { transport, ...rest } = options
    const dir = yield* tempDir
    const { hypervisor, kernel } = yield* TestHypervisor.make()
    const socketPath = transport === "tcp" ? undefined : Path.join(dir, "sysproxy.sock")
    const url = socketPath === undefined ? "tcp://127.0.0.1:0" : `unix://${socketPath}`
    const server = yield* make({ ...rest, url }).pipe(
      Effect.provideService(Hypervisor, hypervisor),
      // the server's fibers inherit this: info/debug lines would drown the test output
      Effect.provideService(References.MinimumLogLevel, "Warn")
    )
    return { server, kernel, url: server.address.url, socketPath } satisfies Runtime
  })

/** A library client past its guest handshake, and the pid the kernel gave it. */
export const guest = (rt: Runtime, comm: string) =>
  Effect.gen(function*() {
    const client = yield* connect(rt.url)
    yield* client.handshakeGuest(comm)
    const pid = yield* pidOf(rt.kernel, comm)
    return { client, pid }
  })

/** The pid of the one live process named `comm`. */
export const pidOf = (kernel: TestKernelService, comm: string) =>
  Effect.gen(function*() {
    const matching = (yield* kernel.processes).filter((p) => p.comm === comm)
    if (matching.length !== 1) return yield* Effect.die(new Error(`expected one process "${comm}", found ${matching.length}`))
    return matching[0]!.pid
  })

const sleepMs = (ms: number) => Effect.sleep(`${ms} millis`)

/**
 * Polls `probe` until `done` holds, at most `timeoutMs` (real time); returns
 * the last value. Dies with the last value seen when time runs out.
 */
export const waitFor = <A, E, R>(
  label: string,
  probe: Effect.Effect<A, E, R>,
  done: (a: A) => boolean,
  timeoutMs = 3000
): Effect.Effect<A, E, R> =>
  Effect.gen(function*() {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const value = yield* probe
      if (done(value)) return value
      if (Date.now() > deadline) {
        return yield* Effect.die(new Error(`timed out after ${timeoutMs}ms waiting for ${label}; last: ${show(value)}`))
      }
      yield* sleepMs(10)
    }
  })

export const show = (value: unknown): string =>
  JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? `${v}n` : v))

/** Kernel and server figures that must all be zero once every client is gone. */
export const residue = (rt: Runtime) =>
  Effect.gen(function*() {
    const stats = rt.server.stats()
    return {
      lwps: yield* rt.kernel.lwpCount,
      processes: yield* rt.kernel.processCount,
      sleeping: yield* rt.kernel.sleeping,
      clients: stats.clients,
      waiters: stats.waiters,
      inflightJobs: stats.inflightJobs,
      busyWorkers: stats.pool.busy,
      queued: stats.pool.queued
    }
  })

export const allZero = (r: Readonly<Record<string, number>>): boolean => Object.values(r).every((n) => n === 0)

/** The typed failure of an exit (dies when it is a success or has no typed failure). */
export const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  if (Exit.isSuccess(exit)) throw new Error(`expected a failure, got a success: ${show(exit.value)}`)
  const error = Cause.findError(exit.cause)
  if (Result.isFailure(error)) throw new Error(`expected a typed failure, got ${Cause.pretty(exit.cause)}`)
  return error.success
}

// -- a raw client: node:net with the protocol codec, nothing else ------------------------

export interface RawClient {
  readonly socket: Net.Socket
  /** The banner line, once read. */
  readonly banner: Effect.Effect<string>
  /** The next frame from the server; dies if the connection closes first. */
  readonly next: Effect.Effect<Frame>
  /** The next frame, which must be a `tag`. */
  readonly nextOf: <T extends FrameTag>(tag: T) => Effect.Effect<FrameOf<T>>
  readonly send: (frame: Frame) => Effect.Effect<void>
  /** Guest handshake with reqno 0, waiting for its answer. */
  readonly handshake: (comm: string) => Effect.Effect<void>
  /** Stops reading from the socket (the kernel buffers fill, then the server's). */
  readonly stopReading: Effect.Effect<void>
  /** Reads again (a paused socket never notices that the peer closed it). */
  readonly resumeReading: Effect.Effect<void>
  /** Resolves once the socket has closed. */
  readonly closed: Effect.Effect<void>
  readonly isClosed: () => boolean
  /** Frames received so far and not taken with `next`. */
  readonly buffered: () => ReadonlyArray<Frame>
  /** Resets the socket at once. */
  readonly destroy: Effect.Effect<void>
}

const NEWLINE = 0x0a

/** Connects a raw socket to `url` (unix:///path or tcp://host:port). Destroyed when the scope closes. */
export const rawConnect = (url: string) =>
  Effect.acquireRelease(
    Effect.callback<RawClient>((resume) => {
      const socket = url.startsWith("unix://")
        ? Net.createConnection({ path: url.slice("unix://".length) })
        : (() => {
          const m = /^tcp:\/\/([^:]+):(\d+)$/.exec(url)
          if (m === null) throw new Error(`bad url ${url}`)
          return Net.createConnection({ host: m[1]!, port: Number(m[2]) })
        })()
      const decoder = new FrameDecoder()
      const frames: Array<Frame> = []
      let bannerBytes: Buffer | undefined = Buffer.alloc(0)
      let bannerLine: string | undefined
      let closed = false
      const watchers = new Set<() => void>()
      const notify = () => {
        for (const w of [...watchers]) w()
      }
      socket.on("data", (chunk: Buffer) => {
        let rest: Buffer = chunk
        if (bannerBytes !== undefined) {
          const all = Buffer.concat([bannerBytes, chunk])
          const nl = all.indexOf(NEWLINE)
          if (nl === -1) {
            bannerBytes = all
            return
          }
          bannerLine = all.subarray(0, nl).toString("latin1")
          bannerBytes = undefined
          rest = all.subarray(nl + 1)
        }
        for (const item of decoder.push(rest)) {
          if (Result.isSuccess(item)) frames.push(item.success)
          else throw new Error(`raw client: undecodable frame from the server: ${item.failure.message}`)
        }
        notify()
      })
      socket.on("error", () => {})
      socket.on("close", () => {
        closed = true
        notify()
      })

      /** Waits until `ready` gives a value; dies with `what` if the socket closes first. */
      const until = <A>(what: string, ready: () => A | undefined): Effect.Effect<A> =>
        Effect.callback<A>((resumeWait) => {
          const check = () => {
            const v = ready()
            if (v !== undefined) {
              watchers.delete(check)
              resumeWait(Effect.succeed(v))
            } else if (closed) {
              watchers.delete(check)
              resumeWait(Effect.die(new Error(`raw client: connection closed while waiting for ${what}`)))
            }
          }
          watchers.add(check)
          check()
          return Effect.sync(() => watchers.delete(check))
        })

      const next = until("a frame", () => frames.shift())
      const nextOf = <T extends FrameTag>(tag: T): Effect.Effect<FrameOf<T>> =>
        Effect.flatMap(next, (f) =>
          f._tag === tag
            ? Effect.succeed(f as FrameOf<T>)
            : Effect.die(new Error(`raw client: expected ${tag}, got ${show(f)}`)))
      const send = (frame: Frame) =>
        Effect.sync(() => {
          const bytes = encodeFrameResult(frame)
          if (Result.isFailure(bytes)) throw new Error(`raw client: cannot encode ${frame._tag}: ${bytes.failure.message}`)
          socket.write(bytes.success)
        })
      const client: RawClient = {
        socket,
        banner: until("the banner", () => bannerLine),
        next,
        nextOf,
        send,
        handshake: (comm) =>
          Effect.gen(function*() {
            yield* send({ _tag: "HandshakeGuest", reqno: 0n, comm })
            const answer = yield* nextOf("HandshakeResponse")
            if (answer.error !== 0 || answer.reqno !== 0n) {
              return yield* Effect.die(new Error(`raw client: handshake refused: ${show(answer)}`))
            }
          }),
        stopReading: Effect.sync(() => {
          socket.pause()
        }),
        resumeReading: Effect.sync(() => {
          socket.resume()
        }),
        closed: until("close", () => (closed ? true : undefined)).pipe(Effect.catchDefect(() => Effect.void), Effect.asVoid),
        isClosed: () => closed,
        buffered: () => frames.slice(),
        destroy: Effect.sync(() => {
          socket.destroy()
        })
      }
      socket.once("connect", () => resume(Effect.succeed(client)))
      socket.once("error", (e) => resume(Effect.die(e)))
      return Effect.sync(() => socket.destroy())
    }),
    (c) => Effect.sync(() => c.socket.destroy())
  )

/** Whether the client can still reach the server at all. */
export const connectRefused = (url: string) =>
  Effect.exit(connect(url).pipe(Effect.scoped)).pipe(Effect.map(Exit.isFailure))

export type { ClientConnection }
