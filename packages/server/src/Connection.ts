/**
 * One client connection: its state machine NEW -> RUNNING -> DYING, its
 * frames, and its cleanup. This is the seeds' handlereq (dispatch),
 * serv_handlesyscall / serv_handleexec (jobs), kickwaiter (answers),
 * serv_handledisco + spcrelease (cleanup) for one client, run by its own
 * fiber so no client can stall another.
 *
 * A class, not a closure per operation: an idle connection then costs its
 * fields, not some eighty closures and their contexts (the benchmark holds
 * 10,000 idle clients under 16 KiB each).
 */
import { Clock, Context, Duration, Effect, Fiber, FiberSet, Result, type Scope } from "effect"
import { type LwpHandle, type ProcessHandle, type UserMemoryService, UserMemory } from "@sysproxy/hypervisor"
import {
  type DecodedFrame,
  encodeFrameChunksResult,
  type ErrorCodeName,
  ErrorCodes,
  type Frame,
  FrameClasses,
  FrameDecoder,
  FrameTypes,
  HandshakeKinds,
  type HandshakeExec,
  type HandshakeFork,
  type HandshakeGuest,
  type SyscallRequest
} from "@sysproxy/protocol"
import type * as Net from "node:net"
import { makeRemoteMemory, type RemoteLink } from "./RemoteMemory.ts"
import type { ConnectionFigures, ServerState } from "./ServerState.ts"
import { FrameReader, type FrameSink } from "./FrameReader.ts"
import { BadAnswer, makeWaiters, type Waiters } from "./Waiters.ts"
import { SyscallJob, type SyscallOwner } from "./SyscallJob.ts"

type ConnState = "new" | "running" | "dying"

type JobRunner = (effect: Effect.Effect<void, never, UserMemory>) => Fiber.Fiber<void>

/**
 * Bytes not yet handed to the OS. Node's writableLength only shrinks when a
 * whole queued write completes (a 1 MiB frame at a time); libuv's own queue
 * size shrinks with every partial write, so it shows a slow reader's
 * progress.
 */
const unsentBytes = (socket: Net.Socket): number => {
  const handle = (socket as unknown as { readonly _handle?: { readonly writeQueueSize?: number } })._handle
  return handle?.writeQueueSize ?? socket.writableLength
}

/** How often a paced sender looks at the client's backlog. */
const PACE_POLL = Duration.millis(25)

const settle = (list: Array<() => void> | undefined) => {
  if (list !== undefined) for (const f of list) f()
}

/** Queued answers up to this many bytes leave as one buffer; beyond, as they are, in one writev. */
const COALESCE_MAX = 16 * 1024

class Connection implements RemoteLink, ConnectionFigures, FrameSink, SyscallOwner {
  readonly socket: Net.Socket
  readonly server: ServerState
  readonly waiters: Waiters = makeWaiters()
  readonly memory: UserMemoryService
  readonly maxOutstanding: number
  /** Forks a job into this connection's FiberSet (set by serveConnection, renewed after handshakes). */
  runJob: JobRunner | undefined = undefined
  jobRuntime: Effect.Effect<JobRunner> | undefined = undefined
  /**
   * Forks a syscall's fiber with this connection's context and memory. Not
   * into the FiberSet: a call is in `calls` already, and cleanup interrupts
   * what is there, so no set is grown and shrunk on every syscall.
   */
  runCall: JobRunner | undefined = undefined

  state: ConnState = "new"
  process: ProcessHandle | undefined = undefined
  inExec = false
  closing = false
  dropReason: string | undefined = undefined
  reqnoCounter = 0n
  inflightSyscalls = 0
  inflightJobs = 0
  onSyscallsDrained: Array<() => void> | undefined = undefined
  onJobsDrained: Array<() => void> | undefined = undefined
  /** Paced senders waiting for the socket to drain; the listeners are added on first use. */
  drainWaiters: Set<() => void> | undefined = undefined
  /** Closes a connection that has not handshaken in time; gone once it has. */
  handshakeTimer: Fiber.Fiber<void> | undefined = undefined
  /** Syscalls in flight, each at its own slot (SyscallJob). */
  readonly calls: Array<SyscallJob> = []
  /** Frames queued while a batch of requests is handled, and their bytes. */
  private out: Array<Uint8Array> = []
  private outBytes = 0
  private batching = 0

