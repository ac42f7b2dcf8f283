/**
 * One client connection: its state machine NEW -> RUNNING -> DYING, its
 * frames, and its cleanup. This is the seeds' handlereq (dispatch),
 * serv_handlesyscall / serv_handleexec (jobs), kickwaiter (answers),
 * serv_handledisco + spcrelease (cleanup) for one client, run by its own
 * fiber so no client can stall another.
 */
import { Clock, Duration, Effect, Exit, Fiber, FiberSet, Result, type Scope } from "effect"
import { type LwpHandle, type ProcessHandle, UserMemory } from "@sysproxy/hypervisor"
import {
  type DecodedFrame,
  encodeFrameResult,
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
import { makeRemoteMemory } from "./RemoteMemory.ts"
import type { Job } from "./WorkerPool.ts"
import type { ServerState } from "./ServerState.ts"
import { syscallSpan } from "./ServerObserver.ts"
import { makeSocketReader } from "./SocketReader.ts"
import { BadAnswer, makeWaiters } from "./Waiters.ts"

type ConnState = "new" | "running" | "dying"

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

export const serveConnection = (socket: Net.Socket, server: ServerState, id: number) =>
  Effect.gen(function*() {
    const { hyp, options } = server
    const jobs = yield* FiberSet.make()
    const waiters = makeWaiters()
    let state: ConnState = "new"
    let process: ProcessHandle | undefined
    let inExec = false
    let closing = false
    let dropReason: string | undefined
    let reqnoCounter = 0n
    let inflightSyscalls = 0
    let inflightJobs = 0
    let onSyscallsDrained: Array<() => void> = []
    let onJobsDrained: Array<() => void> = []

    const figures = {
      waiters: () => waiters.size(),
      inflightJobs: () => inflightJobs,
      bound: () => process !== undefined
    }
    server.connections.add(figures)

    // -- writing ----------------------------------------------------------

    const drop = (reason: string) => {
      if (dropReason === undefined) dropReason = reason
      closing = true
      server.counters.dropped++
      socket.destroy()
    }

    /** Queues one frame (a single write: frames never interleave). */
    const send = (frame: Frame): boolean => {
      if (socket.destroyed || !socket.writable) return false
      const bytes = encodeFrameResult(frame)
      if (Result.isFailure(bytes)) {
        drop(`internal error: ${bytes.failure.message}`)
        return false
      }
      // checked before queueing, so the bound is never passed (one frame
      // always fits an empty queue, whatever the bound)
      const unsent = socket.writableLength
      if (unsent > 0 && unsent + bytes.success.byteLength > options.maxUnsentBytes) {
        drop(`client does not read: ${unsent} bytes unsent, the limit is ${options.maxUnsentBytes}`)
        return false
      }
      socket.write(bytes.success)
      return true
    }

    // one pair of listeners per connection, whatever the number of paced
    // senders waiting (a listener each would trip Node's listener warning)
    const drainWaiters = new Set<() => void>()
    const wakeDrainWaiters = () => {
      const waiting = [...drainWaiters]
      drainWaiters.clear()
      for (const resume of waiting) resume()
    }
    socket.on("drain", wakeDrainWaiters)
    socket.on("close", wakeDrainWaiters)
    const drained = Effect.callback<void>((resume) => {
      const done = () => resume(Effect.void)
      drainWaiters.add(done)
      return Effect.sync(() => {
        drainWaiters.delete(done)
      })
    })

    /**
     * Sends, then holds the sender back while more than the high-water mark
     * is queued. The stall timer restarts whenever the backlog shrinks, so
     * a slow reader is paced and only a client that stops reading is dropped.
     */
    const sendPaced = (frame: Frame): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        if (!send(frame)) return Effect.succeed(false)
        // the usual case: the client keeps up, nothing to wait for
        if (socket.writableLength <= options.writeHighWater) return Effect.succeed(true)
        return paceBacklog
      })

    const paceBacklog: Effect.Effect<boolean> = Effect.gen(function*() {
      let backlog = unsentBytes(socket)
      let lastProgress = yield* Clock.currentTimeMillis
      while (!socket.destroyed && socket.writableLength > options.writeHighWater) {
        yield* drained.pipe(Effect.timeoutOption(PACE_POLL))
        const now = yield* Clock.currentTimeMillis
        const left = unsentBytes(socket)
        // any change is progress: a partial write shrinks it, a finished one lets the next in
        if (left !== backlog) {
          backlog = left
          lastProgress = now
        } else if (now - lastProgress >= Duration.toMillis(options.writeStallTimeout)) {
          drop(`client stopped reading for ${Duration.format(options.writeStallTimeout)}`)
        }
      }
      return !socket.destroyed
    })

    const sendError = (reqno: bigint, code: keyof typeof ErrorCodes) => {
      options.observer?.errorReplied(code)
      send({ _tag: "ErrorFrame", reqno, code: ErrorCodes[code] })
    }

    /** The seeds' shutdown(SHUT_RDWR): flush what was queued, read no more. */
    const shutdown = () => {
      closing = true
      socket.destroySoon()
    }

    const memory = makeRemoteMemory({
      nextReqno: () => ++reqnoCounter,
      waiters,
      send,
      sendPaced,
      maxOutstanding: options.maxOutstandingRequests,
      onCopy: (direction, bytes) => {
        if (direction === "in") server.counters.copyinBytes += bytes
        else server.counters.copyoutBytes += bytes
      }
    })

    // -- jobs (the worker pool) -------------------------------------------

    // each job is a fiber of its own in `jobs`, started at once (not on the
    // next scheduler turn), with this client's memory as its UserMemory; taken
    // again after the handshake so that jobs' log lines name the client
    const jobRuntime = FiberSet.runtime(jobs)<UserMemory>().pipe(Effect.provideService(UserMemory, memory))
    let runJob = yield* jobRuntime
    const rebindJobs = Effect.map(jobRuntime, (run) => {
      runJob = run
    })

    const settle = (list: Array<() => void>) => {
      for (const f of list) f()
    }
    const jobEnded = (syscall: boolean) => {
      if (syscall && --inflightSyscalls === 0) {
        const l = onSyscallsDrained
        onSyscallsDrained = []
        settle(l)
      }
      if (--inflightJobs === 0) {
        const l = onJobsDrained
        onJobsDrained = []
        settle(l)
      }
    }
    const whenDrained = (which: "syscalls" | "jobs") =>
      Effect.callback<void>((resume) => {
        if ((which === "syscalls" ? inflightSyscalls : inflightJobs) === 0) return resume(Effect.void)
        const done = () => resume(Effect.void)
        if (which === "syscalls") onSyscallsDrained.push(done)
        else onJobsDrained.push(done)
      })

    /** The seeds' schedulework: queue a job, or answer TRYAGAIN when the queue is full. */
    const schedule = (reqno: bigint, syscall: boolean, work: Effect.Effect<void, never, UserMemory>): void => {
      // the per-client cap: one client cannot take the whole pool and queue
      if (syscall && inflightSyscalls >= options.maxInflightSyscalls) return sendError(reqno, "TRYAGAIN")
      inflightJobs++
      if (syscall) inflightSyscalls++
      const job: Job = {
        start: (done) => {
          if (state === "dying") {
            jobEnded(syscall)
            return done()
          }
          runJob(work).addObserver(() => {
            jobEnded(syscall)
            done()
          })
        }
      }
      // an exec has already ordered its lwps out and there is one per
      // connection at most: it is never refused, or the process would stay
      // half-exec'd
      if (!server.pool.submit(job, { bypassBound: !syscall })) {
        jobEnded(syscall)
        sendError(reqno, "TRYAGAIN")
      }
    }

    /** The seeds' serv_handlesyscall. */
    const runSyscall = (frame: SyscallRequest, pid: number): Effect.Effect<void, never, UserMemory> =>
      Effect.matchEffect(hyp.newLwp(pid), {
        onFailure: (e) =>
          Effect.sync(() => {
            send({ _tag: "SyscallResponse", reqno: frame.reqno, error: e.errno, retval0: -1n, retval1: 0n })
          }),
        onSuccess: (handle) => {
          server.unanswered.set(handle, [])
          const startedAt = options.observer === undefined ? 0 : performance.now()
          const call = hyp.syscall(handle, frame.sysnum, frame.args)
          return (options.traceSyscalls ? syscallSpan(call, frame.sysnum, pid) : call).pipe(
            Effect.onExit((exit) =>
              Effect.andThen(
                hyp.releaseLwp(handle),
                Effect.sync(() => {
                  if (Exit.isSuccess(exit)) {
                    server.counters.syscalls++
                    options.observer?.syscallAnswered(frame.sysnum, exit.value.error, startedAt)
                    send({ _tag: "SyscallResponse", reqno: frame.reqno, ...exit.value })
                  }
                  // answered or interrupted, whoever waits for this answer (halt) goes on
                  const waiting = server.unanswered.get(handle)
                  server.unanswered.delete(handle)
                  if (waiting) settle(waiting)
                })
              )
            )
          )
        }
      })

    /** The seeds' serv_handleexec: runs once every other lwp has left the kernel. */
    const finishExec = (frame: HandshakeExec, proc: ProcessHandle) =>
      Effect.gen(function*() {
        yield* whenDrained("syscalls")
        if (state === "dying") return
        yield* hyp.execNotify(proc, frame.comm)
        inExec = false
        server.counters.handshakes.exec++
        send({ _tag: "HandshakeResponse", reqno: frame.reqno, error: 0 })
      })

    // -- handshakes ---------------------------------------------------------

    const becomeRunning = (proc: ProcessHandle, reqno: bigint) =>
      Effect.sync(() => {
        process = proc
        state = "running"
        send({ _tag: "HandshakeResponse", reqno, error: 0 })
      }).pipe(
        // from here on this connection's lines (and its jobs', forked later) name the client
        Effect.andThen(Effect.annotateLogsScoped(proc.comm === undefined ? { pid: proc.pid } : { pid: proc.pid, comm: proc.comm })),
        Effect.andThen(rebindJobs),
        Effect.andThen(Effect.logDebug("handshake complete"))
      )

    const guest = (frame: HandshakeGuest) =>
      Effect.gen(function*() {
        const proc = yield* Effect.result(hyp.rfork({ client: memory, mode: "clear", comm: frame.comm }))
        if (Result.isFailure(proc)) {
          yield* Effect.logWarning(`guest handshake: rfork failed: ${proc.failure.message}`)
          sendError(frame.reqno, "RFORK_FAILED")
          return shutdown()
        }
        server.counters.handshakes.guest++
        yield* becomeRunning(proc.success, frame.reqno)
      })

    const fork = (frame: HandshakeFork) =>
      Effect.gen(function*() {
        const preforked = yield* server.preforks.claim(frame.cookie)
        if (preforked === undefined) {
          sendError(frame.reqno, "INVALID_PREFORK")
          return shutdown()
        }
        if (frame.cancel !== 0) {
          yield* hyp.releaseProcess(preforked)
          return shutdown()
        }
        // as in the seeds: fork once more so the child is bound to this
        // connection, sharing the prefork's descriptor table, then let the
        // prefork go
        const child = yield* Effect.result(hyp.rfork({ client: memory, mode: "share", parent: preforked }))
        yield* hyp.releaseProcess(preforked)
        if (Result.isFailure(child)) {
          sendError(frame.reqno, "RFORK_FAILED")
          return shutdown()
        }
        server.counters.handshakes.fork++
        yield* becomeRunning(child.success, frame.reqno)
      })

    const prefork = (reqno: bigint, proc: ProcessHandle) =>
      Effect.gen(function*() {
        if (inExec) {
          sendError(reqno, "INEXEC")
          return shutdown()
        }
        const child = yield* Effect.result(hyp.rfork({ client: memory, mode: "copy", parent: proc }))
        if (Result.isFailure(child)) {
          sendError(reqno, "RFORK_FAILED")
          return
        }
        const cookie = yield* server.preforks.add(child.success)
        server.counters.handshakes.prefork++
        send({ _tag: "PreforkResponse", reqno, cookie })
      })

    const exec = (frame: HandshakeExec, proc: ProcessHandle) =>
      Effect.gen(function*() {
        if (inExec) {
          sendError(frame.reqno, "INEXEC")
          return shutdown()
        }
        inExec = true
        yield* Effect.annotateLogsScoped({ comm: frame.comm })
        yield* rebindJobs
        // start draining now; the job waits for the drain to finish
        yield* hyp.lwpExit(proc)
        schedule(frame.reqno, false, finishExec(frame, proc))
      })

    // -- dispatch (the seeds' handlereq / kickwaiter) -------------------------

    const onUndecodable = (item: DecodedFrame & { readonly _tag: "Failure" }) =>
      Effect.gen(function*() {
        const e = item.failure
        server.counters.protocolErrors++
        options.observer?.undecodableFrame(e.field)
        yield* Effect.logWarning(`protocol error at ${e.field}: ${e.message}`)
        const h = e.header
        if (e.fatal || h === undefined) {
          closing = true
          return
        }
        if (h.class === FrameClasses.RESP) {
          waiters.fail(h.reqno, new BadAnswer({ message: e.message }))
          return
        }
        if (h.class !== FrameClasses.REQ) return sendError(h.reqno, "MALFORMED_REQUEST")
        if (state === "new") {
          const badFork = h.type === FrameTypes.HANDSHAKE && h.arg === HandshakeKinds.FORK
          sendError(h.reqno, badFork ? "MALFORMED_REQUEST" : "AUTH")
          return shutdown()
        }
        sendError(h.reqno, "MALFORMED_REQUEST")
        if (h.type === FrameTypes.HANDSHAKE) shutdown()
      })

    const onFrame = (frame: Frame): Effect.Effect<void, never, Scope.Scope> => {
      switch (frame._tag) {
        case "HandshakeResponse":
        case "SyscallResponse":
        case "PreforkResponse":
        case "CopyinResponse":
        case "AnonmmapResponse":
          // an answer nobody waits for is dropped, as in the seeds
          waiters.complete(frame.reqno, frame)
          return Effect.void
        case "ErrorFrame":
          return Effect.sync(() => sendError(frame.reqno, "MALFORMED_REQUEST"))
        default:
          break
      }
      if (state === "new" || process === undefined) {
        if (frame._tag === "HandshakeGuest") return guest(frame)
        if (frame._tag === "HandshakeFork") return fork(frame)
        return Effect.sync(() => {
          sendError(frame.reqno, "AUTH")
          shutdown()
        })
      }
      const proc = process
      switch (frame._tag) {
        case "SyscallRequest":
          schedule(frame.reqno, true, runSyscall(frame, proc.pid))
          return Effect.void
        case "PreforkRequest":
          return prefork(frame.reqno, proc)
        case "HandshakeExec":
          return exec(frame, proc)
        case "HandshakeGuest":
        case "HandshakeFork":
          return Effect.sync(() => {
            sendError(frame.reqno, "MALFORMED_REQUEST")
            shutdown()
          })
        default:
          // a server-side request type sent by a client
          return Effect.sync(() => sendError(frame.reqno, "MALFORMED_REQUEST"))
      }
    }

    // -- cleanup (serv_handledisco + spcrelease) -------------------------------

    const cleanup = Effect.gen(function*() {
      state = "dying"
      closing = true
      if (!socket.destroyed) socket.destroySoon()
      waiters.closeAll()
      const proc = process
      if (proc !== undefined) {
        yield* hyp.lwpExit(proc)
        const grace = server.stopping ? Duration.zero : options.disconnectGrace
        const drainedInTime = yield* whenDrained("jobs").pipe(Effect.timeoutOption(grace))
        if (drainedInTime._tag === "None") {
          yield* Effect.logWarning(
            `${inflightJobs} syscalls still in the kernel ${
              server.stopping ? "at shutdown" : `${Duration.format(grace)} after disconnect`
            }; interrupting them`
          )
        }
      }
      yield* FiberSet.clear(jobs)
      if (proc !== undefined) yield* hyp.releaseProcess(proc)
      if (dropReason !== undefined) yield* Effect.logWarning(`client dropped: ${dropReason}`)
      yield* Effect.logDebug("disconnected")
    }).pipe(Effect.ensuring(Effect.sync(() => server.connections.delete(figures))))

    // -- the read loop ----------------------------------------------------------

    const handshakeTimer = yield* Effect.sleep(options.handshakeTimeout).pipe(
      Effect.andThen(Effect.suspend(() => {
        if (state !== "new") return Effect.void
        closing = true
        socket.destroy()
        return Effect.logInfo(`no handshake within ${Duration.format(options.handshakeTimeout)}; closing`)
      })),
      Effect.forkChild
    )

    let handshakeDone = false
    const reader = makeSocketReader(socket)
    const decoder = new FrameDecoder({ maxFrameLength: options.maxFrameLength })
    const loop = Effect.gen(function*() {
      socket.write(server.banner)
      while (!closing) {
        const read = yield* reader.pull
        if (read._tag === "End") break
        // the answers of calls that complete at once go out in one write per batch of requests
        socket.cork()
        for (const chunk of read.chunks) {
          for (const item of decoder.push(chunk)) {
            if (closing) break
            if (Result.isFailure(item)) yield* onUndecodable(item)
            else yield* onFrame(item.success)
            if (state !== "new" && !handshakeDone) {
              handshakeDone = true
              yield* Fiber.interrupt(handshakeTimer)
            }
          }
          if (closing) break
        }
        socket.uncork()
      }
    })
    yield* loop.pipe(
      Effect.ensuring(cleanup),
      Effect.annotateLogs({ connection: id })
    )
  }).pipe(Effect.scoped)

/** Exposed for the halt sequence: wait until this lwp's answer is out. */
export const whenAnswered = (server: ServerState, lwp: LwpHandle | undefined): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    const waiting = lwp === undefined ? undefined : server.unanswered.get(lwp)
    if (waiting === undefined) return resume(Effect.void)
    waiting.push(() => resume(Effect.void))
  })
