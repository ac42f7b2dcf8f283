/**
 * The POSIX semaphore calls (_ksem_*, uipc_sem.c); the semaphores are
 * ipc/Semaphore.ts. An id is a descriptor: one that is not open or not a
 * semaphore is EINVAL (_ksem_close takes any descriptor, EBADF if none).
 * _ksem_init and _ksem_open store the id before the semaphore is made,
 * and take the descriptor back if that fails.
 */
import { Errno, openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { closeFd, releaseFile } from "../fd/FileTable.ts"
import {
  checkCreate,
  checkPerm,
  namedSemaphores,
  postSemaphore,
  Semaphore,
  semaphoreFile,
  semaphoreOf,
  SEM_MAX_NAMELEN,
  waitSemaphore
} from "../ipc/Semaphore.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { copyin, copyinString, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import { decodeTimespec, TIMESPEC_SIZE } from "../abi/Timespec.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

/** A semaphore name: copyinstr into SEM_MAX_NAMELEN + 1 bytes (ENAMETOOLONG past it). */
const nameIn = (ctx: SyscallContext, addr: bigint): Effect.Effect<string, SysErr> =>
  copyinString(ctx, addr, SEM_MAX_NAMELEN + 1)


/** ksem_get: the semaphore of descriptor `id` (EINVAL for none). */
const semOf = (ctx: SyscallContext, slot: number): Effect.Effect<Semaphore, SysErr> =>
  Effect.suspend(() => {
    const id = ctx.args.long(slot)
    const file = id >= 0n && id < 0x8000_0000n ? ctx.proc.fds.get(Number(id))?.file : undefined
    const s = file === undefined ? undefined : semaphoreOf(file)
    return s === undefined ? sysErr(Errno.EINVAL) : Effect.succeed(s)
  })

/** The id (descriptor) as an intptr_t at `idp`. */
const idOut = (ctx: SyscallContext, idp: bigint, fd: number) => {
  const bytes = new Uint8Array(8)
  new DataView(bytes.buffer).setBigInt64(0, BigInt(fd), true)
  return copyout(ctx, idp, bytes)
}

/**
 * A descriptor for a semaphore `make` gives (after the id went out):
 * EMFILE first; the descriptor goes back if storing the id or making fails.
 */
const withDescriptor = Effect.fnUntraced(
  function*(ctx: SyscallContext, idp: bigint, make: () => Effect.Effect<Semaphore, SysErr>) {
    const fd = ctx.proc.fds.lowestFree()
    if (fd === undefined) return yield* sysErr(Errno.EMFILE)
    yield* idOut(ctx, idp, fd)
    const sem = yield* make()
    const file = semaphoreFile(ctx.kernel, sem)
    // another lwp may have taken the slot meanwhile
    if (ctx.proc.fds.get(fd) !== undefined) {
      yield* releaseFile(file)
      return yield* sysErr(Errno.EMFILE)
    }
    ctx.proc.fds.install(fd, file, false)
  })

/** _ksem_init(value, idp): an anonymous semaphore. */
const init: SyscallImpl = (ctx) =>
  withDescriptor(ctx, ctx.args.ptr(1), () =>
    Effect.as(checkCreate(ctx.kernel, undefined), new Semaphore(undefined, 0, ctx.args.uint(0), ctx.proc)))

/** _ksem_open(name, oflag, mode, value, idp) */
const open: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const name = yield* nameIn(ctx, ctx.args.ptr(0))
    const oflag = ctx.args.int(1)
    const list = namedSemaphores(ctx.kernel)
    yield* withDescriptor(ctx, ctx.args.ptr(4), () =>
      Effect.gen(function*() {
        const create = (oflag & openFlags.O_CREAT) !== 0
        if (create) yield* checkCreate(ctx.kernel, name)
        const found = list.get(name)
        if (found !== undefined) {
          if ((oflag & openFlags.O_EXCL) !== 0) return yield* sysErr(Errno.EEXIST)
          yield* checkPerm(found, ctx.proc)
          found.refs++
          return found
        }
        if (!create) return yield* sysErr(Errno.ENOENT)
        const s = new Semaphore(name, ctx.args.uint(2), ctx.args.uint(3), ctx.proc)
        list.set(name, s)
        return s
      }))
  })

/** _ksem_unlink(name): out of the list (EACCES without write permission); gone with its last file. */
const unlink: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const name = yield* nameIn(ctx, ctx.args.ptr(0))
    const list = namedSemaphores(ctx.kernel)
    const s = list.get(name)
    if (s === undefined) return yield* sysErr(Errno.ENOENT)
    yield* checkPerm(s, ctx.proc)
    list.delete(name)
    if (s.refs > 0) s.unlinked = true
  })

/** _ksem_close(id): closes the descriptor, whatever it is (fd_close). */
const close: SyscallImpl = (ctx) =>
  Effect.flatMap(closeFd(ctx.proc.fds, Number(BigInt.asIntN(32, ctx.args.long(0))), ctx.proc), (closed) =>
    closed ? Effect.void : sysErr(Errno.EBADF))

const post: SyscallImpl = (ctx) => Effect.flatMap(semOf(ctx, 0), postSemaphore)
const wait: SyscallImpl = (ctx) => Effect.flatMap(semOf(ctx, 0), (s) => waitSemaphore(ctx.kernel, ctx.lwp, s, "wait"))
const trywait: SyscallImpl = (ctx) => Effect.flatMap(semOf(ctx, 0), (s) => waitSemaphore(ctx.kernel, ctx.lwp, s, "try"))

/** _ksem_timedwait(id, abstime): an absolute CLOCK_REALTIME deadline (EINVAL if malformed, ETIMEDOUT past it). */
const timedwait: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const ts = decodeTimespec(yield* copyin(ctx, ctx.args.ptr(1), TIMESPEC_SIZE), 0)
    if (ts.sec < 0n || ts.nsec < 0n || ts.nsec >= 1_000_000_000n) return yield* sysErr(Errno.EINVAL)
    const s = yield* semOf(ctx, 0)
    yield* waitSemaphore(ctx.kernel, ctx.lwp, s, "wait", ts.sec * 1_000_000_000n + ts.nsec)
  })

/** _ksem_getvalue(id, value) */
const getvalue: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const s = yield* semOf(ctx, 0)
    const bytes = new Uint8Array(4)
    new DataView(bytes.buffer).setUint32(0, s.value, true)
    yield* copyout(ctx, ctx.args.ptr(1), bytes)
  })

/** _ksem_destroy(id): only an anonymous semaphore (EINVAL) nobody waits on (EBUSY); closes its descriptor. */
const destroy: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const s = yield* semOf(ctx, 0)
    if (s.name !== undefined) return yield* sysErr(Errno.EINVAL)
    if (s.waiters.size > 0) return yield* sysErr(Errno.EBUSY)
    yield* closeFd(ctx.proc.fds, Number(ctx.args.long(0)), ctx.proc)
  })

export const family: SyscallFamily = [
  [SYS._ksem_init, init],
  [SYS._ksem_open, open],
  [SYS._ksem_unlink, unlink],
  [SYS._ksem_close, close],
  [SYS._ksem_post, post],
  [SYS._ksem_wait, wait],
  [SYS._ksem_trywait, trywait],
  [SYS._ksem_getvalue, getvalue],
  [SYS._ksem_destroy, destroy],
  [SYS._ksem_timedwait, timedwait]
]
