/**
 * A host call's failure: the host's error code (Linux errno names, as
 * libuv reports them) and the NetBSD errno a syscall answers for it. A
 * full disk, a quota, an I/O error reach the client as themselves (ENOSPC,
 * EDQUOT, EIO); the few Linux codes NetBSD does not have become the NetBSD
 * errno that means the same, and anything unknown is EIO.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Data } from "effect"
import { SysErr } from "../../kern/SysErr.ts"

export class HostError extends Data.TaggedError("HostError")<{
  /** The NetBSD errno for it. */
  readonly errno: number
  /** The host's code ("ENOSPC"). */
  readonly code: string
  /** The host call that failed ("write", "open"). */
  readonly syscall: string
  readonly message: string
}> {
  /** The same failure as a syscall's. */
  get sysErr(): SysErr {
    return new SysErr({ errno: this.errno })
  }
}

/** Linux codes NetBSD names otherwise (or not at all). */
const LINUX_ONLY: Readonly<Record<string, number>> = {
  // one number on Linux; a file system refusing an operation is EOPNOTSUPP on NetBSD
  ENOTSUP: Errno.EOPNOTSUPP,
  // a missing extended attribute
  ENODATA: Errno.ENOATTR,
  // file system corruption and bad checksums (ext4, xfs), media gone
  EUCLEAN: Errno.EIO,
  EBADMSG: Errno.EIO,
  EREMOTEIO: Errno.EIO,
  ENOMEDIUM: Errno.EIO,
  EMEDIUMTYPE: Errno.EIO,
  // libuv's own
  EOF: Errno.EIO,
  ECHARSET: Errno.EILSEQ
}

const NETBSD: Readonly<Record<string, number>> = Errno

/** The NetBSD errno for a host error code: the same name where NetBSD has it, EIO when nothing fits. */
export const netbsdErrno = (code: string): number => LINUX_ONLY[code] ?? NETBSD[code] ?? Errno.EIO

/** A system error as node:fs reports one (an errno and its code); anything else thrown is a defect of ours. */
export const isSystemError = (e: unknown): e is NodeJS.ErrnoException & { readonly code: string } =>
  e instanceof Error && typeof (e as NodeJS.ErrnoException).code === "string" &&
  typeof (e as NodeJS.ErrnoException).errno === "number"

export const hostError = (code: string, syscall: string): HostError =>
  new HostError({ errno: netbsdErrno(code), code, syscall, message: `${syscall}: ${code}` })
