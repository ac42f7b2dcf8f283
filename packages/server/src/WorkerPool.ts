/**
 * The worker pool: syscalls and exec completions wait in a queue for a
 * worker, as in the seeds' schedulework / serv_workbouncer.
 *
 * A worker here is a slot, not a fiber: each job already runs on a fiber of
 * its own (forked into its connection's FiberSet, so a disconnect can
 * interrupt it), and handing it to a long-lived worker fiber first would
 * cost a queue hand-off and a scheduler hop per syscall for nothing. The
 * seeds' rules stay: workers are taken on demand up to `maxWorkers` and
 * leave once more than `idleWorkers` of them are idle; a job blocked in the
 * kernel holds its worker, exactly as a blocked thread would; beyond the
 * worker limit work waits, and beyond the queue limit `submit` refuses (the
 * caller answers ERROR TRYAGAIN).
 */

export interface Job {
  /**
   * Starts the job; it must call `done` exactly once, when it has ended
   * (answered, failed or interrupted). `done` may be called before `start`
   * returns.
   */
  readonly start: (done: () => void) => void
}

export interface PoolStats {
  readonly workers: number
  readonly idle: number
  readonly busy: number
  readonly queued: number
}

export interface WorkerPool {
  /** Starts or queues a job; false when the queue is over its bound (unless told to bypass it). */
  readonly submit: (job: Job, options?: { readonly bypassBound?: boolean }) => boolean
  readonly stats: () => PoolStats
}

/** A FIFO with O(1) shift: the queue may hold tens of thousands of jobs. */
class JobQueue {
  private items: Array<Job | undefined> = []
  private head = 0

  get size(): number {
    return this.items.length - this.head
  }

  push(job: Job): void {
    this.items.push(job)
  }

  shift(): Job | undefined {
    if (this.head === this.items.length) return undefined
    const job = this.items[this.head]
    this.items[this.head++] = undefined
    if (this.head === this.items.length) {
      // emptied: reuse the array (a fresh one per job would be garbage per syscall)
      this.items.length = 0
      this.head = 0
    } else if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head)
      this.head = 0
    }
    return job
  }
}

export const makeWorkerPool = (options: {
  readonly maxWorkers: number
  readonly idleWorkers: number
  readonly maxQueued: number
}): WorkerPool => {
  const queue = new JobQueue()
  let workers = 0
  let idle = 0

  // Jobs may end synchronously inside `start`; starting them from one loop
  // keeps a long queue of such jobs from nesting one stack frame per job.
  const toStart = new JobQueue()
  let starting = false
  const start = (job: Job) => {
    toStart.push(job)
    if (starting) return
    starting = true
    try {
      for (let next = toStart.shift(); next !== undefined; next = toStart.shift()) next.start(onceDone())
    } finally {
      starting = false
    }
  }

  /** A worker finished its job: it takes the next one, idles, or leaves (the seeds' rule). */
  const finished = () => {
    const next = queue.shift()
    if (next !== undefined) return start(next)
    if (idle >= options.idleWorkers) workers--
    else idle++
  }
  const onceDone = () => {
    let called = false
    return () => {
      if (called) return
      called = true
      finished()
    }
  }

  const submit: WorkerPool["submit"] = (job, o) => {
    if (idle > 0) {
      idle--
      start(job)
      return true
    }
    if (workers < options.maxWorkers) {
      workers++
      start(job)
      return true
    }
    if (o?.bypassBound !== true && queue.size >= options.maxQueued) return false
    queue.push(job)
    return true
  }

  return {
    submit,
    stats: () => ({ workers, idle, busy: workers - idle, queued: queue.size })
  }
}
