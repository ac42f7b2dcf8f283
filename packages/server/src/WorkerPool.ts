/**
 * The worker pool: syscalls and exec completions wait in a queue for a
 * worker fiber, as in the seeds' schedulework / serv_workbouncer.
 *
 * Workers are started on demand up to `maxWorkers` and leave again once
 * more than `idleWorkers` of them are idle. A job blocked in the kernel
 * holds its worker, exactly as a blocked thread would; beyond the worker
 * limit work waits, and beyond the queue limit `submit` refuses (the caller
 * answers ERROR TRYAGAIN).
 */
import { Effect, FiberSet, Queue } from "effect"

export interface Job {
  /** Runs the job; never fails (the job answers its client itself). */
  readonly run: Effect.Effect<void>
}

export interface PoolStats {
  readonly workers: number
  readonly idle: number
  readonly busy: number
  readonly queued: number
}

export interface WorkerPool {
  /** Queues a job; false when the queue is over its bound (unless told to bypass it). */
  readonly submit: (job: Job, options?: { readonly bypassBound?: boolean }) => Effect.Effect<boolean>
  readonly stats: () => PoolStats
}

export const makeWorkerPool = (options: {
  readonly maxWorkers: number
  readonly idleWorkers: number
  readonly maxQueued: number
}) =>
  Effect.gen(function*() {
    const queue = yield* Queue.unbounded<Job>()
    yield* Effect.addFinalizer(() => Queue.shutdown(queue))
    const workers = yield* FiberSet.make()
    let nworker = 0
    let idle = 0

    const worker: Effect.Effect<void> = Effect.gen(function*() {
      for (;;) {
        // the seeds' rule: too many idle workers for the queued work, leave
        if (idle - Queue.sizeUnsafe(queue) >= options.idleWorkers) return
        idle++
        const job = yield* Queue.take(queue).pipe(Effect.ensuring(Effect.sync(() => idle--)))
        yield* job.run
      }
    }).pipe(Effect.ensuring(Effect.sync(() => nworker--)))

    const submit = (job: Job, o?: { readonly bypassBound?: boolean }): Effect.Effect<boolean> =>
      Effect.suspend(() => {
        if (o?.bypassBound !== true && Queue.sizeUnsafe(queue) >= options.maxQueued) return Effect.succeed(false)
        Queue.offerUnsafe(queue, job)
        if (Queue.sizeUnsafe(queue) > idle && nworker < options.maxWorkers) {
          nworker++
          return FiberSet.run(workers, worker).pipe(Effect.as(true))
        }
        return Effect.succeed(true)
      })

    return {
      submit,
      stats: () => ({ workers: nworker, idle, busy: nworker - idle, queued: Queue.sizeUnsafe(queue) })
    } satisfies WorkerPool
  })
