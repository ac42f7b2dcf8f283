/**
 * The asynchronous I/O family (sys_aio.c): aio_read, aio_write, aio_fsync
 * and lio_listio queue jobs (aio/Jobs.ts); aio_error and aio_return read
 * a job's state from the caller's aiocb; aio_suspend waits for one of a
 * list to be done; aio_cancel takes queued jobs back (ECANCELED), never
 * the one in progress.
 */
import { Errno, openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { copyin, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import { decodeTimespec, TIMESPEC_SIZE } from "../abi/Timespec.ts"
import {
  AIO_LISTIO_MAX,
  AIO_MAX,
  AIOCB_SIGEVENT,
  AIOCB_SIZE,
  aioInit,
  aioOf,
  cbFildes,
  cbState,
  checkSigevent,
  enqueue,
  JOB_DONE,
  JOB_NONE,
  jobCount,
  type ListIo,
  raiseAt,
  setResult,
  sigeventSignal,
  takeJobs
} from "./aio/Jobs.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

/** aio_cancel's answers. */
const AIO_CANCELED = 1
const AIO_NOTCANCELED = 2
const AIO_ALLDONE = 3
/** lio_listio's modes. */
const LIO_NOWAIT = 0
const LIO_WAIT = 1
/** sizeof(struct sigevent). */
const SIGEVENT_SIZE = 32
/** hz: aio_suspend's timeout is in clock ticks. */
const TICK_MS = 10

const aioRead: SyscallImpl = (ctx) => enqueue(ctx, "read", ctx.args.ptr(0))
const aioWrite: SyscallImpl = (ctx) => enqueue(ctx, "write", ctx.args.ptr(0))

/** aio_fsync(op, aiocbp): O_SYNC or O_DSYNC (EINVAL otherwise); NetBSD queues every one as a data sync. */
const aioFsync: SyscallImpl = (ctx) => {
  const op = ctx.args.int(0)
  if (op !== openFlags.O_DSYNC && op !== openFlags.O_SYNC) return sysErr(Errno.EINVAL)
  return enqueue(ctx, "dsync", ctx.args.ptr(1))
}

/** The caller's aiocb; EINVAL before the process ever used aio. */
const callerCb = (ctx: SyscallContext): Effect.Effect<Uint8Array, SysErr> =>
  aioOf(ctx.proc) === undefined ? sysErr(Errno.EINVAL) : Effect.map(copyin(ctx, ctx.args.ptr(0), AIOCB_SIZE), (b) => b.slice())

/** aio_error(aiocbp): the job's errno (EINPROGRESS while it runs); EINVAL for one never queued. */
const aioError: SyscallImpl = (ctx) =>
  Effect.flatMap(callerCb(ctx), (cb) => {
    const s = cbState(cb)
    return s.state === JOB_NONE ? sysErr(Errno.EINVAL) : Effect.succeed(s.errno)
  })

/** aio_return(aiocbp): a done job's return value, once: the aiocb is reset to no job. */
const aioReturn: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const cb = yield* callerCb(ctx)
    const s = cbState(cb)
    if (s.errno === Errno.EINPROGRESS || s.state !== JOB_DONE) return yield* sysErr(Errno.EINVAL)
    setResult(cb, JOB_NONE, 0, -1n)
    yield* copyout(ctx, ctx.args.ptr(0), cb)
    return s.retval
  })

/**
 * aio_suspend1: returns as soon as one listed job is done (not queued, not
 * in progress, and its aiocb says so); EAGAIN when the timeout passes (a
 * zero one at once) or the process has no aio; EINTR when ordered out.
 */
const suspend: (ctx: SyscallContext, list: ReadonlyArray<bigint>, timeoutMs: number | undefined) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(ctx, list, timeoutMs) {
    const aio = aioOf(ctx.proc)
    if (aio === undefined) return yield* sysErr(Errno.EAGAIN)
    if (timeoutMs !== undefined && timeoutMs <= 0) return yield* sysErr(Errno.EAGAIN)
    const deadline = timeoutMs === undefined ? undefined : Date.now() + timeoutMs
    for (;;) {
      for (const uptr of list) {
        if (uptr === 0n) continue
        if (aio.current?.uptr === uptr || aio.queue.some((j) => j.uptr === uptr)) continue
        const cb = yield* copyin(ctx, uptr, AIOCB_SIZE)
        if (cbState(cb).state === JOB_DONE) return
      }
      const left = deadline === undefined ? undefined : deadline - Date.now()
      if (left !== undefined && left <= 0) return yield* sysErr(Errno.EAGAIN)
      const why = yield* aio.done.sleep(ctx.lwp, left)
      if (why === "interrupted") return yield* sysErr(Errno.EINTR)
      if (why === "timeout") return yield* sysErr(Errno.EAGAIN)
    }
  })

/** The caller's array of `n` aiocb pointers. */
const pointers = (ctx: SyscallContext, addr: bigint, n: number): Effect.Effect<Array<bigint>, SysErr> =>
  Effect.map(copyin(ctx, addr, n * 8), (b) => {
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength)
    return Array.from({ length: n }, (_, i) => v.getBigUint64(i * 8, true))
  })

