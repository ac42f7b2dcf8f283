/**
 * A tiny scripted sysproxy server for the client tests: it listens on a
 * unix socket in the temp dir, writes a banner to every connection, and
 * hands each accepted connection to the test as a `Peer` that can read
 * the client's frames (and raw bytes) and send frames back.
 */
import * as Fs from "node:fs"
import * as Net from "node:net"
import * as Os from "node:os"
import * as Path from "node:path"
import { encodeFrame, type Frame, type FrameDecodeError, FrameDecoder } from "@sysproxy/protocol"
import { Deferred, Effect, Queue, Result, type Scope } from "effect"

export const BANNER = "RUMPSP-0.4-NetBSD-7.99.34/amd64\n"

let counter = 0
const socketPath = () => Path.join(Os.tmpdir(), `sysproxy-client-${process.pid}-${counter++}.sock`)

export class Peer {
  private readonly chunks: Array<Uint8Array> = []
  private readonly decoder = new FrameDecoder()

  readonly socket: Net.Socket
  private readonly frames: Queue.Queue<Result.Result<Frame, FrameDecodeError>>
  readonly ended: Deferred.Deferred<void>

  constructor(
    socket: Net.Socket,
    frames: Queue.Queue<Result.Result<Frame, FrameDecodeError>>,
    ended: Deferred.Deferred<void>
  ) {
    this.socket = socket
    this.frames = frames
    this.ended = ended
    socket.on("data", (chunk: Buffer) => {
      this.chunks.push(new Uint8Array(chunk))
      for (const decoded of this.decoder.push(chunk)) Queue.offerUnsafe(frames, decoded)
    })
    socket.on("error", () => {})
    socket.on("close", () => Deferred.doneUnsafe(ended, Effect.void))
  }

  /** Every byte the client has sent so far. */
  get bytes(): Uint8Array {
    return Buffer.concat(this.chunks)
  }

  /** The next frame the client sent (dies on a frame that does not decode). */
  readonly next: Effect.Effect<Frame> = Effect.suspend(() => Queue.take(this.frames)).pipe(
    Effect.flatMap((r) => Result.isSuccess(r) ? Effect.succeed(r.success) : Effect.die(r.failure))
  )

  /** Frames sent so far but not taken. */
  get queued(): number {
    return Queue.sizeUnsafe(this.frames)
  }

  send(...frames: ReadonlyArray<Frame>): Effect.Effect<void> {
    return Effect.forEach(frames, (f) =>
      encodeFrame(f).pipe(
        Effect.orDie,
        Effect.flatMap((bytes) => this.writeRaw(bytes))
      ), { discard: true })
  }

  writeRaw(bytes: Uint8Array): Effect.Effect<void> {
    return Effect.sync(() => {
      this.socket.write(bytes)
    })
  }

  /** Closes the connection the way a server process exit would (FIN). */
  readonly end: Effect.Effect<void> = Effect.suspend(() => {
    this.socket.end()
    return Deferred.await(this.ended)
  })
}

export interface FakeServer {
  readonly url: string
  readonly path: string
  /** The next accepted connection. */
  readonly accept: Effect.Effect<Peer>
}

export interface FakeServerOptions {
  /** What to write on accept; undefined writes nothing. */
  readonly banner?: string | Uint8Array | undefined
  /** Close every connection right after accepting (a full server). */
  readonly closeOnAccept?: boolean | undefined
  /** Listen on 127.0.0.1 (a free port) instead of a unix socket. */
  readonly tcp?: boolean | undefined
  /** The unix socket's path (one in the temp dir by default), e.g. where a real server was. */
  readonly path?: string | undefined
}

export const fakeServer = (
  options: FakeServerOptions = { banner: BANNER }
): Effect.Effect<FakeServer, never, Scope.Scope> =>
  Effect.gen(function*() {
    const path = options.path ?? socketPath()
    const accepted = yield* Queue.unbounded<Net.Socket>()
    const sockets = new Set<Net.Socket>()
    const server = yield* Effect.acquireRelease(
      Effect.callback<Net.Server>((resume) => {
        Fs.rmSync(path, { force: true })
        const server = Net.createServer((socket) => {
          sockets.add(socket)
          socket.on("close", () => sockets.delete(socket))
          if (options.banner !== undefined) socket.write(options.banner)
          if (options.closeOnAccept === true) socket.end()
          else Queue.offerUnsafe(accepted, socket)
        })
        if (options.tcp === true) server.listen({ host: "127.0.0.1", port: 0 }, () => resume(Effect.succeed(server)))
        else server.listen(path, () => resume(Effect.succeed(server)))
      }),
      (server) =>
        Effect.callback<void>((resume) => {
          for (const s of sockets) s.destroy()
          server.close(() => resume(Effect.void))
        })
    )
    const accept = Queue.take(accepted).pipe(
      Effect.flatMap((socket) =>
        Effect.gen(function*() {
          const frames = yield* Queue.unbounded<Result.Result<Frame, FrameDecodeError>>()
          const ended = yield* Deferred.make<void>()
          return new Peer(socket, frames, ended)
        })
      )
    )
    const address = server.address()
    const url = options.tcp === true && typeof address === "object" && address !== null
      ? `tcp://127.0.0.1:${address.port}`
      : `unix://${path}`
    return { url, path, accept }
  })
