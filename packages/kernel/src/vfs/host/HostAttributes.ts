/**
 * Attribute changes on a host file system (the end of chmod, chown,
 * utimes, truncate and chflags once vfs/Attributes.ts and Flags.ts have
 * checked them): each goes to the host through the node's own descriptor
 * (`/proc/self/fd/N`: the node, wherever it is named now; a symlink's own
 * owner and times, never its target's), and what the host copy cannot show
 * goes to the sidecar: a symlink's or a placeholder's mode, set-id bits,
 * owners when the server is not root, st_flags. The host keeps the times.
 */
import { Effect } from "effect"
import type { Timespec } from "../../abi/Timespec.ts"
import type { SysErr } from "../../kern/SysErr.ts"
import { serverIsRoot } from "./HostMount.ts"
import { hostModeFor } from "./HostNamespace.ts"
import type { HostVnode } from "./HostNode.ts"

/** Whether the host copy of `node` holds its mode (a symlink's and a placeholder's stay in the sidecar). */
const hostHoldsMode = (node: HostVnode): node is HostVnode & { readonly type: "reg" | "dir" } =>
  node.type === "reg" || node.type === "dir"

/** chmod: the host's bits as far as they may go there, the rest recorded. */
export const hostChmod = (node: HostVnode, perms: number): Effect.Effect<void, SysErr> =>
  Effect.andThen(node.mount.checkWritable(), () => {
    const mount = node.mount
    const onHost = hostHoldsMode(node) ? hostModeFor(node.type, perms) : undefined
    const change = onHost === undefined || onHost === node.hostMode
      ? Effect.void
      : mount.withFd(node, (fd) => mount.tree.chmod(fd, onHost))
    const recorded = perms === (onHost ?? node.hostMode) ? undefined : perms
    return change.pipe(
      Effect.tap(() => Effect.sync(() => (node.hostMode = onHost ?? node.hostMode))),
      Effect.andThen(node.record?.mode === recorded ? Effect.void : mount.setRecord(node, { mode: recorded })),
      Effect.tap(() => Effect.sync(() => (node.mode = perms)))
    )
  })

/** chown: the host's owners when the server is root; the sidecar's otherwise. */
export const hostChown = (node: HostVnode, uid: number, gid: number): Effect.Effect<void, SysErr> =>
  Effect.andThen(node.mount.checkWritable(), () => {
    const mount = node.mount
    const root = serverIsRoot()
    const change = root && (uid !== node.hostUid || gid !== node.hostGid)
      ? Effect.andThen(
        mount.withFd(node, (fd) => mount.tree.chown(fd, uid, gid)),
        Effect.sync(() => {
          node.hostUid = uid
          node.hostGid = gid
        })
      )
      : Effect.void
    const recUid = uid === node.hostUid || root ? undefined : uid
    const recGid = gid === node.hostGid || root ? undefined : gid
    const record = node.record?.uid === recUid && node.record?.gid === recGid
      ? Effect.void
      : mount.setRecord(node, { uid: recUid, gid: recGid })
    return change.pipe(
      Effect.andThen(Effect.suspend(() => record)),
      Effect.tap(() =>
        Effect.sync(() => {
          node.uid = uid
          node.gid = gid
        })
      )
    )
  })

const seconds = (t: Timespec): number => Number(t.sec) + t.nsec / 1e9

/** utimes: both times set on the host (node:fs takes seconds as a double: about a quarter of a microsecond). */
export const hostSetTimes = (node: HostVnode, atime: Timespec, mtime: Timespec): Effect.Effect<void, SysErr> =>
  Effect.andThen(node.mount.checkWritable(), () => {
    const mount = node.mount
    return mount.withFd(node, (fd) =>
      Effect.andThen(mount.tree.utimes(fd, seconds(atime), seconds(mtime)), Effect.map(mount.tree.fstat(fd), (st) => node.applyStat(st))))
  })

/** truncate of a regular file, through its descriptor. */
export const hostTruncate = (node: HostVnode, size: number): Effect.Effect<void, SysErr> =>
  Effect.andThen(node.mount.checkWritable(), () => {
    const mount = node.mount
    return mount.withFd(node, (fd) => Effect.andThen(mount.tree.truncateNode(fd, size), Effect.sync(() => (node.size = size))))
  })

/** chflags: st_flags live in the sidecar (the kernel enforces them; the host never knows them). */
export const hostSetFlags = (node: HostVnode, flags: number): Effect.Effect<void, SysErr> =>
  Effect.andThen(node.mount.checkWritable(), () =>
    Effect.tap(node.mount.setRecord(node, { flags: flags === 0 ? undefined : flags }), () => Effect.sync(() => (node.flags = flags))))