  constructor(socket: Net.Socket, server: ServerState) {
    this.socket = socket
    this.server = server
    this.maxOutstanding = server.options.maxOutstandingRequests
    this.memory = makeRemoteMemory(this)
  }

  // -- figures (ServerState.connections) ----------------------------------------

  waiterCount(): number {
    return this.waiters.size()
  }

  jobCount(): number {
    return this.inflightJobs
  }

  isBound(): boolean {
    return this.process !== undefined
  }

  get dying(): boolean {
    return this.state === "dying"
  }

  // -- writing (RemoteLink) ------------------------------------------------------

  nextReqno(): bigint {
    return ++this.reqnoCounter
  }

  onCopy(direction: "in" | "out", bytes: number): void {
    if (direction === "in") this.server.counters.copyinBytes += bytes
    else this.server.counters.copyoutBytes += bytes
  }

  drop(reason: string): void {
    if (this.dropReason === undefined) this.dropReason = reason
    this.closing = true
    this.server.counters.dropped++
    this.socket.destroy()
  }

  /** Bytes queued here or in the socket, not yet handed to the OS. */
  private queuedBytes(): number {
    return this.socket.writableLength + this.outBytes
  }

  /** Queues one frame (its pieces back to back: frames never interleave). */
  send(frame: Frame): boolean {
    const socket = this.socket
    if (socket.destroyed || !socket.writable) return false
    const encoded = encodeFrameChunksResult(frame)
    if (Result.isFailure(encoded)) {
      this.drop(`internal error: ${encoded.failure.message}`)
      return false
    }
    const chunks = encoded.success
    let length = 0
    for (const c of chunks) length += c.byteLength
    // checked before queueing, so the bound is never passed (one frame
    // always fits an empty queue, whatever the bound)
    const max = this.server.options.maxUnsentBytes
    const unsent = this.queuedBytes()
    if (unsent > 0 && unsent + length > max) {
      this.drop(`client does not read: ${unsent} bytes unsent, the limit is ${max}`)
      return false
    }
    for (const c of chunks) this.out.push(c)
    this.outBytes += length
    if (this.batching === 0) this.flush()
    return true
  }

  beginBatch(): void {
    this.batching++
  }

  endBatch(): void {
    if (--this.batching === 0) this.flush()
  }

  /** Hands the queued frames to the socket: one write for the usual few small ones. */
  flush(): void {
    const out = this.out
    if (out.length === 0) return
    const socket = this.socket
    if (!socket.destroyed && socket.writable) {
      if (out.length === 1) {
        socket.write(out[0]!)
      } else if (this.outBytes <= COALESCE_MAX) {
        const joined = Buffer.allocUnsafe(this.outBytes)
        let at = 0
        for (const c of out) {
          joined.set(c, at)
          at += c.byteLength
        }
        socket.write(joined)
      } else {
        // large payloads (copyout data) are not copied: they leave in one writev
        socket.cork()
        for (const c of out) socket.write(c)
        socket.uncork()
      }
    }
    out.length = 0
    this.outBytes = 0
  }

  /**
   * Sends, then holds the sender back while more than the high-water mark
   * is queued. The stall timer restarts whenever the backlog shrinks, so
   * a slow reader is paced and only a client that stops reading is dropped.
   */
  sendPaced(frame: Frame): Effect.Effect<boolean> {
    return Effect.suspend(() => {
      if (!this.send(frame)) return Effect.succeed(false)
      // the usual case: the client keeps up, nothing to wait for
      if (this.queuedBytes() <= this.server.options.writeHighWater) return Effect.succeed(true)
      return this.paceBacklog()
    })
  }

