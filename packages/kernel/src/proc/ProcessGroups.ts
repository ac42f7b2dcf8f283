/**
 * The kernel's process groups by id (the pgrp half of NetBSD's pid table),
 * and moving processes between them: setsid and setpgid
 * (proc_enterpgrp), fork (the child joins its parent's group) and exit
 * (proc_leavepgrp). A session's first group stays in the table, memberless,
 * while the session lives, so its id is neither handed out as a pid nor
 * made a group again until then. A new process starts in its parent's
 * group (Proc's constructor puts it there).
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import type { Proc } from "./Proc.ts"
import { ProcessGroup, Session } from "./ProcessGroup.ts"

export class ProcessGroups {
  private readonly table = new Map<number, ProcessGroup>()
  /** Group 0 of session 0: the kernel's, never freed. */
  readonly group0: ProcessGroup

  constructor() {
    const session0 = new Session(0, undefined)
    session0.groups = 1
    this.group0 = new ProcessGroup(0, session0)
    this.table.set(0, this.group0)
  }

  /** pgrp_find: the group `id` if it has members. */
  find(id: number): ProcessGroup | undefined {
    const pg = this.table.get(id)
    return pg !== undefined && pg.members.size > 0 ? pg : undefined
  }

  /** Does `id` name a group, memberless or not? Such an id is not a free pid. */
  holds(id: number): boolean {
    return this.table.has(id)
  }

  /** proc_leavepgrp, at exit: the process leaves its group; a session leader leaves its session leaderless. */
  leave(p: Proc): void {
    const session = p.pgrp.session
    if (session.leader === p) session.leader = undefined
    this.remove(p)
  }

  /**
   * proc_enterpgrp: moves process `pid` (the caller or one of its
   * descendants) into group `pgid`, making the group (and with `mksess` a
   * session led by the caller) when it does not exist. 0 or the errno, in
   * NetBSD's order of checks.
   */
  enter(procs: ReadonlyMap<number, Proc>, curp: Proc, pid: number, pgid: number, mksess: boolean): number {
    const existing = this.table.get(pgid)
    let p: Proc
    if (pid !== curp.pid) {
      const target = procs.get(pid)
      if (target === undefined || target.released || !isInferior(procs, target, curp)) return Errno.ESRCH
      if (mksess || target.pgrp.session !== curp.pgrp.session) return Errno.EPERM
      if (existing !== undefined && existing.session !== target.pgrp.session) return Errno.EPERM
      if (target.execed) return Errno.EACCES
      p = target
    } else {
      // setsid may not take a group that exists, its own included
      if (mksess && (curp.pgid === curp.pid || this.find(curp.pid) !== undefined)) return Errno.EPERM
      p = curp
    }
    // a session leader stays where it is (asking for its own group is a no-op)
    if (p.pgrp.session.leader === p) return !mksess && p.pgrp === existing ? 0 : Errno.EPERM
    // a new group is named after the process that goes into it
    if (existing === undefined && pgid !== pid) return Errno.EPERM
    if (mksess && existing !== undefined) return Errno.EPERM
    // a session's memberless first group cannot be joined
    if (existing !== undefined && existing.members.size === 0) return Errno.EPERM
    if (existing === p.pgrp) return 0

    let pg = existing
    if (pg === undefined) {
      const session = mksess ? new Session(p.pid, p) : p.pgrp.session
      if (mksess) session.login.set(p.pgrp.session.login)
      session.groups++
      pg = new ProcessGroup(pgid, session)
      this.table.set(pgid, pg)
    }
    this.remove(p)
    p.pgrp = pg
    pg.members.add(p)
    return 0
  }

  /** Takes `p` out of its group; an empty group goes (pg_delete), and with the last one its session. */
  private remove(p: Proc): void {
    const pg = p.pgrp
    pg.members.delete(p)
    if (pg.members.size > 0 || pg === this.group0) return
    const session = pg.session
    // the session's own group stays while the session does
    if (pg.id !== session.sid) this.table.delete(pg.id)
    if (--session.groups === 0) this.table.delete(session.sid)
  }
}

/** p_inferior: is `p` `q` or one of its descendants? */
const isInferior = (procs: ReadonlyMap<number, Proc>, p: Proc, q: Proc): boolean => {
  for (let cur: Proc | undefined = p; cur !== undefined; cur = procs.get(cur.ppid)) {
    if (cur === q) return true
    if (cur.pid === 0 || cur.ppid === cur.pid) return false
  }
  return false
}
