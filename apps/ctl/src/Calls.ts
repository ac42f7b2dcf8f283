/**
 * The syscalls the tools need beyond the client's typed ones (ownership,
 * times, hard links, credentials, file system statistics), over its raw
 * `syscall` and `withBuffers`; an errno is a SyscallError as for the rest.
 */
import type { CallError, SysproxyProcess } from "@sysproxy/client"
import { Structs, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"

const GID_SIZE = 4
/** NetBSD's NGROUPS_MAX: the most groups a process has. */
const NGROUPS = 16

const number = (c: SysproxyProcess, sysnum: number) => Effect.map(c.syscall(sysnum), (r) => Number(r.retval0))

/** chown(2), or lchown(2) for `follow` false; -1 leaves an id as it is. */
export const chown = (c: SysproxyProcess, path: string, uid: number, gid: number, follow = true) =>
  c.withBuffers((b) => c.syscall(follow ? SYS.chown : SYS.lchown, [b.string(path), uid, gid]))

/** utimes(2) with a null times pointer: both times to now. */
export const touchTimes = (c: SysproxyProcess, path: string) =>
  c.withBuffers((b) => c.syscall(SYS.__utimes50, [b.string(path), 0n]))

/** utimes(2) to given times (seconds and microseconds each), as cp -p keeps them. */
export const setTimes = (
  c: SysproxyProcess,
  path: string,
  atime: { readonly sec: bigint | number; readonly nsec: number },
  mtime: { readonly sec: bigint | number; readonly nsec: number }
) =>
  c.withBuffers((b) => {
    const tv = new DataView(new ArrayBuffer(32))
    tv.setBigInt64(0, BigInt(atime.sec), true)
    tv.setBigInt64(8, BigInt(Math.floor(atime.nsec / 1000)), true)
    tv.setBigInt64(16, BigInt(mtime.sec), true)
    tv.setBigInt64(24, BigInt(Math.floor(mtime.nsec / 1000)), true)
    return c.syscall(SYS.__utimes50, [b.string(path), b.alloc(new Uint8Array(tv.buffer))])
  })

/** link(2): a second name for `path`. */
export const link = (c: SysproxyProcess, path: string, newPath: string) =>
  c.withBuffers((b) => c.syscall(SYS.link, [b.string(path), b.string(newPath)]))

export interface Ids {
  readonly uid: number
  readonly euid: number
  readonly gid: number
  readonly egid: number
}

export const ids = (c: SysproxyProcess): Effect.Effect<Ids, CallError> =>
  Effect.all({
    uid: number(c, SYS.getuid),
    euid: number(c, SYS.geteuid),
    gid: number(c, SYS.getgid),
    egid: number(c, SYS.getegid)
  })

/** getgroups(2): the supplementary groups. */
export const groups = (c: SysproxyProcess): Effect.Effect<Array<number>, CallError> =>
  c.withBuffers((b) => {
    const out = b.alloc(NGROUPS * GID_SIZE)
    return Effect.map(c.syscall(SYS.getgroups, [NGROUPS, out]), (r) => {
      const bytes = b.read(out, Number(r.retval0) * GID_SIZE)
      const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
      return Array.from({ length: Number(r.retval0) }, (_, i) => view.getUint32(i * GID_SIZE, true))
    })
  })

/** The process's umask, read as setmode(3) reads it: umask(2) to 0 and straight back. */
export const currentUmask = (c: SysproxyProcess): Effect.Effect<number, CallError> =>
  Effect.gen(function*() {
    const old = Number((yield* c.syscall(SYS.umask, [0])).retval0)
    yield* c.syscall(SYS.umask, [old])
    return old
  })

export const setgid = (c: SysproxyProcess, gid: number) => c.syscall(SYS.setgid, [gid])
export const setuid = (c: SysproxyProcess, uid: number) => c.syscall(SYS.setuid, [uid])

export const setgroups = (c: SysproxyProcess, gids: ReadonlyArray<number>) =>
  c.withBuffers((b) => {
    const list = new DataView(new ArrayBuffer(Math.max(1, gids.length) * GID_SIZE))
    gids.forEach((g, i) => list.setUint32(i * GID_SIZE, g, true))
    return c.syscall(SYS.setgroups, [gids.length, b.alloc(new Uint8Array(list.buffer))])
  })

/** What df shows of one mounted file system (struct statvfs). */
export interface FsStats {
  /** f_flag: the mount's visible flags (MNT_LOCAL, MNT_IGNORE ...). */
  readonly flag: number
  readonly frsize: number
  readonly blocks: number
  readonly bfree: number
  readonly bavail: number
  /** Blocks kept for the superuser. */
  readonly bresvd: number
  readonly fstypename: string
  readonly mntonname: string
  readonly mntfromname: string
}

const STATVFS = Structs.statvfs
const at = (name: string) => STATVFS.fields.find((f) => f.name === name)!.offset

const cString = (bytes: Uint8Array, offset: number, size: number) => {
  const field = bytes.subarray(offset, offset + size)
  const nul = field.indexOf(0)
  return new TextDecoder().decode(nul === -1 ? field : field.subarray(0, nul))
}

export const decodeStatvfs = (bytes: Uint8Array, base = 0): FsStats => {
  const view = new DataView(bytes.buffer, bytes.byteOffset + base, STATVFS.size)
  const u64 = (name: string) => Number(view.getBigUint64(at(name), true))
  const record = bytes.subarray(base, base + STATVFS.size)
  return {
    flag: u64("f_flag"),
    frsize: u64("f_frsize"),
    blocks: u64("f_blocks"),
    bfree: u64("f_bfree"),
    bavail: u64("f_bavail"),
    bresvd: u64("f_bresvd"),
    fstypename: cString(record, at("f_fstypename"), 32),
    mntonname: cString(record, at("f_mntonname"), 1024),
    mntfromname: cString(record, at("f_mntfromname"), 1024)
  }
}

/** statvfs1(2) of the file system `path` is on. */
export const statvfs = (c: SysproxyProcess, path: string, flags: number): Effect.Effect<FsStats, CallError> =>
  c.withBuffers((b) => {
    const out = b.alloc(STATVFS.size)
    return Effect.map(c.syscall(SYS.statvfs1, [b.string(path), out, flags]), () => decodeStatvfs(b.read(out, STATVFS.size)))
  })

/** getvfsstat(2): every mounted file system (asking how many first). */
export const mounted = (c: SysproxyProcess, flags: number): Effect.Effect<Array<FsStats>, CallError> =>
  Effect.gen(function*() {
    const count = Number((yield* c.syscall(SYS.getvfsstat, [0n, 0, flags])).retval0)
    return yield* c.withBuffers((b) => {
      const size = Math.max(1, count) * STATVFS.size
      const out = b.alloc(size)
      return Effect.map(c.syscall(SYS.getvfsstat, [out, size, flags]), (r) => {
        const bytes = b.read(out, size)
        return Array.from({ length: Number(r.retval0) }, (_, i) => decodeStatvfs(bytes, i * STATVFS.size))
      })
    })
  })
