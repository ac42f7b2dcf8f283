/**
 * A raw client with an address space of its own, for tests that drive the
 * real kernel byte by byte (Chaos.test.ts): it answers the server's COPYIN
 * and COPYINSTR from its memory, writes COPYOUTs into it and maps ANONMMAP
 * requests, like a real client, and lets a test stop at any of those
 * requests instead, to kill the socket there. Built on support.ts's RawConn.
 */
import { AddressSpace, answerServerRequest, isServerRequest, type ServerRequest } from "@sysproxy/client"
import { packArgs } from "@sysproxy/hypervisor/testing"
import type { Frame, FrameOf, SyscallRequest } from "@sysproxy/protocol"
import { Deferred, Effect, type Scope } from "effect"
import { encode, type RawConn, rawConnect } from "./support.ts"

export type { ServerRequest }

/**
 * What to do with one server request: serve it, never answer it, kill the
 * socket instead of answering, or send half of the answer and then kill.
 */
export type Action = "serve" | "hold" | "kill" | "kill-mid-answer"

/** The answer to a request, or the connection closing first. */
export type Answer = Frame | "closed"

export class MemoryClient {
  readonly memory = new AddressSpace()
  readonly conn: RawConn
  /** Asked before each server request is served; a test replaces it to kill at a chosen request. */
  onRequest: (request: ServerRequest) => Action = () => "serve"
  /** Server requests seen, by tag. */
  readonly seen: Record<string, number> = {}
  private nextReqno = 1n
  private taken = 0
  private readonly pending = new Map<bigint, Deferred.Deferred<Answer>>()

  constructor(conn: RawConn) {
    this.conn = conn
  }

  get closed(): boolean {
    return this.conn.closed
  }

  kill(): void {
    this.conn.socket.destroy()
  }

  /** Destroys the socket once `total` bytes (banner included) have arrived. */
  killAfterBytes(total: number): void {
    const check = () => {
      if (this.conn.receivedLength >= total) {
        this.conn.socket.off("data", check)
        this.kill()
      }
    }
    this.conn.socket.on("data", check)
    check()
  }

  /** Sends `frame` (built with a fresh reqno); its answer arrives later. */
  request(build: (reqno: bigint) => Frame): { readonly reqno: bigint; readonly answer: Effect.Effect<Answer> } {
    const reqno = this.nextReqno++
    const answer = Deferred.makeUnsafe<Answer>()
    this.pending.set(reqno, answer)
    if (this.conn.closed) Deferred.doneUnsafe(answer, Effect.succeed("closed"))
    else this.conn.socket.write(encode(build(reqno)))
    return { reqno, answer: Deferred.await(answer) }
  }

  /** A syscall sent now; `answer` waits for its response. */
  send(sysnum: number, ...args: ReadonlyArray<bigint | number>) {
    return this.request((reqno): SyscallRequest => ({ _tag: "SyscallRequest", reqno, sysnum, args: packArgs(...args) }))
  }

  /** A syscall and its response (dies if the connection closes or something else comes back). */
  syscall(sysnum: number, ...args: ReadonlyArray<bigint | number>): Effect.Effect<FrameOf<"SyscallResponse">> {
    return this.send(sysnum, ...args).answer.pipe(Effect.flatMap((a) => expectTag(a, "SyscallResponse", `syscall ${sysnum}`)))
  }

  /** The pump: cuts frames, settles answers and serves the server's requests, until the socket closes. */
  run(): Effect.Effect<void> {
    const next = this.conn.waitFor<Frame | "closed">(() => {
      const item = this.conn.frames[this.taken]
      if (item !== undefined) {
        this.taken++
        // an undecodable frame from the server is a failure of the test's premise
        if (item._tag === "Failure") throw new Error(`the server sent an undecodable frame: ${item.failure.message}`)
        return item.success
      }
      return this.conn.closed ? "closed" : undefined
    }, "a frame or the close", 600_000)
    const loop: Effect.Effect<void> = Effect.flatMap(next, (f) => {
      if (f === "closed") {
        for (const d of this.pending.values()) Deferred.doneUnsafe(d, Effect.succeed("closed"))
        this.pending.clear()
        return Effect.void
      }
      this.dispatch(f)
      return loop
    })
    return loop
  }

  private dispatch(f: Frame): void {
    if (!isServerRequest(f)) {
      const d = this.pending.get(f.reqno)
      this.pending.delete(f.reqno)
      if (d !== undefined) Deferred.doneUnsafe(d, Effect.succeed(f))
      return
    }
    this.seen[f._tag] = (this.seen[f._tag] ?? 0) + 1
    const action = this.conn.closed ? "hold" : this.onRequest(f)
    if (action === "hold") return
    if (action === "kill") return this.kill()
    // what the client library answers (the C client's rules: a string and its NUL, or maxlen bytes)
    const answer = answerServerRequest(this.memory, f).reply
    if (answer === undefined) return
    const bytes = encode(answer)
    if (action === "kill-mid-answer") {
      // the header and part of the body, never the rest
      this.conn.socket.write(bytes.subarray(0, 24 + Math.floor((bytes.byteLength - 24) / 2)))
      return this.kill()
    }
    this.conn.socket.write(bytes)
  }
}

export const expectTag = <T extends Frame["_tag"]>(a: Answer, tag: T, what: string): Effect.Effect<FrameOf<T>> =>
  a !== "closed" && a._tag === tag
    ? Effect.succeed(a as FrameOf<T>)
    : Effect.die(new Error(`${what}: expected ${tag}, got ${a === "closed" ? "the connection closed" : JSON.stringify(a, (_k, v: unknown) => (typeof v === "bigint" ? `${v}` : v))}`))

/** Connected and past the banner, its pump running for as long as the scope. */
export const memoryConnect = (url: string): Effect.Effect<MemoryClient, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const conn = yield* rawConnect(url)
    yield* conn.readBanner()
    const client = new MemoryClient(conn)
    yield* Effect.forkScoped(client.run())
    return client
  })

/** Connected, past the banner and a guest handshake named `comm`. */
export const memoryGuest = (url: string, comm: string): Effect.Effect<MemoryClient, Error, Scope.Scope> =>
  Effect.gen(function*() {
    const client = yield* memoryConnect(url)
    const answer = yield* client.request((reqno) => ({ _tag: "HandshakeGuest", reqno, comm })).answer
    const hs = yield* expectTag(answer, "HandshakeResponse", "guest handshake")
    if (hs.error !== 0) return yield* Effect.die(new Error(`guest handshake refused: ${hs.error}`))
    return client
  })
