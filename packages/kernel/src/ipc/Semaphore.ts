/**
 * POSIX semaphores (NetBSD's ksem, uipc_sem.c). A semaphore is held
 * through descriptors: its id is the descriptor number of an open file on
 * it. Anonymous ones (sem_init) go with their last file; named ones (a
 * "/name" of at most 14 bytes, in one list per kernel) stay until
 * unlinked and no file is left. At most KSEM_MAX named ones.
 *
 * The file reads back the name, fstat shows the mode (S_IFLNK for a named
 * one, S_IFREG otherwise), owner, value as st_size and the references as
 * st_nlink; writes are EBADF.
 */
import { Errno, modeBits } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { StatInfo } from "../abi/Stat.ts"
import { File, type FileOps, FREAD, FWRITE } from "../fd/File.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import type { KernelState } from "../KernelState.ts"
import type { Lwp } from "../proc/Lwp.ts"
import { WaitQueue } from "../proc/Sleep.ts"

/** SEM_MAX_NAMELEN, SEM_VALUE_MAX, KSEM_MAX (kern.posix.semmax). */
export const SEM_MAX_NAMELEN = 14
export const SEM_VALUE_MAX = 0xffff_ffff
export const KSEM_MAX = 128

export class Semaphore {
  value: number
  /** Open files on it (ks_ref). */
  refs = 1
  unlinked = false
  readonly waiters = new WaitQueue()
  readonly name: string | undefined
  readonly mode: number
  readonly uid: number
  readonly gid: number

  constructor(name: string | undefined, mode: number, value: number, cred: { readonly uid: number; readonly gid: number }) {
    this.name = name
    this.mode = mode
    this.value = value
    this.uid = cred.uid
    this.gid = cred.gid
  }
}

/** The named semaphores of each kernel. */
const named = new WeakMap<KernelState, Map<string, Semaphore>>()

export const namedSemaphores = (kernel: KernelState): Map<string, Semaphore> => {
  let m = named.get(kernel)
  if (m === undefined) {
    m = new Map()
    named.set(kernel, m)
  }
  return m
}

/** ksem_create's checks: ENFILE at the limit; a name must be "/" and at least one more byte, no other "/" (EINVAL). */
export const checkCreate = (kernel: KernelState, name: string | undefined): Effect.Effect<void, SysErr> => {
  if (namedSemaphores(kernel).size >= KSEM_MAX) return sysErr(Errno.ENFILE)
  if (name === undefined) return Effect.void
  if (name.length > SEM_MAX_NAMELEN) return sysErr(Errno.ENAMETOOLONG)
  if (!name.startsWith("/") || name.length < 2 || name.indexOf("/", 1) >= 0) return sysErr(Errno.EINVAL)
  return Effect.void
}

/** ksem_perm: the superuser, or write permission for the caller's uid, gid or anyone (EACCES). */
export const checkPerm = (s: Semaphore, cred: { readonly uid: number; readonly gid: number }): Effect.Effect<void, SysErr> =>
  cred.uid === 0 || (cred.uid === s.uid && (s.mode & modeBits.S_IWUSR) !== 0) ||
    (cred.gid === s.gid && (s.mode & modeBits.S_IWGRP) !== 0) || (s.mode & modeBits.S_IWOTH) !== 0
    ? Effect.void
    : sysErr(Errno.EACCES)

const semaphores = new WeakMap<File, { readonly sem: Semaphore; readonly kernel: KernelState }>()

/** The semaphore an open file is on, if it is one. */
export const semaphoreOf = (file: File): Semaphore | undefined => semaphores.get(file)?.sem

const nowTime = (kernel: KernelState | undefined) => {
  const ns = kernel?.clock.realtimeNs() ?? 0n
  return { sec: ns / 1_000_000_000n, nsec: Number(ns % 1_000_000_000n) }
}

const semOps: FileOps = {
  kind: "sem",
  seekable: false,
  read: (_ctx, file, len) =>
    Effect.sync(() => {
      const name = semaphoreOf(file)?.name ?? ""
      const bytes = new Uint8Array(Math.min(len, name.length))
      for (let i = 0; i < bytes.length; i++) bytes[i] = name.charCodeAt(i) & 0xff
      return bytes
    }),
  write: () => sysErr(Errno.EBADF),
  // fbadop_ioctl for every command; fnullop_fcntl takes F_SETFL
  ioctl: () => sysErr(Errno.EOPNOTSUPP),
  refuses: { setfl: 0, ioctl: Errno.EOPNOTSUPP },
  stat: (file): StatInfo => {
    const s = semaphoreOf(file)
    const t = nowTime(semaphores.get(file)?.kernel)
    const size = s?.value ?? 0
    return {
      dev: 0,
      ino: 0,
      mode: (s?.mode ?? 0) | (s?.name !== undefined ? modeBits.S_IFLNK : modeBits.S_IFREG),
      nlink: s?.refs ?? 0,
      uid: s?.uid ?? 0,
      gid: s?.gid ?? 0,
      rdev: 0,
      size,
      blocks: size > 0 ? 1 : 0,
      blksize: 4096,
      atime: t,
      mtime: t,
      ctime: t,
      birthtime: t
    }
  },
  close: (file) =>
    Effect.sync(() => {
      const entry = semaphores.get(file)
      if (entry === undefined) return
      const s = entry.sem
      // the last file: an anonymous or unlinked semaphore is gone (a named one stays listed)
      if (--s.refs === 0 && (s.unlinked || s.name === undefined)) s.waiters.wakeAll()
    })
}

/** A new open file on `sem` (the caller counted its reference). */
export const semaphoreFile = (kernel: KernelState, sem: Semaphore): File => {
  const file = new File(semOps, FREAD | FWRITE, undefined)
  semaphores.set(file, { sem, kernel })
  return file
}

/**
 * do_ksem_wait: takes one, sleeping while there is none (EAGAIN for
 * trywait; ETIMEDOUT once `deadline`, realtime nanoseconds, has passed;
 * EINTR when the lwp is ordered out).
 */
export const waitSemaphore: (kernel: KernelState, lwp: Lwp, s: Semaphore, mode: "try" | "wait", deadline?: bigint) => Effect.Effect<void, SysErr> = Effect.fnUntraced(
  function*(kernel, lwp, s, mode, deadline) {
    while (s.value === 0) {
      if (mode === "try") return yield* sysErr(Errno.EAGAIN)
      let timeout: number | undefined
      if (deadline !== undefined) {
        const left = deadline - kernel.clock.realtimeNs()
        if (left <= 0n) return yield* sysErr(Errno.ETIMEDOUT)
        timeout = Number((left + 999_999n) / 1_000_000n)
      }
      const why = yield* s.waiters.sleep(lwp, timeout, () => s.value > 0)
      if (why === "interrupted") return yield* sysErr(Errno.EINTR)
      if (why === "timeout" && s.value === 0) return yield* sysErr(Errno.ETIMEDOUT)
    }
    s.value--
  })

/** _ksem_post: EOVERFLOW at SEM_VALUE_MAX. */
export const postSemaphore = (s: Semaphore): Effect.Effect<void, SysErr> =>
  Effect.suspend(() => {
    if (s.value === SEM_VALUE_MAX) return sysErr(Errno.EOVERFLOW)
    s.value++
    s.waiters.wakeAll()
    return Effect.void
  })
