/**
 * A kernel process: identity, credentials, process group, resource limits,
 * its descriptor table, its working and root directories and the client it
 * is served to.
 */
import type { ProcessHandle, UserMemoryService } from "@sysproxy/hypervisor"
import type { FileTable } from "../fd/FileTable.ts"
import type { Cred, CredHolder } from "../kauth/Cred.ts"
import type { Trace } from "../ktrace/Ktrace.ts"
import type { Directory, Vnode } from "../vfs/Vnode.ts"
import type { Limits } from "./Limits.ts"
import { KnoteList } from "../kqueue/Knote.ts"
import { LinkedSet } from "../kern/LinkedSet.ts"
import type { Lwp } from "./Lwp.ts"
import type { ProcessGroup } from "./ProcessGroup.ts"

/** What a new process starts with. */
export interface ProcInit {
  readonly pid: number
  readonly ppid: number
  readonly comm: string
  readonly fds: FileTable
  readonly cwd: Vnode
  readonly client: UserMemoryService | undefined
  readonly cred: Cred
  readonly limits: Limits
  readonly rdir: Directory | undefined
  /** The group it starts in (its parent's, or group 0 for a new guest). */
  readonly pgrp: ProcessGroup
}

export class Proc implements ProcessHandle, CredHolder {
  /** Syscall lwps now in the kernel (the main lwp is implicit); not a Set, see LinkedSet. */
  readonly lwps = new LinkedSet<Lwp>()
  /** lwpExit was ordered and execNotify has not come yet: new lwps are refused. */
  exiting = false
  released = false
  umask = 0o022
  /** Knotes watching the process (EVFILT_PROC): told of its fork, exec and exit. */
  readonly knotes = new KnoteList()

  readonly pid: number
  ppid: number
  comm: string
  fds: FileTable
  cwd: Vnode
  /** Reaches the process's client outside its own syscalls; none for init. */
  readonly client: UserMemoryService | undefined
  /** p_cred: shared with a fork child; a set*id call replaces it, never changes it in place. */
  cred: Cred
  /** p_limit: shared with a fork child; setrlimit replaces it. */
  limits: Limits
  /** cwdi_rdir: the root chroot(2) gave the process; undefined for the file system's own. */
  rdir: Directory | undefined
  /** The process group (and through it the session); setsid and setpgid move it (ProcessGroups). */
  pgrp: ProcessGroup
  /** PK_SUGID: its ids changed (a set*id call, chroot) since it was made; issetugid(2) says so. */
  sugid = false
  /** PK_EXEC: it exec'd, so its parent may no longer move it to another group. */
  execed = false
  /**
   * p_tracep and p_traceflag: where its ktrace records go and which it
   * records (ktrace/Ktrace.ts); undefined when untraced, the one thing the
   * syscall dispatcher looks at.
   */
  trace: Trace | undefined = undefined

  constructor(init: ProcInit) {
    this.pid = init.pid
    this.ppid = init.ppid
    this.comm = init.comm
    this.fds = init.fds
    this.cwd = init.cwd
    this.client = init.client
    this.cred = init.cred
    this.limits = init.limits
    this.rdir = init.rdir
    this.pgrp = init.pgrp
    init.pgrp.members.add(this)
  }

  /** The effective uid: what new files, sockets and pipes are owned by (real, effective, saved: `cred`). */
  get uid(): number {
    return this.cred.euid
  }

  /** The effective gid. */
  get gid(): number {
    return this.cred.egid
  }

  get pgid(): number {
    return this.pgrp.id
  }

  get sid(): number {
    return this.pgrp.session.sid
  }

  /** kinfo_proc2 nlwps: the main lwp plus every syscall lwp in the kernel. */
  get nlwps(): number {
    return 1 + this.lwps.size
  }
}
