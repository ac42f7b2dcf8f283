/**
 * Kernel tracing (NetBSD's kern_ktrace.c): a process being traced has a
 * trace file (a regular file of the kernel's, opened for appending) and the
 * facilities (KTRFAC_*) to record; records are appended to the file in
 * NetBSD's format, a struct ktr_header (of the version the facilities ask
 * for) and the record's payload, so the file can be copied out and read by
 * a host kdump(1).
 *
 * Recorded here: KTR_SYSCALL and KTR_SYSRET around every syscall of a
 * process that traces either (sy_invoke's trace_enter and trace_exit: the
 * dispatcher hands the call to traceSyscall), KTR_NAMEI as a path lookup
 * starts (namei_ktrace), KTR_GENIO for the data a read or write moved
 * (ktr_genio, ktr_geniov), KTR_USER (utrace(2)) and KTR_EMUL (when tracing
 * is set, the "netbsd" emulation). A file traced to by nobody any more is
 * closed.
 *
 * No KTR_PSIG: the rump kernel never writes one. Its signals.c hands every
 * signal to the client (rump_sysproxy_raise) and kern_sig.c, where postsig
 * calls ktrpsig, is not part of librump.
 *
 * struct ktr_header (amd64): int ktr_len (the payload's size); short
 * ktr_type, ktr_version; pid_t ktr_pid; char ktr_comm[17]; then, 8-aligned
 * at 32, the time (v0: int32 seconds, long microseconds, a pointer; v1:
 * int32 seconds, long nanoseconds, lwpid; v2: struct timespec, lwpid). 56
 * bytes in all.
 */
import { SyscallByNumber } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { File } from "../fd/File.ts"
import { releaseFile } from "../fd/FileTable.ts"
import type { KernelState } from "../KernelState.ts"
import type { Proc } from "../proc/Proc.ts"
import { copyin, type SyscallContext } from "../kern/SyscallContext.ts"
import { PAGE_SIZE } from "../vfs/FileData.ts"
import { bytesOfName } from "../vfs/Names.ts"

/** Record types. */
export const KTR_SYSCALL = 1
export const KTR_SYSRET = 2
export const KTR_NAMEI = 3
export const KTR_GENIO = 4
export const KTR_EMUL = 7
export const KTR_USER = 8

/** KTRFAC_* bits: one per record type, and the flags above them. */
export const ktrFac = (type: number): number => 1 << type
export const KTRFAC_MASK = 0x00ff_ffff
export const KTRFAC_VER_MASK = 0x0f00_0000
export const KTRFAC_VER_SHIFT = 24
export const KTRFAC_PERSISTENT = 0x8000_0000 | 0

/** KTR_USER_MAXIDLEN and KTR_USER_MAXLEN. */
export const KTR_USER_MAXIDLEN = 20
export const KTR_USER_MAXLEN = 2048

export const KTR_HEADER_SIZE = 56
const MAXCOMLEN = 16

/** A trace file and how many processes trace to it. */
export class TraceFile {
  refs = 0
  readonly file: File

  constructor(file: File) {
    this.file = file
  }
}

/** A traced process's state (Proc.trace): where to and what (p_tracep, p_traceflag). */
export interface Trace {
  readonly to: TraceFile
  flags: number
}

export const traceOf = (p: Proc): Trace | undefined => p.trace

/** The processes of a kernel that trace to `to`. */
export const tracingTo = (kernel: KernelState, to: TraceFile): Array<Proc> =>
  [...kernel.procs.values()].filter((p) => p.trace?.to === to)

/** The trace files by what they write to (a node, or an open file that has none): samefiles. */
const files = new WeakMap<object, TraceFile>()

/** The trace file writing to what `file` reaches: an existing one, or a new one holding a reference to `file`. */
export const traceFileFor = (file: File): TraceFile => {
  const key = file.vnode ?? file
  let tf = files.get(key)
  if (tf === undefined || tf.refs === 0) {
    file.refs++
    tf = new TraceFile(file)
    files.set(key, tf)
  }
  return tf
}

/** The trace file writing to what `file` reaches, if there is one. */
export const existingTraceFile = (file: File): TraceFile | undefined => files.get(file.vnode ?? file)