/** __aio_suspend50(list, nent, timeout): EAGAIN for a count out of 1..AIO_LISTIO_MAX. */
const aioSuspend: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const nent = ctx.args.int(1)
    if (nent <= 0 || nent > AIO_LISTIO_MAX) return yield* sysErr(Errno.EAGAIN)
    const tsPtr = ctx.args.ptr(2)
    let timeoutMs: number | undefined
    if (tsPtr !== 0n) {
      const ts = decodeTimespec(yield* copyin(ctx, tsPtr, TIMESPEC_SIZE), 0)
      const ms = Number(ts.sec * 1000n + ts.nsec / 1_000_000n)
      // mstohz, with a sliver of a tick counting as one
      const ticks = Math.floor(ms / TICK_MS)
      timeoutMs = (ticks === 0 && ts.sec === 0n && ts.nsec > 0n ? 1 : ticks) * TICK_MS
    }
    const list = yield* pointers(ctx, ctx.args.ptr(0), nent)
    yield* suspend(ctx, list, timeoutMs)
  })

/** aio_cancel(fildes, aiocbp): AIO_CANCELED, AIO_NOTCANCELED (the job in progress) or AIO_ALLDONE. */
const aioCancel: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const fildes = ctx.args.int(0)
    if (ctx.proc.fds.get(fildes) === undefined) return yield* sysErr(Errno.EBADF)
    const aio = aioOf(ctx.proc)
    if (aio === undefined) return AIO_NOTCANCELED
    const uptr = ctx.args.ptr(1)
    const taken = takeJobs(aio, fildes, uptr)
    if (taken === "otherfd") return yield* sysErr(Errno.EBADF)
    jobCount(ctx.kernel).n -= taken.length
    let answer = taken.length > 0 ? AIO_CANCELED : 0
    const cur = aio.current
    // the job in progress cannot be taken back
    if (cur !== undefined && (cbFildes(cur.cb) === fildes || cur.uptr === uptr)) answer = AIO_NOTCANCELED
    let faults = 0
    for (const job of taken) {
      setResult(job.cb, JOB_DONE, Errno.ECANCELED, cbState(job.cb).retval)
      const r = yield* Effect.result(copyout(ctx, job.uptr, job.cb))
      if (r._tag === "Failure") faults++
      yield* raiseAt(ctx.proc, sigeventSignal(job.cb, AIOCB_SIGEVENT))
      if (job.lio !== undefined && --job.lio.refs === 0) yield* raiseAt(ctx.proc, job.lio.signo)
    }
    if (faults > 0) return yield* sysErr(Errno.EFAULT)
    return answer === 0 ? AIO_ALLDONE : answer
  })

/**
 * lio_listio(mode, list, nent, sig): EINVAL for a count out of range or a
 * bad mode or sigevent; every job queued that can be (EIO if any could
 * not); LIO_WAIT sleeps until all are done (EINTR when ordered out).
 */
const lioListio: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const mode = ctx.args.int(0)
    const nent = ctx.args.int(2)
    if (nent < 1 || nent > AIO_LISTIO_MAX) return yield* sysErr(Errno.EINVAL)
    if (jobCount(ctx.kernel).n + nent > AIO_MAX) return yield* sysErr(Errno.EAGAIN)
    const aio = aioInit(ctx)
    let signo = 0
    if (mode === LIO_NOWAIT) {
      const sigPtr = ctx.args.ptr(3)
      if (sigPtr !== 0n) {
        const sig = yield* copyin(ctx, sigPtr, SIGEVENT_SIZE)
        yield* checkSigevent(sig, 0)
        signo = sigeventSignal(sig, 0)
      }
    } else if (mode !== LIO_WAIT) {
      return yield* sysErr(Errno.EINVAL)
    }
    const list = yield* pointers(ctx, ctx.args.ptr(1), nent)
    const lio: ListIo = { refs: 1, signo }
    let failed = 0
    for (const uptr of list) {
      if ((yield* Effect.result(enqueue(ctx, "lio", uptr, lio)))._tag === "Failure") failed++
    }
    const finish = Effect.suspend(() => (--lio.refs === 0 ? raiseAt(ctx.proc, lio.signo) : Effect.void))
    if (failed > 0) return yield* Effect.andThen(finish, sysErr(Errno.EIO))
    if (mode === LIO_WAIT) {
      while (lio.refs > 1) {
        const why = yield* aio.done.sleep(ctx.lwp, undefined, () => lio.refs <= 1)
        if (why === "interrupted") return yield* Effect.andThen(finish, sysErr(Errno.EINTR))
      }
    }
    yield* finish
  })

export const family: SyscallFamily = [
  [SYS.aio_read, aioRead],
  [SYS.aio_write, aioWrite],
  [SYS.aio_fsync, aioFsync],
  [SYS.aio_error, aioError],
  [SYS.aio_return, aioReturn],
  [SYS.aio_cancel, aioCancel],
  [SYS.__aio_suspend50, aioSuspend],
  [SYS.lio_listio, lioListio]
]
