/**
 * kern.file and kern.file2, read from the processes' descriptor tables.
 *
 * kern.file (sysctl_kern_file): the 8-byte filehead, then the kernel's
 * struct file of every open file; a size query has room for
 * KERN_FILESLOP more; a buffer too small for the next file ends the copy
 * with ENOMEM.
 *
 * kern.file2 (sysctl_kern_file2): name is op, arg, elem_size, elem_count;
 * KERN_FILE_BYFILE (arg 0) gives each open file once, KERN_FILE_BYPID each
 * descriptor of process arg (-1: of every process); each record is the
 * first min(elem_size, 120) bytes of a struct kinfo_file, at most
 * elem_count of them and as many as fit; the length reported is what all
 * of them take (plus KERN_FILESLOP records for a size query).
 *
 * Kernel addresses (of files, their data, credentials) are stable made-up
 * numbers, one per object, so tools can tell files apart.
 */
import { allocBytes, viewOf } from "@sysproxy/protocol"
import { Errno, Structs, sysctlKern, sysctlSpecial } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { File } from "../../fd/File.ts"
import type { Proc } from "../../proc/Proc.ts"
import { sysErr } from "../../kern/SysErr.ts"
import { copyout } from "../../kern/SyscallContext.ts"
import { query } from "../Meta.ts"
import type { SysctlFunc } from "../Node.ts"
import { liveProcs } from "./Proc2.ts"

const { KERN_FILE_BYFILE, KERN_FILE_BYPID, KERN_FILESLOP } = sysctlKern
const KINFO_FILE = Structs.kinfo_file
const STRUCT_FILE = Structs.file
const FILEHEAD_SIZE = 8

const DTYPE = { vnode: 1, device: 1, socket: 2, pipe: 3, kqueue: 4, sem: 8 } as const
const VTYPE: Readonly<Record<string, number>> = { reg: 1, dir: 2, blk: 3, chr: 4, lnk: 5, sock: 6, fifo: 7 }
/** enum vtagtype: VT_TMPFS. */
const VT_TMPFS = 25

const addresses = new WeakMap<object, bigint>()
let nextAddress = 0xffff_a000_0000_1000n
/** A made-up kernel address for `object`, the same every time. */
const addressOf = (object: object): bigint => {
  let a = addresses.get(object)
  if (a === undefined) {
    a = nextAddress
    nextAddress += 0x100n
    addresses.set(object, a)
  }
  return a
}
const FILEHEAD = addressOf({})
const OPS: Readonly<Record<File["ops"]["kind"], bigint>> = {
  vnode: addressOf({}),
  device: addressOf({}),
  socket: addressOf({}),
  pipe: addressOf({}),
  kqueue: addressOf({}),
  sem: addressOf({})
}

const offsets = (layout: typeof KINFO_FILE | typeof STRUCT_FILE): Readonly<Record<string, number>> =>
  Object.fromEntries(layout.fields.map((f) => [f.name, f.offset]))
const KF = offsets(KINFO_FILE)
const F = offsets(STRUCT_FILE)

interface Open {
  readonly file: File
  readonly proc: Proc
  readonly fd: number
  readonly cloexec: boolean
}

/** Every descriptor of the processes (newest first), or each open file once. */
const openFiles = (procs: ReadonlyArray<Proc>, once: boolean): Array<Open> => {
  const seen = new Set<File>()
  const all: Array<Open> = []
  for (const proc of procs) {
    for (const fd of proc.fds.openFds()) {
      const d = proc.fds.get(fd)
      if (d === undefined) continue
      if (once) {
        if (seen.has(d.file)) continue
        seen.add(d.file)
      }
      all.push({ file: d.file, proc, fd, cloexec: d.cloexec })
    }
  }
  return all
}