  private paceBacklog(): Effect.Effect<boolean> {
    return Effect.gen({ self: this }, function*() {
      const { socket } = this
      const { writeHighWater, writeStallTimeout } = this.server.options
      let backlog = unsentBytes(socket)
      let lastProgress = yield* Clock.currentTimeMillis
      while (!socket.destroyed && this.queuedBytes() > writeHighWater) {
        yield* this.drained().pipe(Effect.timeoutOption(PACE_POLL))
        const now = yield* Clock.currentTimeMillis
        const left = unsentBytes(socket)
        // any change is progress: a partial write shrinks it, a finished one lets the next in
        if (left !== backlog) {
          backlog = left
          lastProgress = now
        } else if (now - lastProgress >= Duration.toMillis(writeStallTimeout)) {
          this.drop(`client stopped reading for ${Duration.format(writeStallTimeout)}`)
        }
      }
      return !socket.destroyed
    })
  }

  /** Waits for "drain" or "close": one pair of listeners serves every paced sender of the connection. */
  private drained(): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      let waiting = this.drainWaiters
      if (waiting === undefined) {
        const all = new Set<() => void>()
        const wake = () => {
          const now = [...all]
          all.clear()
          for (const f of now) f()
        }
        this.socket.on("drain", wake)
        this.socket.on("close", wake)
        waiting = this.drainWaiters = all
      }
      const set = waiting
      const done = () => resume(Effect.void)
      set.add(done)
      return Effect.sync(() => {
        set.delete(done)
      })
    })
  }

  sendError(reqno: bigint, code: ErrorCodeName): void {
    this.server.options.observer?.errorReplied(code)
    this.send({ _tag: "ErrorFrame", reqno, code: ErrorCodes[code] })
  }

  /** The seeds' shutdown(SHUT_RDWR): flush what was queued, read no more. */
  shutdown(): void {
    this.closing = true
    this.flush()
    this.socket.destroySoon()
  }

  stopped(): boolean {
    return this.closing
  }

  // -- jobs (the worker pool) ----------------------------------------------------

  jobEnded(syscall: boolean): void {
    if (syscall && --this.inflightSyscalls === 0) {
      const l = this.onSyscallsDrained
      this.onSyscallsDrained = undefined
      settle(l)
    }
    if (--this.inflightJobs === 0) {
      const l = this.onJobsDrained
      this.onJobsDrained = undefined
      settle(l)
    }
  }

  whenDrained(which: "syscalls" | "jobs"): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      if ((which === "syscalls" ? this.inflightSyscalls : this.inflightJobs) === 0) return resume(Effect.void)
      const done = () => resume(Effect.void)
      if (which === "syscalls") (this.onSyscallsDrained ??= []).push(done)
      else (this.onJobsDrained ??= []).push(done)
    })
  }

  /** Takes the job runtime again, so jobs forked from now on log with the current annotations. */
  rebindJobs(): Effect.Effect<void> {
    return Effect.map(Effect.zip(this.jobRuntime!, Effect.context<never>()), ([run, context]) => {
      this.runJob = run
      this.runCall = Effect.runForkWith(Context.add(context, UserMemory, this.memory))
    })
  }

  /** The seeds' schedulework for a syscall: queue it, or answer TRYAGAIN when the queue is full. */
  startSyscall(frame: SyscallRequest, pid: number): void {
    // the per-client cap: one client cannot take the whole pool and queue
    if (this.inflightSyscalls >= this.server.options.maxInflightSyscalls) {
      return this.sendError(frame.reqno, "TRYAGAIN")
    }
    this.inflightJobs++
    this.inflightSyscalls++
    if (!this.server.pool.submit(new SyscallJob(this, frame, pid))) {
      this.jobEnded(true)
      this.sendError(frame.reqno, "TRYAGAIN")
    }
  }

  /**
   * An exec's completion as a job. It has already ordered its lwps out and
   * there is one per connection at most: it is never refused, or the
   * process would stay half-exec'd.
   */
  scheduleExec(work: Effect.Effect<void, never, UserMemory>): void {
    this.inflightJobs++
    this.server.pool.submit({
      start: (done) => {
        if (this.state === "dying") {
          this.jobEnded(false)
          return done()
        }
        this.runJob!(work).addObserver(() => {
          this.jobEnded(false)
          done()
        })
      }
    }, { bypassBound: true })
  }

  /** The call in flight in `lwp`, if this connection has it. */
  callIn(lwp: LwpHandle): SyscallJob | undefined {
    for (const call of this.calls) if (call.handle === lwp) return call
    return undefined
  }

  /** The seeds' serv_handleexec: runs once every other lwp has left the kernel. */
  finishExec(frame: HandshakeExec, proc: ProcessHandle): Effect.Effect<void> {
    return finishExecBody.call(this, frame, proc)
  }

  // -- handshakes ------------------------------------------------------------------

  becomeRunning(proc: ProcessHandle, reqno: bigint): Effect.Effect<void, never, Scope.Scope> {
    return Effect.sync(() => {
      this.process = proc
      this.state = "running"
      this.send({ _tag: "HandshakeResponse", reqno, error: 0 })
    }).pipe(
      // from here on this connection's lines (and its jobs', forked later) name the client
      Effect.andThen(Effect.annotateLogsScoped(proc.comm === undefined ? { pid: proc.pid } : { pid: proc.pid, comm: proc.comm })),
      Effect.andThen(this.rebindJobs()),
      Effect.andThen(Effect.suspend(() => this.stopHandshakeTimer())),
      Effect.andThen(Effect.logDebug("handshake complete"))
    )
  }

  guest(frame: HandshakeGuest): Effect.Effect<void, never, Scope.Scope> {
    return guestBody.call(this, frame)
  }

  fork(frame: HandshakeFork): Effect.Effect<void, never, Scope.Scope> {
    return forkBody.call(this, frame)
  }

  prefork(reqno: bigint, proc: ProcessHandle): Effect.Effect<void> {
    return preforkBody.call(this, reqno, proc)
  }

  exec(frame: HandshakeExec, proc: ProcessHandle): Effect.Effect<void, never, Scope.Scope> {
    return execBody.call(this, frame, proc)
  }

  // -- dispatch (the seeds' handlereq / kickwaiter) ---------------------------------

  onUndecodable(item: DecodedFrame & { readonly _tag: "Failure" }): Effect.Effect<void> {
    return onUndecodableBody.call(this, item)
  }

  /**
   * Answers are handed over and syscalls scheduled at once (undefined); a
   * handshake, prefork or exec returns the effect the connection's fiber runs
   * before the next frame.
   */
  onFrame(frame: Frame): Effect.Effect<void, never, Scope.Scope> | undefined {
    switch (frame._tag) {
      case "HandshakeResponse":
      case "SyscallResponse":
      case "PreforkResponse":
      case "CopyinResponse":
      case "AnonmmapResponse":
        // an answer nobody waits for is dropped, as in the seeds
        this.waiters.complete(frame.reqno, frame)
        return undefined
      case "ErrorFrame":
        this.sendError(frame.reqno, "MALFORMED_REQUEST")
        return undefined
      default:
        break
    }
    const proc = this.process
    if (this.state === "new" || proc === undefined) {
      if (frame._tag === "HandshakeGuest") return this.guest(frame)
      if (frame._tag === "HandshakeFork") return this.fork(frame)
      this.sendError(frame.reqno, "AUTH")
      this.shutdown()
      return undefined
    }
    switch (frame._tag) {
      case "SyscallRequest":
        this.startSyscall(frame, proc.pid)
        return undefined
      case "PreforkRequest":
        return this.prefork(frame.reqno, proc)
      case "HandshakeExec":
        return this.exec(frame, proc)
      case "HandshakeGuest":
      case "HandshakeFork":
        this.sendError(frame.reqno, "MALFORMED_REQUEST")
        this.shutdown()
        return undefined
      default:
        // a server-side request type sent by a client
        this.sendError(frame.reqno, "MALFORMED_REQUEST")
        return undefined
    }
  }

  // -- cleanup (serv_handledisco + spcrelease) ----------------------------------------

  cleanup(jobs: FiberSet.FiberSet<void>): Effect.Effect<void> {
    return cleanupBody.call(this, jobs).pipe(Effect.ensuring(Effect.sync(() => this.server.connections.delete(this))))
  }

  // -- the read loop ---------------------------------------------------------------------

  /** Reads and handles frames until the client goes or the connection is closed. */
  serve(): Effect.Effect<void, never, Scope.Scope> {
    return Effect.suspend(() => {
      this.socket.write(this.server.banner)
      const decoder = new FrameDecoder({ maxFrameLength: this.server.options.maxFrameLength })
      return new FrameReader(this.socket, decoder, this).run
    })
  }

  /** The handshake is done: the timer that would close the connection goes. */
  private stopHandshakeTimer(): Effect.Effect<void> {
    const timer = this.handshakeTimer
    this.handshakeTimer = undefined
    return timer === undefined ? Effect.void : Fiber.interrupt(timer)
  }
}

