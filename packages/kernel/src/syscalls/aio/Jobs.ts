/**
 * Asynchronous I/O jobs (NetBSD's sys_aio.c): each process that uses aio
 * has a queue of jobs and one worker that runs them in order, outside any
 * syscall, reaching the process's memory through its client as the
 * syscalls do. A job reads or writes at its aio_offset (which advances by
 * the count) or syncs; its aiocb goes back to the caller when it is done,
 * with the state, errno and return value aio_error and aio_return read,
 * and its sigevent's signal (and its list's, when the last job of a
 * lio_listio ends) is raised at the client.
 *
 * struct aiocb (amd64): off_t aio_offset; void *aio_buf; size_t
 * aio_nbytes; int aio_fildes, aio_lio_opcode, aio_reqprio; struct sigevent
 * aio_sigevent (notify, signo, value, function, attributes: 32 bytes);
 * int _state, _errno; ssize_t _retval. 88 bytes.
 */
import { Errno, sigev, signals } from "@sysproxy/protocol/netbsd"
import { Effect, Fiber } from "effect"
import { Args } from "../../abi/Args.ts"
import { type File, FREAD, FWRITE } from "../../fd/File.ts"
import type { KernelState } from "../../KernelState.ts"
import { sysErr, type SysErr } from "../../kern/SysErr.ts"
import { copyin, copyout, type SyscallContext } from "../../kern/SyscallContext.ts"
import { Lwp } from "../../proc/Lwp.ts"
import type { Proc } from "../../proc/Proc.ts"
import { WaitQueue } from "../../proc/Sleep.ts"
import { syncFile } from "../descriptors/Control.ts"
import { readInto, SSIZE_MAX, writeFrom } from "../descriptors/Transfer.ts"

export const AIOCB_SIZE = 88
const OFFSET = 0
const BUF = 8
const NBYTES = 16
const FILDES = 24
const LIO_OPCODE = 28
/** Where aio_sigevent is in an aiocb. */
export const AIOCB_SIGEVENT = 40
const STATE = 72
const ERRNO = 76
const RETVAL = 80

/** _state of an aiocb. */
export const JOB_NONE = 0
export const JOB_WIP = 1
export const JOB_DONE = 2

/** AIO_LISTIO_MAX and AIO_MAX (kern.aio_listio_max, kern.aio_max). */
export const AIO_LISTIO_MAX = 512
export const AIO_MAX = AIO_LISTIO_MAX * 16

export type JobOp = "read" | "write" | "sync" | "dsync"

/** A lio_listio call's jobs: its signal goes when the last of them is done. */
export interface ListIo {
  refs: number
  readonly signo: number
}

interface Job {
  readonly uptr: bigint
  readonly cb: Uint8Array
  readonly op: JobOp
  lio: ListIo | undefined
}

export class AioProc {
  readonly queue: Array<Job> = []
  current: Job | undefined = undefined
  /** aio_suspend and lio_listio(LIO_WAIT) sleep here until a job ends. */
  readonly done = new WaitQueue()
  worker: Fiber.Fiber<void> | undefined = undefined
  readonly lwp: Lwp

  constructor(lwp: Lwp) {
    this.lwp = lwp
  }
}

const procs = new WeakMap<Proc, AioProc>()
/** Jobs queued in each kernel (aio_jobs_count). */
const counts = new WeakMap<KernelState, { n: number }>()

export const aioOf = (p: Proc): AioProc | undefined => procs.get(p)

export const jobCount = (kernel: KernelState): { n: number } => {
  let c = counts.get(kernel)
  if (c === undefined) counts.set(kernel, c = { n: 0 })
  return c
}

/** aio_procinit: the process's aio state, made at its first use. */
export const aioInit = (ctx: SyscallContext): AioProc => {
  let aio = procs.get(ctx.proc)
  if (aio === undefined) {
    aio = new AioProc(new Lwp(ctx.proc, ctx.kernel.nextLid++))
    procs.set(ctx.proc, aio)
  }
  return aio
}

const view = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, b.byteLength)

export const cbState = (cb: Uint8Array) => ({
  state: view(cb).getInt32(STATE, true),
  errno: view(cb).getInt32(ERRNO, true),
  retval: view(cb).getBigInt64(RETVAL, true)
})

export const setResult = (cb: Uint8Array, state: number, errno: number, retval: bigint): void => {
  view(cb).setInt32(STATE, state, true)
  view(cb).setInt32(ERRNO, errno, true)
  view(cb).setBigInt64(RETVAL, retval, true)
}

