/**
 * modctl(2) (sys_module.c), the superuser's only (EPERM for anything
 * else, whatever the command). The kernel's modules are the ones built
 * into it: MODCTL_STAT lists them (modstat(8)); loading one that is there
 * is EEXIST, and this kernel loads no module files: a path that names
 * nothing is ENOENT, anything else ENOEXEC; unloading a built-in module
 * (tmpfs, which the root file system uses) is EBUSY, an unknown one ENOENT; MODCTL_EXISTS says manual and
 * automatic loading exist; other commands are EINVAL.
 */
import { Errno, limits, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { requireRoot } from "../kauth/Cred.ts"
import { sysErr } from "../kern/SysErr.ts"
import { copyin, copyinString, copyout, type SyscallContext } from "../kern/SyscallContext.ts"
import { AT_FDCWD, nodeAt } from "../vfs/At.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

const MODCTL_LOAD = 0
const MODCTL_UNLOAD = 1
const MODCTL_STAT = 2
const MODCTL_EXISTS = 3

/** MAXMODNAME and MAXMODDEPS (sys/module.h). */
const MAXMODNAME = 32
const MAXMODDEPS = 10
/** sizeof(modstat_t): name, required list, address, source, class, size, refcnt, 4 spare. */
export const MODSTAT_SIZE = 392
const MS_ADDR = MAXMODNAME * (1 + MAXMODDEPS)
/** MODULE_SOURCE_KERNEL, MODULE_CLASS_VFS. */
const SOURCE_KERNEL = 0
const CLASS_VFS = 2
/** sizeof(struct modctl_load): ml_filename, ml_flags, ml_props, ml_propslen. */
const MODCTL_LOAD_SIZE = 32

interface Module {
  readonly name: string
  readonly cls: number
}

/** What this kernel has built in: tmpfs, in use as long as the root file system is mounted (always). */
const BUILTIN: ReadonlyArray<Module> = [{ name: "tmpfs", cls: CLASS_VFS }]

const encodeModstat = (m: Module): Uint8Array => {
  const bytes = new Uint8Array(MODSTAT_SIZE)
  const v = new DataView(bytes.buffer)
  for (let i = 0; i < m.name.length && i < MAXMODNAME - 1; i++) bytes[i] = m.name.charCodeAt(i) & 0xff
  v.setInt32(MS_ADDR + 8, SOURCE_KERNEL, true)
  v.setInt32(MS_ADDR + 12, m.cls, true)
  return bytes
}


/** MODCTL_STAT: a struct iovec names the buffer; its length comes back as what all of them take. */
const stat = Effect.fnUntraced(
  function*(ctx: SyscallContext, iovPtr: bigint) {
    const iov = new DataView((yield* copyin(ctx, iovPtr, 16)).slice().buffer)
    const base = iov.getBigUint64(0, true)
    const room = iov.getBigUint64(8, true)
    const all = new Uint8Array(BUILTIN.length * MODSTAT_SIZE)
    BUILTIN.forEach((m, i) => all.set(encodeModstat(m), i * MODSTAT_SIZE))
    const n = Number(room < BigInt(all.length) ? room : BigInt(all.length))
    if (n > 0) yield* copyout(ctx, base, all.subarray(0, n))
    const len = new Uint8Array(8)
    new DataView(len.buffer).setBigUint64(0, BigInt(all.length), true)
    yield* copyout(ctx, iovPtr + 8n, len)
  })

/** MODCTL_LOAD: a name is a built-in module (EEXIST) or a module file to look for; no file is one. */
const load = Effect.fnUntraced(
  function*(ctx: SyscallContext, argPtr: bigint) {
    const ml = new DataView((yield* copyin(ctx, argPtr, MODCTL_LOAD_SIZE)).slice().buffer)
    const name = yield* copyinString(ctx, ml.getBigUint64(0, true), limits.MAXPATHLEN)
    if (!name.includes("/")) {
      if (BUILTIN.some((m) => m.name === name)) return yield* sysErr(Errno.EEXIST)
      return yield* sysErr(Errno.ENOENT)
    }
    yield* ctx.kernel.vfs.exclusive(nodeAt(ctx, AT_FDCWD, name, true))
    return yield* sysErr(Errno.ENOEXEC)
  })

/** MODCTL_UNLOAD */
const unload = Effect.fnUntraced(
  function*(ctx: SyscallContext, namePtr: bigint) {
    const name = yield* copyinString(ctx, namePtr, MAXMODNAME)
    return yield* sysErr(BUILTIN.some((b) => b.name === name) ? Errno.EBUSY : Errno.ENOENT)
  })

/** modctl(cmd, arg) */
const modctl: SyscallImpl = Effect.fnUntraced(
  function*(ctx) {
    yield* requireRoot(ctx.proc)
    const arg = ctx.args.ptr(1)
    switch (ctx.args.int(0)) {
      case MODCTL_LOAD:
        return yield* load(ctx, arg)
      case MODCTL_UNLOAD:
        return yield* unload(ctx, arg)
      case MODCTL_STAT:
        return yield* stat(ctx, arg)
      case MODCTL_EXISTS:
        return arg <= 1n ? undefined : yield* sysErr(Errno.EINVAL)
      default:
        return yield* sysErr(Errno.EINVAL)
    }
  })

export const family: SyscallFamily = [[SYS.modctl, modctl]]