// Handshake, exec and cleanup bodies: generator functions made once
// (Effect.fnUntraced), called with the connection as `this`, not an
// Effect.gen closure per connection.

const finishExecBody = Effect.fnUntraced(function*(this: Connection, frame: HandshakeExec, proc: ProcessHandle) {
  yield* this.whenDrained("syscalls")
  if (this.state === "dying") return
  yield* this.server.hyp.execNotify(proc, frame.comm)
  this.inExec = false
  this.server.counters.handshakes.exec++
  this.send({ _tag: "HandshakeResponse", reqno: frame.reqno, error: 0 })
})

const guestBody = Effect.fnUntraced(function*(this: Connection, frame: HandshakeGuest) {
  const proc = yield* Effect.result(this.server.hyp.rfork({ client: this.memory, mode: "clear", comm: frame.comm }))
  if (Result.isFailure(proc)) {
    yield* Effect.logWarning(`guest handshake: rfork failed: ${proc.failure.message}`)
    this.sendError(frame.reqno, "RFORK_FAILED")
    return this.shutdown()
  }
  this.server.counters.handshakes.guest++
  yield* this.becomeRunning(proc.success, frame.reqno)
})

const forkBody = Effect.fnUntraced(function*(this: Connection, frame: HandshakeFork) {
  const { hyp, preforks, counters } = this.server
  const preforked = yield* preforks.claim(frame.cookie)
  if (preforked === undefined) {
    this.sendError(frame.reqno, "INVALID_PREFORK")
    return this.shutdown()
  }
  if (frame.cancel !== 0) {
    yield* hyp.releaseProcess(preforked)
    return this.shutdown()
  }
  // as in the seeds: fork once more so the child is bound to this
  // connection, sharing the prefork's descriptor table, then let the
  // prefork go
  const child = yield* Effect.result(hyp.rfork({ client: this.memory, mode: "share", parent: preforked }))
  yield* hyp.releaseProcess(preforked)
  if (Result.isFailure(child)) {
    this.sendError(frame.reqno, "RFORK_FAILED")
    return this.shutdown()
  }
  counters.handshakes.fork++
  yield* this.becomeRunning(child.success, frame.reqno)
})

