/**
 * Sessions and process groups (struct session, struct pgrp). A process is
 * in one group, a group in one session. Session 0 with group 0 is the
 * kernel's own: init and every new guest are in it, and it has no leader.
 */
import { limits } from "@sysproxy/protocol/netbsd"
import type { Proc } from "./Proc.ts"

export class Session {
  readonly sid: number
  /** The process that made it with setsid, until that process exits (session 0 has none). */
  leader: Proc | undefined
  /** s_login (__setlogin): MAXLOGNAME bytes, NUL-padded, without a NUL when full. */
  login = new Uint8Array(limits.MAXLOGNAME)
  /** Groups of this session (s_count): the session goes when the last one does. */
  groups = 0

  constructor(sid: number, leader: Proc | undefined) {
    this.sid = sid
    this.leader = leader
  }
}

export class ProcessGroup {
  readonly id: number
  readonly session: Session
  readonly members = new Set<Proc>()

  constructor(id: number, session: Session) {
    this.id = id
    this.session = session
  }
}
