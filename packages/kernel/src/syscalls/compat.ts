/**
 * Table entries whose code lives in a kernel module this rump kernel does
 * not have: the compat_50_* calls of old binaries (module "compat") and
 * nfssvc (module "nfsserver"). NetBSD sends them to sys_nomodule, which
 * finds no module to load and falls into sys_nosys: SIGSYS is posted to
 * the calling process (a RAISE to its client, as kill sends one; an
 * unprepared program dies of it) and the call answers ENOSYS.
 *
 * Numbers that are in no table at all answer plain ENOSYS (rump_enosys,
 * no signal) in the dispatcher, and are counted there.
 */
import { Errno, signals, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr } from "../kern/SysErr.ts"
import type { SyscallFamily, SyscallImpl } from "./SyscallImpl.ts"

/** sys_nosys: SIGSYS to the caller, then ENOSYS. */
const nomodule: SyscallImpl = (ctx) =>
  Effect.andThen(
    ctx.proc.client === undefined ? Effect.void : ctx.proc.client.raise(signals.SIGSYS),
    sysErr(Errno.ENOSYS)
  )

export const family: SyscallFamily = [
  SYS.compat_50_mknod,
  SYS.compat_50_select,
  SYS.compat_50_utimes,
  SYS.compat_50_futimes,
  SYS.compat_50_lutimes,
  SYS.compat_50_kevent,
  SYS.compat_50_pselect,
  SYS.compat_50_pollts,
  SYS.compat_50___stat30,
  SYS.compat_50___fstat30,
  SYS.compat_50___lstat30,
  SYS.compat_50___fhstat40,
  SYS.nfssvc
].map((number) => [number, nomodule] as const)
