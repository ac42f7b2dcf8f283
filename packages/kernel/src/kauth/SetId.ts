/**
 * The rules behind the set*id calls (kern_prot.c's do_setresuid and
 * do_setresgid): a non-root caller may only set an id to one of the values
 * the call allows it to copy from (its real, effective or saved id, as the
 * flags say); root may set anything. NO_ID (-1) leaves an id as it is.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { type Cred, isRoot, NO_ID } from "./Cred.ts"

/** May the new real id be the current real (R), effective (E) or saved (S) one, and so on for E and S. */
export const ID_R_EQ_R = 0x001
export const ID_R_EQ_E = 0x002
export const ID_R_EQ_S = 0x004
export const ID_E_EQ_R = 0x010
export const ID_E_EQ_E = 0x020
export const ID_E_EQ_S = 0x040
export const ID_S_EQ_R = 0x100
export const ID_S_EQ_E = 0x200
export const ID_S_EQ_S = 0x400

/** Real, effective and saved values of one kind of id. */
interface Ids {
  readonly r: number
  readonly e: number
  readonly s: number
}

/** Does `want` (not NO_ID) match one of the current ids the flags (R, E, S bits from `shift`) allow? */
const allowed = (want: number, cur: Ids, flags: number, shift: number): boolean =>
  want === NO_ID ||
  ((flags >> shift) & ID_R_EQ_R) !== 0 && want === cur.r ||
  ((flags >> shift) & ID_R_EQ_E) !== 0 && want === cur.e ||
  ((flags >> shift) & ID_R_EQ_S) !== 0 && want === cur.s

const unchanged = (want: number, now: number): boolean => want === NO_ID || want === now

/** The new ids (NO_ID: unchanged), checked: EPERM for a non-root caller asking beyond what `flags` allow. */
const setRes = (cred: Cred, cur: Ids, want: Ids, flags: number): Effect.Effect<Ids | undefined, SysErr> => {
  const permitted = allowed(want.r, cur, flags, 0) && allowed(want.e, cur, flags, 4) && allowed(want.s, cur, flags, 8)
  if (!permitted && !isRoot(cred)) return sysErr(Errno.EPERM)
  if (unchanged(want.r, cur.r) && unchanged(want.e, cur.e) && unchanged(want.s, cur.s)) return Effect.succeed(undefined)
  return Effect.succeed({
    r: want.r === NO_ID ? cur.r : want.r,
    e: want.e === NO_ID ? cur.e : want.e,
    s: want.s === NO_ID ? cur.s : want.s
  })
}

/** do_setresuid: the credentials after the change (the same object when nothing changes). */
export const setResUid = (cred: Cred, r: number, e: number, s: number, flags: number): Effect.Effect<Cred, SysErr> =>
  Effect.map(
    setRes(cred, { r: cred.uid, e: cred.euid, s: cred.svuid }, { r, e, s }, flags),
    (ids) => ids === undefined ? cred : cred.with({ uid: ids.r, euid: ids.e, svuid: ids.s })
  )

/** do_setresgid. */
export const setResGid = (cred: Cred, r: number, e: number, s: number, flags: number): Effect.Effect<Cred, SysErr> =>
  Effect.map(
    setRes(cred, { r: cred.gid, e: cred.egid, s: cred.svgid }, { r, e, s }, flags),
    (ids) => ids === undefined ? cred : cred.with({ gid: ids.r, egid: ids.e, svgid: ids.s })
  )
