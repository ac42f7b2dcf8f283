/**
 * Credentials, as NetBSD's kauth(9) has them (struct kauth_cred): real,
 * effective and saved uid and gid and the supplementary groups, plus the
 * superuser test of secmodel suser. Every subsystem that refuses a
 * non-root caller asks here, so the rule lives in one place.
 *
 * A Cred never changes once made: a fork child shares its parent's, and a
 * set*id call gives the process a new one (kauth_cred_dup, then swap), so
 * sharing is copy-on-write by construction.
 */
import { Errno, limits } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"

/** Supplementary groups a credential holds at most (NGROUPS). */
export const NGROUPS = limits.NGROUPS

/** uid_t/gid_t -1: "leave it as it is" for the set*id and chown calls. */
export const NO_ID = 0xffff_ffff

/** Whatever carries credentials: a process (its current ones) or a Cred itself. */
export interface CredHolder {
  readonly cred: Cred
}

export class Cred implements CredHolder {
  /** Real uid (kauth_cred_getuid). */
  readonly uid: number
  readonly euid: number
  readonly svuid: number
  /** Real gid (kauth_cred_getgid). */
  readonly gid: number
  readonly egid: number
  readonly svgid: number
  readonly groups: ReadonlyArray<number>

  constructor(ids: CredIds) {
    this.uid = ids.uid
    this.euid = ids.euid
    this.svuid = ids.svuid
    this.gid = ids.gid
    this.egid = ids.egid
    this.svgid = ids.svgid
    this.groups = Object.freeze([...ids.groups])
  }

  /** uid and gid as real, effective and saved ids (what a new guest gets; no groups, as kauth_cred_alloc). */
  static of(uid: number, gid: number, groups: ReadonlyArray<number> = []): Cred {
    return new Cred({ uid, euid: uid, svuid: uid, gid, egid: gid, svgid: gid, groups })
  }

  /** A copy with some ids changed (kauth_cred_dup and the setters). */
  with(changes: Partial<CredIds>): Cred {
    return new Cred({ ...this, ...changes })
  }

  /** A Cred is its own holder, so a check takes a process or a credential alike. */
  get cred(): Cred {
    return this
  }

  /** kauth_cred_ismember_gid: the supplementary groups only (not the egid). */
  isMember(gid: number): boolean {
    return this.groups.includes(gid)
  }
}

/** The ids a Cred is made of. */
export type CredIds = Pick<Cred, "uid" | "euid" | "svuid" | "gid" | "egid" | "svgid" | "groups">

/** The superuser's credentials (cred0: what init and, by default, every guest have). */
export const ROOT_CRED = Cred.of(0, 0)

/** secmodel suser: the effective uid 0 may do what the check guards. */
export const isRoot = (who: CredHolder): boolean => who.cred.euid === 0

/** EPERM unless `who` is the superuser (reboot, mount, settimeofday, sysctl writes, ...). */
export const requireRoot = (who: CredHolder): Effect.Effect<void, SysErr> =>
  isRoot(who) ? Effect.void : sysErr(Errno.EPERM)

/** kauth_cred_uidmatch: a real or effective uid of one is a real or effective uid of the other. */
export const uidMatch = (a: Cred, b: Cred): boolean =>
  a.uid === b.uid || a.euid === b.uid || a.uid === b.euid || a.euid === b.euid

/**
 * proc_uidmatch (kern_proc.c), the check the corename, rlimit and stop-flag
 * controls make of a caller that is not the superuser: its real uid is the
 * target's real and saved uid, the target's real gid is its saved gid, and
 * that gid is one of the caller's supplementary groups.
 */
export const procUidMatch = (caller: Cred, target: Cred): boolean =>
  caller.uid === target.uid && caller.uid === target.svuid && target.gid === target.svgid &&
  caller.isMember(target.gid)