/** A process stops tracing (to anything): the file goes with its last tracer. */
export const untrace = (p: Proc): Effect.Effect<void> =>
  Effect.suspend(() => {
    const t = p.trace
    if (t === undefined) return Effect.void
    p.trace = undefined
    return --t.to.refs === 0 ? releaseFile(t.to.file) : Effect.void
  })

/** The process traces to `to` with `flags` (replacing another file it traced to). */
export const setTrace: (p: Proc, to: TraceFile, flags: number) => Effect.Effect<void> = Effect.fnUntraced(
  function*(p, to, flags) {
    const t = p.trace
    if (t !== undefined && t.to === to) {
      t.flags = flags
      return
    }
    yield* untrace(p)
    to.refs++
    p.trace = { to, flags }
  })

/** struct ktr_header for a record of `len` payload bytes, in the version `flags` asks for. */
export const encodeHeader = (p: Proc, lid: number, type: number, len: number, flags: number, nowNs: bigint): Uint8Array => {
  const bytes = new Uint8Array(KTR_HEADER_SIZE)
  const v = new DataView(bytes.buffer)
  const version = (flags & KTRFAC_VER_MASK) >>> KTRFAC_VER_SHIFT
  v.setInt32(0, len, true)
  v.setInt16(4, type, true)
  v.setInt16(6, version, true)
  v.setInt32(8, p.pid, true)
  for (let i = 0; i < p.comm.length && i < MAXCOMLEN; i++) bytes[12 + i] = p.comm.charCodeAt(i) & 0xff
  const sec = nowNs / 1_000_000_000n
  const nsec = nowNs % 1_000_000_000n
  if (version >= 2) {
    v.setBigInt64(32, sec, true)
    v.setBigInt64(40, nsec, true)
    v.setInt32(48, lid, true)
  } else {
    v.setInt32(32, Number(BigInt.asIntN(32, sec)), true)
    v.setBigInt64(40, version === 1 ? nsec : nsec / 1000n, true)
    if (version === 1) v.setInt32(48, lid, true)
  }
  return bytes
}

/**
 * Appends a record about process `p` (by default the caller's) to its trace
 * file, if it traces `type` (a failed write is dropped, as NetBSD's).
 */
export const record = (ctx: SyscallContext, type: number, payload: Uint8Array, p: Proc = ctx.proc): Effect.Effect<void> =>
  Effect.suspend(() => {
    const t = p.trace
    if (t === undefined || (t.flags & ktrFac(type)) === 0) return Effect.void
    const header = encodeHeader(p, ctx.lwp.lid, type, payload.length, t.flags, ctx.kernel.clock.realtimeNs())
    const rec = new Uint8Array(header.length + payload.length)
    rec.set(header)
    rec.set(payload, header.length)
    return Effect.ignore(t.to.file.ops.write(ctx, t.to.file, rec, undefined))
  })

/** Does the caller's process trace `type`? (KTRPOINT) */
export const tracing = (p: Proc, type: number): boolean => ((p.trace?.flags ?? 0) & ktrFac(type)) !== 0

/** What a syscall answered: its errno (0 for none) and both return registers. */
export interface SyscallOutcome {
  readonly error: number
  readonly retval0: bigint
  readonly retval1: bigint
}

const REGISTER = 8

/**
 * struct ktr_syscall (int ktr_code, int ktr_argsize) and the arguments:
 * sy_argsize bytes, the syscall's own argument struct (a register_t a slot,
 * padding slots included), as the caller sent them; none for a number the
 * table does not know.
 */
const syscallPayload = (code: number, args: Uint8Array): Uint8Array => {
  const argsize = (SyscallByNumber.get(code)?.args.length ?? 0) * REGISTER
  const bytes = new Uint8Array(8 + argsize)
  const v = new DataView(bytes.buffer)
  v.setInt32(0, code, true)
  v.setInt32(4, argsize, true)
  bytes.set(args.subarray(0, argsize), 8)
  return bytes
}

/**
 * struct ktr_sysret: short ktr_code, short ktr_eosys (unused, 0), int
 * ktr_error, register_t ktr_retval and ktr_retval_1, both 0 when the call
 * failed. 24 bytes.
 */