export const cbFildes = (cb: Uint8Array): number => view(cb).getInt32(FILDES, true)

/** The signal a sigevent asks for, 0 for none (SIGEV_NONE or signal 0). */
export const sigeventSignal = (b: Uint8Array, at: number): number =>
  view(b).getInt32(at, true) === sigev.SIGEV_NONE ? 0 : view(b).getInt32(at + 4, true)

/** A sigevent's fields in range (EINVAL otherwise). */
export const checkSigevent = (b: Uint8Array, at: number): Effect.Effect<void, SysErr> => {
  const notify = view(b).getInt32(at, true)
  const signo = view(b).getInt32(at + 4, true)
  return signo < 0 || signo >= signals.NSIG || notify < sigev.SIGEV_NONE || notify > sigev.SIGEV_SA
    ? sysErr(Errno.EINVAL)
    : Effect.void
}

const raise = (p: Proc, signo: number): Effect.Effect<void> =>
  signo === 0 || p.client === undefined ? Effect.void : p.client.raise(signo)

/** The worker's context: the process's own client memory, the aio lwp. */
const workerContext = (kernel: KernelState, p: Proc, aio: AioProc): SyscallContext | undefined =>
  p.client === undefined ? undefined : { kernel, proc: p, lwp: aio.lwp, args: new Args(new Uint8Array(0)), mem: p.client }

/** A sync job's checks and fsync (EBADF, EINVAL for what cannot be synced). */
const syncJob = Effect.fnUntraced(function*(file: File | undefined, data: boolean) {
  if (file === undefined) return yield* sysErr(Errno.EBADF)
  if (file.ops.kind === "pipe" || file.ops.kind === "socket" || file.ops.kind === "sem") {
    return yield* sysErr(Errno.EINVAL)
  }
  if ((file.flag & FWRITE) === 0) return yield* sysErr(Errno.EBADF)
  yield* syncFile(file, data)
})

/** A read or write job's checks and transfer: the count moved. */
const transferJob = Effect.fnUntraced(
  function*(ctx: SyscallContext, file: File | undefined, v: DataView, nbytes: bigint, reading: boolean) {
    if (nbytes > SSIZE_MAX) return yield* sysErr(Errno.EINVAL)
    if (file === undefined) return yield* sysErr(Errno.EBADF)
    if ((file.flag & (reading ? FREAD : FWRITE)) === 0) return yield* sysErr(Errno.EBADF)
    const at = file.ops.seekable ? v.getBigInt64(OFFSET, true) : undefined
    const segs = [{ base: v.getBigUint64(BUF, true), len: nbytes }]
    return yield* (reading ? readInto(ctx, file, segs, at) : writeFrom(ctx, file, segs, at))
  }
)

/** aio_process: the job's I/O, its result in its aiocb. */
const process: (ctx: SyscallContext, job: Job) => Effect.Effect<void> = Effect.fnUntraced(
  function*(ctx, job) {
    const cb = job.cb
    const v = view(cb)
    const file = ctx.proc.fds.get(cbFildes(cb))?.file
    if (job.op === "sync" || job.op === "dsync") {
      const r = yield* Effect.result(syncJob(file, job.op === "dsync"))
      return setResult(cb, JOB_DONE, r._tag === "Failure" ? r.failure.errno : 0, r._tag === "Failure" ? -1n : 0n)
    }
    const nbytes = v.getBigUint64(NBYTES, true)
    const reading = job.op === "read"
    const r = yield* Effect.result(transferJob(ctx, file, v, nbytes, reading))
    const count = r._tag === "Success" ? r.success : 0
    if (file?.ops.seekable === true) v.setBigInt64(OFFSET, v.getBigInt64(OFFSET, true) + BigInt(count), true)
    v.setBigUint64(NBYTES, BigInt(count), true)
    setResult(cb, JOB_DONE, r._tag === "Failure" ? r.failure.errno : 0, r._tag === "Failure" ? -1n : BigInt(count))
  })

/** aio_worker: runs the queue to its end, each job's aiocb copied back and its signals raised. */
const work: (kernel: KernelState, p: Proc, aio: AioProc) => Effect.Effect<void> = Effect.fnUntraced(
  function*(kernel, p, aio) {
    const ctx = workerContext(kernel, p, aio)
    for (;;) {
      const job = aio.queue.shift()
      if (job === undefined) break
      jobCount(kernel).n--
      aio.current = job
      if (ctx !== undefined) {
        yield* process(ctx, job)
        yield* Effect.ignore(copyout(ctx, job.uptr, job.cb))
      }
      aio.current = undefined
      const lio = job.lio
      const lastOfList = lio !== undefined && --lio.refs === 0
      aio.done.wakeAll()
      yield* raise(p, sigeventSignal(job.cb, AIOCB_SIGEVENT))
      if (lastOfList) yield* raise(p, lio.signo)
    }
    aio.worker = undefined
  })

