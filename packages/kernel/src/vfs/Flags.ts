/**
 * File flags (st_flags, chflags(2)) as tmpfs keeps and enforces them:
 * UF_* are the owner's to set, SF_* the superuser's. A file that is
 * immutable (UF_IMMUTABLE or SF_IMMUTABLE) cannot be written, truncated,
 * linked, removed, renamed or have its mode, owner or times changed; an
 * append-only one (UF_APPEND or SF_APPEND) can only be opened for writing
 * with O_APPEND, and otherwise stays as an immutable one; a directory that
 * is append-only keeps its entries (EPERM for each).
 */
import { chflags as bits, Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { type CredHolder, isRoot } from "../kauth/Cred.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { hostSetFlags } from "./host/HostAttributes.ts"
import type { Vnode } from "./Vnode.ts"

export const IMMUTABLE = bits.UF_IMMUTABLE | bits.SF_IMMUTABLE
export const APPEND = bits.UF_APPEND | bits.SF_APPEND
const UF_SETTABLE = bits.UF_SETTABLE
const SF_SETTABLE = bits.SF_SETTABLE | 0

/** u_long VNOVAL: chflags with it changes nothing. */
const VNOVAL = 0xffff_ffff_ffff_ffffn

const has = (node: Vnode, flags: number): boolean => (node.flags & flags) !== 0

/** EPERM for a node that may not change at all (immutable or append-only): chmod, chown, utimes, truncate, link. */
export const checkChangeable = (node: Vnode): Effect.Effect<void, SysErr> =>
  has(node, IMMUTABLE | APPEND) ? sysErr(Errno.EPERM) : Effect.void

/** tmpfs_access: EPERM for writing an immutable node (its contents or, for a directory, its entries). */
export const checkWritable = (node: Vnode): Effect.Effect<void, SysErr> =>
  has(node, IMMUTABLE) ? sysErr(Errno.EPERM) : Effect.void

/** tmpfs_open: an append-only file opens for writing only with O_APPEND. */
export const checkAppendOpen = (node: Vnode, writing: boolean, append: boolean): Effect.Effect<void, SysErr> =>
  has(node, APPEND) && writing && !append ? sysErr(Errno.EPERM) : Effect.void

/** tmpfs_remove/tmpfs_rmdir: neither an immutable or append-only node nor anything in an append-only directory goes. */
export const checkRemovePossible = (dir: Vnode, node: Vnode): Effect.Effect<void, SysErr> =>
  has(dir, APPEND) || has(node, IMMUTABLE | APPEND) ? sysErr(Errno.EPERM) : Effect.void

/** genfs_ufslike_rename_check_possible: `dst` is the node the new name replaces, if any. */
export const checkRenamePossible = (
  fromDir: Vnode,
  src: Vnode,
  toDir: Vnode,
  dst: Vnode | undefined
): Effect.Effect<void, SysErr> =>
  has(fromDir, IMMUTABLE | APPEND) || has(src, IMMUTABLE | APPEND) ||
    has(toDir, IMMUTABLE | (dst !== undefined ? APPEND : 0)) ||
    (dst !== undefined && has(dst, IMMUTABLE | APPEND))
    ? sysErr(Errno.EPERM)
    : Effect.void

/**
 * tmpfs_chflags: the owner may change the user flags, only the superuser
 * the system ones or a device node's (EPERM otherwise). Setting only user flags keeps the
 * system ones; a superuser changing system flags sets the word as given.
 */
export const chflags = (who: CredHolder, node: Vnode, requested: bigint): Effect.Effect<boolean, SysErr> =>
  Effect.suspend(() => {
    if (requested === VNOVAL) return Effect.succeed(false)
    // tmpfs_chflags: a read-only file system first
    if (node.mount.readOnly) return sysErr(Errno.EROFS)
    // tn_flags is an int: the word is what reaches the node
    const flags = Number(BigInt.asIntN(32, requested))
    const changingSys = (flags & SF_SETTABLE) !== (node.flags & SF_SETTABLE)
    // genfs_can_chflags: the owner, user flags only, and never on a device node
    const device = node.type === "chr" || node.type === "blk"
    if (!isRoot(who) && (who.cred.euid !== node.uid || changingSys || device)) return sysErr(Errno.EPERM)
    const next = changingSys ? flags : (node.flags & SF_SETTABLE) | (flags & UF_SETTABLE)
    // a host file system keeps them in its sidecar (the host has none)
    if (node.fs === "host") return Effect.as(hostSetFlags(node, next), true)
    node.flags = next
    return Effect.succeed(true)
  })