const sysretPayload = (code: number, r: SyscallOutcome): Uint8Array => {
  const bytes = new Uint8Array(24)
  const v = new DataView(bytes.buffer)
  v.setInt16(0, code, true)
  v.setInt32(4, r.error, true)
  if (r.error === 0) {
    v.setBigInt64(8, r.retval0, true)
    v.setBigInt64(16, r.retval1, true)
  }
  return bytes
}

const FAC_SYSCALLS = ktrFac(KTR_SYSCALL) | ktrFac(KTR_SYSRET)

/**
 * A syscall of a traced process (sy_invoke with p_trace_enabled): a
 * KTR_SYSCALL record before it, a KTR_SYSRET record with its outcome after
 * it, each if the process traces it at that moment (the call may change
 * that: a ktrace(2) that starts tracing its caller records neither). Only
 * SYSCALL or SYSRET tracing makes a call traced, as trace_is_enabled has
 * it. The dispatcher calls this only for a process with a trace.
 */
export const traceSyscall = <R extends SyscallOutcome>(ctx: SyscallContext, code: number, call: Effect.Effect<R>): Effect.Effect<R> =>
  Effect.suspend(() => {
    if (((ctx.proc.trace?.flags ?? 0) & FAC_SYSCALLS) === 0) return call
    return Effect.andThen(
      record(ctx, KTR_SYSCALL, syscallPayload(code, ctx.args.bytes)),
      Effect.tap(call, (r) => record(ctx, KTR_SYSRET, sysretPayload(code, r)))
    )
  })

/** KTR_NAMEI: the path as namei starts looking it up, with its NUL (ni_pathlen counts it). */
export const recordNamei = (ctx: SyscallContext, path: string): Effect.Effect<void> =>
  Effect.suspend(() => {
    if (!tracing(ctx.proc, KTR_NAMEI)) return Effect.void
    const payload = new Uint8Array(path.length + 1)
    payload.set(bytesOfName(path))
    return record(ctx, KTR_NAMEI, payload)
  })

/** KTR_EMUL's payload: the emulation's name. */
export const EMUL_NAME = "netbsd"

/** enum uio_rw: the direction a KTR_GENIO record's data went. */
export const UIO_READ = 0
export const UIO_WRITE = 1

/** sizeof(struct ktr_genio): int ktr_fd, enum uio_rw ktr_rw. */
const GENIO_SIZE = 8

/** One caller buffer of a transfer (an iovec). */
export interface TracedBuffer {
  readonly base: bigint
  readonly len: bigint
}

/**
 * KTR_GENIO (ktr_geniov's ktr_io): the first `count` bytes of the caller's
 * buffers `bufs`, copied in again from the caller as NetBSD does, after a
 * read or write on `fd` that moved `count` bytes (a call that failed
 * records nothing: the callers call this only on success, a short count
 * after an interruption included). The data goes in records of at most a
 * page (4096 on amd64), struct ktr_genio first; a transfer of 0 bytes
 * gives one record with no data. A buffer that cannot be read drops that
 * record and the rest.
 */
export const recordGenio: (
  ctx: SyscallContext,
  fd: number,
  rw: number,
  bufs: ReadonlyArray<TracedBuffer>,
  count: number | bigint
) => Effect.Effect<void> = Effect.fnUntraced(function*(ctx, fd, rw, bufs, count) {
  if (!tracing(ctx.proc, KTR_GENIO)) return
  let resid = Number(count)
  let index = 0
  let pos = 0n
  do {
    const payload = new Uint8Array(Math.min(PAGE_SIZE, resid + GENIO_SIZE))
    const v = new DataView(payload.buffer)
    v.setInt32(0, fd, true)
    v.setInt32(4, rw, true)
    let at = GENIO_SIZE
    while (at < payload.length) {
      const buf = bufs[index]
      if (buf === undefined) return
      const left = buf.len - pos
      const n = left < BigInt(payload.length - at) ? Number(left) : payload.length - at
      if (n > 0) {
        const data = yield* Effect.result(copyin(ctx, buf.base + pos, n))
        if (data._tag === "Failure") return
        payload.set(data.success, at)
      }
      at += n
      resid -= n
      pos += BigInt(n)
      if (pos === buf.len) {
        index++
        pos = 0n
      }
    }
    yield* record(ctx, KTR_GENIO, payload)
  } while (resid > 0)
})
