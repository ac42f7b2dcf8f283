/**
 * Set-ups the tool tests need that the client has no typed call for:
 * a second tmpfs mounted on a directory (so a rename crosses mounts), and
 * whether the server's kernel has a syscall yet, from its own syscall
 * table (for tests of tools whose kernel side another change brings: they
 * are skipped, their names saying why, while the call answers ENOSYS).
 */
import { type SysproxyProcess } from "@sysproxy/client"
import { SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { syscallTable } from "../../../../packages/kernel/src/syscalls/Table.ts"

/** struct tmpfs_args, version 1, for a root directory of mode 0777, at most `sizeMax` bytes (0: no limit). */
const tmpfsArgs = (sizeMax: number) => {
  const bytes = new Uint8Array(40)
  const v = new DataView(bytes.buffer)
  v.setInt32(0, 1, true)
  v.setBigInt64(16, BigInt(sizeMax), true)
  v.setUint32(32, 0o777, true)
  return bytes
}

/** Mounts a fresh tmpfs on the directory `dir` (made first), of at most `sizeMax` bytes of data. */
export const mountTmpfs = (c: SysproxyProcess, dir: string, sizeMax = 0) =>
  Effect.gen(function*() {
    yield* c.mkdir(dir)
    yield* c.withBuffers((b) => c.syscall(SYS.__mount50, [b.string("tmpfs"), b.string(dir), 0, b.alloc(tmpfsArgs(sizeMax)), 40]))
  })

/** Whether the kernel implements `sysnum`: a number missing from its table answers ENOSYS. */
export const kernelHas = (sysnum: number): boolean => syscallTable.has(sysnum)

/** The calls --uid/--gid need (issue 14's credentials, built alongside). */
export const HAS_CREDENTIALS = [SYS.setgid, SYS.setgroups, SYS.setuid].every(kernelHas)

/** The calls df needs (statvfs1, getvfsstat, built alongside). */
export const HAS_STATVFS = [SYS.statvfs1, SYS.getvfsstat].every(kernelHas)
