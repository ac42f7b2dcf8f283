/**
 * The descriptors family of syscalls: reading and writing through open
 * files, duplicating and closing descriptors, fcntl, lseek, ioctl and sync,
 * advisory locks (flock, fcntl's record locks), and advice on and
 * allocation of a file's space.
 * Everything goes through FileOps and the FileTable, whatever the file is.
 */
import { SYS } from "@sysproxy/protocol/netbsd"
import { fdatasync, fsync, fsyncRange, ioctl, lseek } from "./descriptors/Control.ts"
import { close, dup, dup2, dup3 } from "./descriptors/Dup.ts"
import { fcntl } from "./descriptors/Fcntl.ts"
import { flock } from "./descriptors/Lock.ts"
import { fdiscard, posixFadvise, posixFallocate } from "./descriptors/Space.ts"
import { pread, preadv, pwrite, pwritev, read, readv, write, writev } from "./descriptors/Io.ts"
import type { SyscallFamily } from "./SyscallImpl.ts"

export const family: SyscallFamily = [
  [SYS.read, read],
  [SYS.write, write],
  [SYS.readv, readv],
  [SYS.writev, writev],
  [SYS.pread, pread],
  [SYS.pwrite, pwrite],
  [SYS.preadv, preadv],
  [SYS.pwritev, pwritev],
  [SYS.close, close],
  [SYS.dup, dup],
  [SYS.dup2, dup2],
  [SYS.dup3, dup3],
  [SYS.fcntl, fcntl],
  [SYS.lseek, lseek],
  [SYS.ioctl, ioctl],
  [SYS.fsync, fsync],
  [SYS.fdatasync, fdatasync],
  [SYS.flock, flock],
  [SYS.fsync_range, fsyncRange],
  [SYS.__posix_fadvise50, posixFadvise],
  [SYS.posix_fallocate, posixFallocate],
  [SYS.fdiscard, fdiscard]
]
