/**
 * The sysproxy server as a scoped service: it listens on a URL, writes the
 * banner to each client, serves each connection on its own fiber, and halts
 * when the kernel asks. Closing its scope stops listening, interrupts every
 * connection (each cleans up after itself) and removes a unix socket file.
 */
import { Context, Deferred, Duration, Effect, FiberSet, Layer, Result, Schedule } from "effect"
import { type HaltRequest, Hypervisor } from "@sysproxy/hypervisor"
import { makeBanner } from "@sysproxy/protocol"
import type * as Net from "node:net"
import { serveConnection, whenAnswered } from "./Connection.ts"
import { type BoundAddress, listen } from "./Listener.ts"
import { makePreforkRegistry } from "./PreforkRegistry.ts"
import { ServerStartError } from "./ServerErrors.ts"
import { resolveOptions, type ServerOptions } from "./ServerOptions.ts"
import type { ServerState } from "./ServerState.ts"
import { makeWorkerPool, type PoolStats } from "./WorkerPool.ts"

/** How often a drain looks for in-flight syscalls. */
const DRAIN_POLL = Duration.millis(10)

export interface ServerStats {
  /** Connected clients (a slot stays taken until its cleanup has finished). */
  readonly clients: number
  /** Clients past their handshake. */
  readonly bound: number
  readonly accepted: number
  readonly refused: number
  /** Server requests (copyin, copyinstr, anonmmap) waiting for a client's answer. */
  readonly waiters: number
  /** Syscall and exec jobs queued or running. */
  readonly inflightJobs: number
  readonly preforks: number
  readonly pool: PoolStats
  readonly handshakes: { readonly guest: number; readonly fork: number; readonly exec: number; readonly prefork: number }
  readonly syscalls: number
  readonly protocolErrors: number
  readonly dropped: number
  readonly copyinBytes: number
  readonly copyoutBytes: number
}

/** How a drain ended: every syscall answered, the grace period over, or cut short by the caller. */
export type DrainOutcome = "drained" | "grace expired" | "cut short"

export interface DrainOptions {
  /** How long in-flight syscalls may take to finish. */
  readonly grace: Duration.Input
  /** Ends the drain early when it completes (a second signal). */
  readonly cut?: Effect.Effect<void> | undefined
}

export interface SysproxyServerService {
  readonly address: BoundAddress
  readonly stats: () => ServerStats
  /** Completes once a client halted the server (the server has stopped by then). */
  readonly halted: Effect.Effect<HaltRequest>
  /**
   * The first half of a graceful shutdown: stops accepting (removing a unix
   * socket file) and lets connected clients go on until no syscall is in
   * flight, for at most the grace period. Closing the server's scope
   * afterwards interrupts whatever is left without waiting again.
   */
  readonly drain: (options: DrainOptions) => Effect.Effect<DrainOutcome>
}

export class SysproxyServer extends Context.Service<SysproxyServer, SysproxyServerService>()(
  "@sysproxy/server/SysproxyServer"
) {
  static readonly layer = (options: ServerOptions) => Layer.effect(SysproxyServer, make(options))
}

/** The server as a plain scoped Effect. */
export const make = (input: ServerOptions) =>
  Effect.gen(function*() {
    const options = resolveOptions(input)
    const hyp = yield* Hypervisor
    const banner = makeBanner(hyp.identity)
    if (Result.isFailure(banner)) {
      return yield* new ServerStartError({ url: options.url, reason: "ListenFailed", message: banner.failure.message })
    }
    const pool = makeWorkerPool({
      maxWorkers: options.maxWorkers,
      idleWorkers: options.idleWorkers,
      maxQueued: options.maxQueuedJobs
    })
    const preforks = yield* makePreforkRegistry({ expiry: options.preforkExpiry, release: hyp.releaseProcess })
    const state: ServerState = {
      hyp,
      options,
      pool,
      preforks,
      banner: banner.success,
      connections: new Set(),
      stopping: false,
      counters: {
        accepted: 0,
        refused: 0,
        handshakes: { guest: 0, fork: 0, exec: 0, prefork: 0 },
        syscalls: 0,
        protocolErrors: 0,
        copyinBytes: 0,
        copyoutBytes: 0,
        dropped: 0
      }
    }

    const connections = yield* FiberSet.make()
    const runConnection = yield* FiberSet.runtime(connections)()
    let nextId = 0
    const onConnection = (socket: Net.Socket) => {
      if (state.connections.size >= options.maxClients) {
        // full: accept and close at once, without a banner, as the C server
        state.counters.refused++
        socket.destroy()
        return
      }
      state.counters.accepted++
      socket.setNoDelay(true)
      runConnection(serveConnection(socket, state, ++nextId))
    }
    const listener = yield* listen(options.url, options.unixSocketMode, onConnection)
    yield* Effect.logInfo(`listening on ${listener.address.url}`)

    const halted = yield* Deferred.make<HaltRequest>()
    yield* hyp.awaitHalt.pipe(
      Effect.flatMap((request) =>
        Effect.gen(function*() {
          yield* Effect.logInfo(`halt requested (howto ${request.howto})`)
          // the caller's answer goes out first, then nobody else is served
          yield* whenAnswered(state, request.lwp)
          yield* listener.stop
          yield* FiberSet.clear(connections)
          yield* Deferred.succeed(halted, request)
        })
      ),
      Effect.forkScoped
    )

    const stats = (): ServerStats => {
      let waiters = 0
      let inflightJobs = 0
      let bound = 0
      for (const c of state.connections) {
        waiters += c.waiterCount()
        inflightJobs += c.jobCount()
        if (c.isBound()) bound++
      }
      const { handshakes, ...counters } = state.counters
      return {
        clients: state.connections.size,
        bound,
        waiters,
        inflightJobs,
        preforks: preforks.size(),
        pool: pool.stats(),
        handshakes: { ...handshakes },
        ...counters
      }
    }

    const inflight = () => {
      let n = 0
      for (const c of state.connections) n += c.jobCount()
      return n
    }
    const drain = (o: DrainOptions): Effect.Effect<DrainOutcome> =>
      Effect.gen(function*() {
        yield* listener.stop
        // polled: the connections' hot paths stay free of shutdown bookkeeping
        const idle = Effect.sync(inflight).pipe(
          Effect.repeat({ until: (n) => n === 0, schedule: Schedule.spaced(DRAIN_POLL) }),
          Effect.as<DrainOutcome>("drained")
        )
        const outcome = yield* Effect.raceAllFirst([
          idle,
          Effect.sleep(o.grace).pipe(Effect.as<DrainOutcome>("grace expired")),
          ...(o.cut === undefined ? [] : [o.cut.pipe(Effect.as<DrainOutcome>("cut short"))])
        ])
        state.stopping = true
        return outcome
      })

    return SysproxyServer.of({ address: listener.address, stats, halted: Deferred.await(halted), drain })
  })