/** fill_file: one struct kinfo_file (pid and fd only when listed by process). */
const kinfoFile = (o: Open, byPid: boolean): Uint8Array => {
  const out = allocBytes(KINFO_FILE.size)
  const view = viewOf(out)
  const b = out.byteOffset
  const f = o.file
  view.setBigUint64(b + KF.ki_fileaddr!, addressOf(f), true)
  view.setUint32(b + KF.ki_flag!, f.flag, true)
  view.setUint32(b + KF.ki_ftype!, DTYPE[f.ops.kind], true)
  view.setUint32(b + KF.ki_count!, f.refs, true)
  view.setBigUint64(b + KF.ki_fucred!, addressOf(o.proc), true)
  view.setUint32(b + KF.ki_fuid!, o.proc.uid, true)
  view.setUint32(b + KF.ki_fgid!, o.proc.gid, true)
  view.setBigUint64(b + KF.ki_fops!, OPS[f.ops.kind], true)
  view.setBigUint64(b + KF.ki_foffset!, BigInt.asUintN(64, f.offset), true)
  view.setBigUint64(b + KF.ki_fdata!, addressOf(f.vnode ?? f.ops), true)
  if (f.vnode !== undefined) {
    view.setBigUint64(b + KF.ki_vsize!, BigInt.asUintN(64, f.ops.size?.(f) ?? 0n), true)
    view.setUint32(b + KF.ki_vtype!, VTYPE[f.vnode.type] ?? 0, true)
    view.setUint32(b + KF.ki_vtag!, VT_TMPFS, true)
    view.setBigUint64(b + KF.ki_vdata!, addressOf(f.vnode), true)
  }
  if (byPid) {
    view.setUint32(b + KF.ki_pid!, o.proc.pid, true)
    view.setInt32(b + KF.ki_fd!, o.fd, true)
    view.setUint32(b + KF.ki_ofileflags!, o.cloexec ? 1 : 0, true)
  }
  return out
}

export const kernFile2: SysctlFunc = Effect.fnUntraced(
  function*(req, node, name, at) {
    const rest = name.subarray(at)
    if (rest.length === 1 && rest[0] === sysctlSpecial.CTL_QUERY) return yield* query(req, node, name, at)
    if (rest.length !== 4) return yield* sysErr(Errno.EINVAL)
    const [op = 0, arg = 0, elemSize = 0, elemCount = 0] = rest
    if (elemSize < 1 || elemCount < 0) return yield* sysErr(Errno.EINVAL)
    if (op === KERN_FILE_BYFILE ? arg !== 0 : op !== KERN_FILE_BYPID || arg < -1) return yield* sysErr(Errno.EINVAL)
    const byPid = op === KERN_FILE_BYPID
    const procs = liveProcs(req.ctx.kernel.procs).filter((p) => !byPid || arg === -1 || p.pid === arg)
    const size = BigInt(elemSize)
    const outsize = Math.min(KINFO_FILE.size, elemSize)
    let left = req.oldp === 0n ? 0n : req.oldlen
    let count = elemCount
    let dp = req.oldp
    let needed = 0n
    for (const o of openFiles(procs, !byPid)) {
      if (left >= size && count > 0) {
        yield* copyout(req.ctx, dp, kinfoFile(o, byPid).subarray(0, outsize))
        dp += size
        left -= size
        count--
      }
      needed += size
    }
    req.oldlen = req.oldp === 0n ? needed + BigInt(KERN_FILESLOP) * size : needed
  })

/** The kernel's struct file as kern.file copies it. */
const structFile = (f: File): Uint8Array => {
  const out = allocBytes(STRUCT_FILE.size)
  const view = viewOf(out)
  const b = out.byteOffset
  view.setBigInt64(b + F.f_offset!, BigInt.asIntN(64, f.offset), true)
  view.setBigUint64(b + F.f_ops!, OPS[f.ops.kind], true)
  view.setBigUint64(b + F.f_data!, addressOf(f.vnode ?? f.ops), true)
  view.setInt32(b + F.f_flag!, f.flag, true)
  view.setUint32(b + F.f_type!, DTYPE[f.ops.kind], true)
  view.setUint32(b + F.f_count!, f.refs, true)
  return out
}

export const kernFile: SysctlFunc = Effect.fnUntraced(
  function*(req, _node, name, at) {
    if (name.length !== at) return yield* sysErr(Errno.EINVAL)
    const files = openFiles(liveProcs(req.ctx.kernel.procs), true)
    if (req.oldp === 0n) {
      req.oldlen = BigInt(FILEHEAD_SIZE + (files.length + KERN_FILESLOP) * STRUCT_FILE.size)
      return
    }
    if (req.oldlen < BigInt(FILEHEAD_SIZE)) {
      req.oldlen = 0n
      return
    }
    const head = allocBytes(FILEHEAD_SIZE)
    viewOf(head).setBigUint64(head.byteOffset, FILEHEAD, true)
    yield* copyout(req.ctx, req.oldp, head)
    let dp = req.oldp + BigInt(FILEHEAD_SIZE)
    let left = req.oldlen - BigInt(FILEHEAD_SIZE)
    for (const o of files) {
      if (left < BigInt(STRUCT_FILE.size)) {
        req.oldlen = dp - req.oldp
        return yield* sysErr(Errno.ENOMEM)
      }
      yield* copyout(req.ctx, dp, structFile(o.file))
      dp += BigInt(STRUCT_FILE.size)
      left -= BigInt(STRUCT_FILE.size)
    }
    req.oldlen = dp - req.oldp
  })
