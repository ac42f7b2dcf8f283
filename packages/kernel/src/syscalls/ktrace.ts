/**
 * The tracing family (kern_ktrace.c): ktrace(2) opens a trace file by
 * name, fktrace(2) takes a descriptor open for writing, and both set or
 * clear facilities on a process, a process group (a negative pid), or a
 * process and its descendants (KTRFLAG_DESCEND); KTROP_CLEARFILE stops
 * every process tracing to that file. utrace(2) adds a KTR_USER record
 * for a process that traces them. The tracing is ktrace/Ktrace.ts.
 */
import { Errno, openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { type File, FWRITE } from "../fd/File.ts"
import { releaseFile } from "../fd/FileTable.ts"
import { isRoot } from "../kauth/Cred.ts"
import { SysErr, sysErr } from "../kern/SysErr.ts"
import { copyin, copyinPath, type SyscallContext } from "../kern/SyscallContext.ts"
import {
  EMUL_NAME,
  encodeHeader,
  existingTraceFile,
  KTR_EMUL,
  KTR_USER,
  KTR_USER_MAXIDLEN,
  KTR_USER_MAXLEN,
  KTRFAC_MASK,
  KTRFAC_PERSISTENT,
  record,
  setTrace,
  traceFileFor,
  traceOf,
  tracing,
  tracingTo,
  untrace
} from "../ktrace/Ktrace.ts"
import type { Proc } from "../proc/Proc.ts"
import { AT_FDCWD } from "../vfs/At.ts"
import { openFileAt } from "../vfs/Open.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

const KTROP_SET = 0
const KTROP_CLEAR = 1
const KTROP_CLEARFILE = 2
const KTROP_MASK = 3
const KTRFLAG_DESCEND = 4

/**
 * ktrcanset, KAUTH_PROCESS_KTRACE: the superuser may; anyone else only as
 * ktrace_listener_cb allows it, for a target that has not changed its ids
 * (PK_SUGID) and is not traced persistently (by root), whose real and
 * saved uid are the caller's effective and real uid, and whose real and
 * saved gid are the caller's real gid.
 */
const canTrace = (ctx: SyscallContext, p: Proc): boolean => {
  if (isRoot(ctx.proc)) return true
  if (p.sugid || ((traceOf(p)?.flags ?? 0) & KTRFAC_PERSISTENT) !== 0) return false
  const caller = ctx.proc.cred
  const target = p.cred
  return caller.euid === target.uid && caller.uid === target.svuid && caller.gid === target.gid && caller.gid === target.svgid
}

/** The process and, for KTRFLAG_DESCEND, every process below it. */
const withDescendants = (ctx: SyscallContext, p: Proc): Array<Proc> => {
  const all = [p]
  for (let i = 0; i < all.length; i++) {
    const parent = all[i]
    for (const q of ctx.kernel.procs.values()) if (q.ppid === parent?.pid && !q.released && q !== parent) all.push(q)
  }
  return all
}

/** The KTR_EMUL record a newly traced process gets (NetBSD writes it at its next syscall). */
const emulRecord = (ctx: SyscallContext, p: Proc) => {
  const t = traceOf(p)
  if (t === undefined || !tracing(p, KTR_EMUL)) return Effect.void
  const payload = new Uint8Array([...EMUL_NAME].map((c) => c.charCodeAt(0)))
  const rec = new Uint8Array([...encodeHeader(p, ctx.lwp.lid, KTR_EMUL, payload.length, t.flags, ctx.kernel.clock.realtimeNs()), ...payload])
  return Effect.ignore(t.to.file.ops.write(ctx, t.to.file, rec, undefined))
}

/** ktrace_common: the operation on the targets, EPERM when it was allowed on none. */
const ktraceCommon = Effect.fnUntraced(
  function*(ctx: SyscallContext, file: File | undefined, opsArg: number, facsArg: number, pid: number) {
    const op = opsArg & KTROP_MASK
    const facs = facsArg & ~KTRFAC_PERSISTENT
    if (op === KTROP_CLEARFILE) {
      const tf = file === undefined ? undefined : existingTraceFile(file)
      if (tf !== undefined) yield* Effect.forEach(tracingTo(ctx.kernel, tf), untrace, { discard: true })
      return
    }
    if (facs === 0) return yield* sysErr(Errno.EINVAL)
    const live = [...ctx.kernel.procs.values()].filter((p) => !p.released && p.pid > 1)
    const roots = pid < 0 ? live.filter((p) => p.pgid === -pid) : live.filter((p) => p.pid === pid)
    if (roots.length === 0) return yield* sysErr(Errno.ESRCH)
    const targets = (opsArg & KTRFLAG_DESCEND) !== 0 ? roots.flatMap((p) => withDescendants(ctx, p)) : roots
    let done = 0
    const tf = op === KTROP_SET && file !== undefined ? traceFileFor(file) : undefined
    for (const p of new Set(targets)) {
      if (!canTrace(ctx, p)) continue
      done++
      if (tf !== undefined) {
        // what the superuser sets is KTRFAC_PERSISTENT: nobody else may change it then
        const persistent = isRoot(ctx.proc) ? KTRFAC_PERSISTENT : 0
        yield* setTrace(p, tf, (traceOf(p)?.to === tf ? traceOf(p)?.flags ?? 0 : 0) | facs | persistent)
        yield* emulRecord(ctx, p)
        continue
      }
      const t = traceOf(p)
      if (t === undefined) continue
      t.flags &= ~facs
      if ((t.flags & KTRFAC_MASK) === 0) yield* untrace(p)
    }
    // a trace file nobody took goes again
    if (tf !== undefined && tf.refs === 0) yield* releaseFile(tf.file)
    if (done === 0) return yield* sysErr(Errno.EPERM)
  }
)

/**
 * ktrace(fname, ops, facs, pid): all but KTROP_CLEAR open the file (as
 * open(2) would, for reading and writing: EACCES if it is no regular
 * file); the trace writes from its start.
 */
const ktrace: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const ops = ctx.args.int(1)
    if ((ops & KTROP_MASK) === KTROP_CLEAR) {
      return yield* ktraceCommon(ctx, undefined, ops, ctx.args.int(2), ctx.args.int(3))
    }
    const p = yield* copyinPath(ctx, ctx.args.ptr(0))
    const file = yield* ctx.kernel.vfs.exclusive(openFileAt(ctx, AT_FDCWD, p, openFlags.O_RDWR, 0))
    return yield* Effect.gen(function*() {
      if (file.vnode?.type !== "reg") return yield* sysErr(Errno.EACCES)
      // the trace file's own open file: writing only, at its offset
      file.flag = FWRITE
      yield* ktraceCommon(ctx, file, ops, ctx.args.int(2), ctx.args.int(3))
    }).pipe(Effect.ensuring(releaseFile(file)))
  })