/** Starts the process's worker unless it is running. */
const kick = (kernel: KernelState, p: Proc, aio: AioProc): Effect.Effect<void> =>
  aio.worker !== undefined
    ? Effect.void
    : Effect.map(Effect.forkDetach(work(kernel, p, aio)), (fiber) => {
      // a worker that ended at once has cleared the field already
      if (aio.queue.length > 0 || aio.current !== undefined) aio.worker = fiber
    })

/**
 * aio_enqueue_job: reads and checks the aiocb at `uptr`, marks it in
 * progress in the caller's memory and queues it. LIO_NOP in a list is
 * nothing; a list's other opcodes are EINVAL.
 */
export const enqueue: (ctx: SyscallContext, op: JobOp | "lio", uptr: bigint, lio?: ListIo) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(ctx, op, uptr, lio) {
    const count = jobCount(ctx.kernel)
    if (count.n + 1 > AIO_MAX) return yield* sysErr(Errno.EAGAIN)
    const cb = (yield* copyin(ctx, uptr, AIOCB_SIZE)).slice()
    yield* checkSigevent(cb, AIOCB_SIGEVENT)
    if (op !== "sync" && op !== "dsync") {
      if (view(cb).getBigUint64(BUF, true) === 0n || view(cb).getBigUint64(NBYTES, true) > SSIZE_MAX) {
        return yield* sysErr(Errno.EINVAL)
      }
    }
    let jobOp: JobOp
    if (op === "lio") {
      const opcode = view(cb).getInt32(LIO_OPCODE, true)
      if (opcode === LIO_NOP) return
      if (opcode !== LIO_READ && opcode !== LIO_WRITE) return yield* sysErr(Errno.EINVAL)
      jobOp = opcode === LIO_READ ? "read" : "write"
    } else {
      jobOp = op
    }
    const existing = aioOf(ctx.proc)
    if (existing !== undefined && existing.queue.some((j) => j.uptr === uptr)) return yield* sysErr(Errno.EINVAL)
    const aio = aioInit(ctx)
    setResult(cb, JOB_WIP, Errno.EINPROGRESS, -1n)
    yield* copyout(ctx, uptr, cb)
    if (count.n + 1 > AIO_MAX || aio.queue.length >= AIO_LISTIO_MAX) return yield* sysErr(Errno.EAGAIN)
    count.n++
    aio.queue.push({ uptr, cb, op: jobOp, lio })
    if (lio !== undefined) lio.refs++
    yield* kick(ctx.kernel, ctx.proc, aio)
  })

/** LIO_NOP, LIO_WRITE, LIO_READ. */
export const LIO_NOP = 0
export const LIO_WRITE = 1
export const LIO_READ = 2

/** sys_aio_cancel's queue part: the jobs of `fildes` (or the one at `uptr`, EBADF if of another descriptor) out of the queue. */
export const takeJobs = (aio: AioProc, fildes: number, uptr: bigint): Array<Job> | "otherfd" => {
  const taken: Array<Job> = []
  for (const job of [...aio.queue]) {
    if (uptr !== 0n) {
      if (job.uptr !== uptr) continue
      if (cbFildes(job.cb) !== fildes) return "otherfd"
    } else if (cbFildes(job.cb) !== fildes) {
      continue
    }
    aio.queue.splice(aio.queue.indexOf(job), 1)
    taken.push(job)
    if (uptr !== 0n) break
  }
  return taken
}

export { raise as raiseAt }
export type { Job }

/** A process going: its worker stops (a job in progress ends EINTR) and its queue is dropped. */
export const releaseAio = (kernel: KernelState, p: Proc): Effect.Effect<void> =>
  Effect.suspend(() => {
    const aio = procs.get(p)
    if (aio === undefined) return Effect.void
    procs.delete(p)
    jobCount(kernel).n -= aio.queue.length
    aio.queue.length = 0
    aio.lwp.orderOut()
    const worker = aio.worker
    aio.worker = undefined
    return worker === undefined ? Effect.void : Fiber.interrupt(worker)
  })