const preforkBody = Effect.fnUntraced(function*(this: Connection, reqno: bigint, proc: ProcessHandle) {
  if (this.inExec) {
    this.sendError(reqno, "INEXEC")
    return this.shutdown()
  }
  const child = yield* Effect.result(this.server.hyp.rfork({ client: this.memory, mode: "copy", parent: proc }))
  if (Result.isFailure(child)) {
    this.sendError(reqno, "RFORK_FAILED")
    return
  }
  const cookie = yield* this.server.preforks.add(child.success)
  this.server.counters.handshakes.prefork++
  this.send({ _tag: "PreforkResponse", reqno, cookie })
})

const execBody = Effect.fnUntraced(function*(this: Connection, frame: HandshakeExec, proc: ProcessHandle) {
  if (this.inExec) {
    this.sendError(frame.reqno, "INEXEC")
    return this.shutdown()
  }
  this.inExec = true
  yield* Effect.annotateLogsScoped({ comm: frame.comm })
  yield* this.rebindJobs()
  // start draining now; the job waits for the drain to finish
  yield* this.server.hyp.lwpExit(proc)
  this.scheduleExec(this.finishExec(frame, proc))
})

const onUndecodableBody = Effect.fnUntraced(function*(this: Connection, item: DecodedFrame & { readonly _tag: "Failure" }) {
  const e = item.failure
  this.server.counters.protocolErrors++
  this.server.options.observer?.undecodableFrame(e.field)
  yield* Effect.logWarning(`protocol error at ${e.field}: ${e.message}`)
  const h = e.header
  if (e.fatal || h === undefined) {
    this.closing = true
    return
  }
  if (h.class === FrameClasses.RESP) {
    this.waiters.fail(h.reqno, new BadAnswer({ message: e.message }))
    return
  }
  if (h.class !== FrameClasses.REQ) return this.sendError(h.reqno, "MALFORMED_REQUEST")
  if (this.state === "new") {
    const badFork = h.type === FrameTypes.HANDSHAKE && h.arg === HandshakeKinds.FORK
    this.sendError(h.reqno, badFork ? "MALFORMED_REQUEST" : "AUTH")
    return this.shutdown()
  }
  this.sendError(h.reqno, "MALFORMED_REQUEST")
  if (h.type === FrameTypes.HANDSHAKE) this.shutdown()
})

