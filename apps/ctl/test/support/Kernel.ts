/**
 * Set-ups the tool tests need that the client has no typed call for:
 * a second tmpfs mounted on a directory (so a rename crosses mounts), and
 * whether the server's kernel has a syscall yet (for tests of tools whose
 * kernel side another change brings: they skip, saying why, until then).
 */
import { type SysproxyProcess } from "@sysproxy/client"
import { SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"

/** struct tmpfs_args, version 1, for a root directory of mode 0777. */
const tmpfsArgs = () => {
  const bytes = new Uint8Array(40)
  const v = new DataView(bytes.buffer)
  v.setInt32(0, 1, true)
  v.setUint32(32, 0o777, true)
  return bytes
}

/** Mounts a fresh tmpfs on the directory `dir` (made first). */
export const mountTmpfs = (c: SysproxyProcess, dir: string) =>
  Effect.gen(function*() {
    yield* c.mkdir(dir)
    yield* c.withBuffers((b) => c.syscall(SYS.__mount50, [b.string("tmpfs"), b.string(dir), 0, b.alloc(tmpfsArgs()), 40]))
  })

/**
 * Whether the kernel implements `sysnum`: false only for ENOSYS (any
 * other answer, an errno included, means it is there). `args` should be
 * harmless ones.
 */
export const implemented = (c: SysproxyProcess, sysnum: number, args: ReadonlyArray<number | bigint> = []) =>
  c.syscall(sysnum, args).pipe(
    Effect.as(true),
    Effect.catchTag("SyscallError", (e) => Effect.succeed(e.code !== "ENOSYS"))
  )

/** The syscalls --uid/--gid need (issue 14's credentials). */
export const hasCredentials = (c: SysproxyProcess) => implemented(c, SYS.setgid, [0])

/** The syscalls df needs (statvfs1, getvfsstat). */
export const hasStatvfs = (c: SysproxyProcess) => implemented(c, SYS.getvfsstat, [0n, 0, 2])
