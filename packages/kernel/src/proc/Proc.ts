/**
 * A kernel process: identity, credentials, its descriptor table, its
 * working directory and the client it is served to.
 */
import type { ProcessHandle, UserMemoryService } from "@sysproxy/hypervisor"
import type { FileTable } from "../fd/FileTable.ts"
import { KnoteList } from "../kqueue/Knote.ts"
import type { Vnode } from "../vfs/Vnode.ts"
import type { Lwp } from "./Lwp.ts"

export class Proc implements ProcessHandle {
  /** Syscall lwps now in the kernel (the main lwp is implicit). */
  readonly lwps = new Set<Lwp>()
  /** lwpExit was ordered and execNotify has not come yet: new lwps are refused. */
  exiting = false
  released = false
  uid = 0
  gid = 0
  umask = 0o022
  sid: number
  pgid: number
  /** Knotes watching the process (EVFILT_PROC): told of its fork, exec and exit. */
  readonly knotes = new KnoteList()

  readonly pid: number
  ppid: number
  comm: string
  fds: FileTable
  cwd: Vnode
  /** Reaches the process's client outside its own syscalls; none for init. */
  readonly client: UserMemoryService | undefined

  constructor(
    pid: number,
    ppid: number,
    comm: string,
    fds: FileTable,
    cwd: Vnode,
    client: UserMemoryService | undefined
  ) {
    this.pid = pid
    this.ppid = ppid
    this.comm = comm
    this.fds = fds
    this.cwd = cwd
    this.client = client
    this.sid = pid
    this.pgid = pid
  }

  /** kinfo_proc2 nlwps: the main lwp plus every syscall lwp in the kernel. */
  get nlwps(): number {
    return 1 + this.lwps.size
  }
}