const cleanupBody = Effect.fnUntraced(function*(this: Connection, jobs: FiberSet.FiberSet<void>) {
  const { hyp, options } = this.server
  this.state = "dying"
  this.closing = true
  // answers queued by the batch in progress (a halting reboot's, say) still go out
  this.flush()
  if (!this.socket.destroyed) this.socket.destroySoon()
  this.waiters.closeAll()
  const proc = this.process
  if (proc !== undefined) {
    yield* hyp.lwpExit(proc)
    const stopping = this.server.stopping
    const grace = stopping ? Duration.zero : options.disconnectGrace
    const drainedInTime = yield* this.whenDrained("jobs").pipe(Effect.timeoutOption(grace))
    if (drainedInTime._tag === "None") {
      yield* Effect.logWarning(
        `${this.inflightJobs} syscalls still in the kernel ${
          stopping ? "at shutdown" : `${Duration.format(grace)} after disconnect`
        }; interrupting them`
      )
    }
  }
  yield* FiberSet.clear(jobs)
  // the syscalls still in the kernel past the grace (a disconnect interrupts whatever waits on the client)
  yield* Fiber.interruptAll(this.calls.flatMap((call) => call.fiber === undefined ? [] : [call.fiber]))
  if (proc !== undefined) yield* hyp.releaseProcess(proc)
  if (this.dropReason !== undefined) yield* Effect.logWarning(`client dropped: ${this.dropReason}`)
  yield* Effect.logDebug("disconnected")
})

const serveBody = Effect.fnUntraced(function*(socket: Net.Socket, server: ServerState, id: number) {
    const jobs = yield* FiberSet.make<void>()
    const conn = new Connection(socket, server)
    server.connections.add(conn)
    // each job is a fiber of its own in `jobs`, started at once (not on the
    // next scheduler turn), with this client's memory as its UserMemory; taken
    // again after the handshake so that jobs' log lines name the client
    conn.jobRuntime = FiberSet.runtime(jobs)<UserMemory>().pipe(Effect.provideService(UserMemory, conn.memory))
    yield* conn.rebindJobs()

    const timeout = server.options.handshakeTimeout
    conn.handshakeTimer = yield* Effect.sleep(timeout).pipe(
      Effect.andThen(Effect.suspend(() => {
        if (conn.state !== "new") return Effect.void
        conn.closing = true
        socket.destroy()
        return Effect.logInfo(`no handshake within ${Duration.format(timeout)}; closing`)
      })),
      Effect.forkChild
    )
    yield* conn.serve().pipe(
      Effect.ensuring(Effect.suspend(() => conn.cleanup(jobs))),
      Effect.annotateLogs({ connection: id })
    )
  })

export const serveConnection = (socket: Net.Socket, server: ServerState, id: number) =>
  Effect.scoped(serveBody(socket, server, id))

/** Exposed for the halt sequence: wait until this lwp's answer is out (queued to its client). */
export const whenAnswered = (server: ServerState, lwp: LwpHandle | undefined): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    let call: SyscallJob | undefined
    if (lwp !== undefined) {
      for (const conn of server.connections) {
        call = (conn as Connection).callIn(lwp)
        if (call !== undefined) break
      }
    }
    if (call === undefined) return resume(Effect.void)
    call.whenAnswered(() => resume(Effect.void))
  })