/** fktrace(fd, ops, facs, pid): a descriptor open for writing (EBADF). */
const fktrace: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    const file = ctx.proc.fds.get(ctx.args.int(0))?.file
    if (file === undefined || (file.flag & FWRITE) === 0) return yield* sysErr(Errno.EBADF)
    yield* ktraceCommon(ctx, file, ctx.args.int(1), ctx.args.int(2), ctx.args.int(3))
  })

/**
 * utrace(label, addr, len): a KTR_USER record (the label in its 20-byte
 * id, then the data) if the process traces them; EINVAL past
 * KTR_USER_MAXLEN. Data that cannot be read is EFAULT, after an empty
 * record.
 */
const utrace: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    if (!tracing(ctx.proc, KTR_USER)) return
    const len = ctx.args.size(2)
    if (len > KTR_USER_MAXLEN) return yield* sysErr(Errno.EINVAL)
    const id = new Uint8Array(KTR_USER_MAXIDLEN)
    const label = yield* Effect.result(
      Effect.mapError(ctx.mem.copyinstr(ctx.args.ptr(0), KTR_USER_MAXIDLEN), (e) => new SysErr({ errno: e.errno }))
    )
    if (label._tag === "Success" && label.success.indexOf(0) >= 0) id.set(label.success.subarray(0, KTR_USER_MAXIDLEN - 1))
    const data = len === 0 ? new Uint8Array(0) : yield* Effect.result(copyin(ctx, ctx.args.ptr(1), len))
    const body = data instanceof Uint8Array ? data : data._tag === "Success" ? data.success : new Uint8Array(0)
    const payload = new Uint8Array(KTR_USER_MAXIDLEN + body.length)
    payload.set(id)
    payload.set(body, KTR_USER_MAXIDLEN)
    yield* record(ctx, KTR_USER, payload)
    if (!(data instanceof Uint8Array) && data._tag === "Failure") return yield* Effect.fail(data.failure)
  })

export const family: SyscallFamily = [
  [SYS.ktrace, ktrace],
  [SYS.fktrace, fktrace],
  [SYS.utrace, utrace]
]

