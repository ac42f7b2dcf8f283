/**
 * Namespace changes on a host file system: new files, directories,
 * symlinks, placeholders (devices, fifos, sockets), hard links, removals
 * and renames, each one host call through the walker (HostTree.ts) after
 * the kernel's own checks (vfs/Create.ts, Remove.ts, Rename.ts), so the
 * host's refusals (EEXIST, ENOTEMPTY, ENOSPC, EDQUOT, EIO, EMLINK) come
 * back as they are, at once.
 *
 * Owners and modes: a server running as root gives the host the kernel's
 * owners (chown) and permission bits, but never the set-id bits; a server
 * that is not root keeps owners in the sidecar, and keeps u+rw (u+rwx for a
 * directory) on the host so it can always reopen its own files. Whatever
 * the host copy does not show is recorded (Sidecar.ts), after the host
 * change it belongs to.
 *
 * A placeholder is made under a reserved name (`.sysproxy-new-*`, hidden
 * from the kernel), recorded, then linked to its name (which must be new)
 * and the reserved name removed: a crash leaves at worst a hidden orphan
 * (HostListing.ts removes it), never a visible name without its record.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect, Exit, type Scope } from "effect"
import * as Fs from "node:fs"
import { randomBytes } from "node:crypto"
import { type SysErr, sysErr } from "../../kern/SysErr.ts"
import type { HostStat } from "./HostCalls.ts"
import type { HostError } from "./HostError.ts"
import type { HostFd } from "./HostFd.ts"
import { type HostMount, isReserved, RESERVED_PREFIX, serverIsRoot, toSysErr } from "./HostMount.ts"
import type { HostDirectory, HostRegular, HostSpecial, HostSymlink, HostVnode } from "./HostNode.ts"
import type { HostTree } from "./HostTree.ts"
import { hostIdOf, type SidecarRecord } from "./Sidecar.ts"

/** The owner and permission bits a new node gets in the kernel. */
export interface NewAttrs {
  readonly mode: number
  readonly uid: number
  readonly gid: number
}

/** What a placeholder stands for. */
export interface Placeholder {
  readonly type: "chr" | "blk" | "fifo" | "sock"
  readonly rdev?: number | undefined
}

const { O_APPEND, O_RDWR, O_WRONLY } = Fs.constants
const SETID = 0o6000
/** A placeholder's mode on the host: the server's alone. */
const PLACEHOLDER_MODE = 0o600

/** The permission bits the host copy of a node gets for the kernel's `mode`. */
export const hostModeFor = (kind: "reg" | "dir", mode: number): number => {
  const own = serverIsRoot() ? 0 : kind === "dir" ? 0o700 : 0o600
  return (mode & ~SETID & 0o7777) | own
}

/** What the sidecar must say of a node whose host stat is `st` so that the kernel sees `attrs`. */
const recordFor = (st: HostStat, attrs: NewAttrs, placeholder?: Placeholder): SidecarRecord => {
  const hostMode = Number(st.mode) & 0o7777
  return {
    type: placeholder?.type,
    rdev: placeholder?.rdev,
    mode: attrs.mode !== hostMode ? attrs.mode : undefined,
    uid: attrs.uid !== Number(st.uid) ? attrs.uid : undefined,
    gid: attrs.gid !== Number(st.gid) ? attrs.gid : undefined
  }
}

const hasFields = (r: SidecarRecord): boolean => Object.values(r).some((v) => v !== undefined)

/** EROFS for a read-only tree; EPERM for a name the driver keeps for itself. */
const checkNewName = (dir: HostDirectory, name: string): Effect.Effect<void, SysErr> =>
  Effect.andThen(dir.mount.checkWritable(), isReserved(dir, name) ? sysErr(Errno.EPERM) : Effect.void)

/**
 * Gives a node just made the host mode meant for it (the server's umask
 * took bits away) and the kernel's owners (as root: chown on the host),
 * and records what the host copy does not show; answers its stat as it is now.
 */
const settle: (
  mount: HostMount,
  fd: HostFd,
  st: HostStat,
  attrs: NewAttrs,
  hostMode: number | undefined,
  placeholder?: Placeholder
) => Effect.Effect<{ readonly st: HostStat; readonly record: SidecarRecord | undefined }, HostError> = Effect.fnUntraced(
  function*(mount: HostMount, fd: HostFd, st: HostStat, attrs: NewAttrs, hostMode: number | undefined, placeholder?: Placeholder) {
    let now = st
    if (hostMode !== undefined && (Number(st.mode) & 0o7777) !== hostMode) {
      yield* mount.tree.chmod(fd, hostMode)
      now = yield* mount.tree.fstat(fd)
    }
    if (serverIsRoot() && (Number(now.uid) !== attrs.uid || Number(now.gid) !== attrs.gid)) {
      yield* mount.tree.chown(fd, attrs.uid, attrs.gid)
      now = yield* mount.tree.fstat(fd)
    }
    const record = recordFor(now, attrs, placeholder)
    const sidecar = mount.sidecar
    // a record left by an earlier node of this inode number goes, whatever this one needs
    if (sidecar !== undefined) yield* sidecar.put(hostIdOf(now), record)
    return { st: now, record: hasFields(record) ? record : undefined }
  })

/** Undoes a name just made when what follows failed (best effort: the failure is what the caller hears). */
const undo = (mount: HostMount, dir: HostFd, name: string, directory = false) =>
  Effect.ignore(directory ? mount.tree.rmdir(dir, name) : mount.tree.unlink(dir, name))

/**
 * A new regular file `name` in `dir`, and a descriptor of it open for
 * reading and writing (with O_APPEND when asked), which the caller owns.
 */
export const hostCreate = (
  dir: HostDirectory,
  name: string,
  attrs: NewAttrs,
  append: boolean
): Effect.Effect<{ readonly node: HostRegular; readonly io: HostFd }, SysErr> =>
  Effect.andThen(checkNewName(dir, name), () => {
    const mount = dir.mount
    const tree = mount.tree
    const flags = O_RDWR | (append ? O_APPEND : 0)
    const mode = hostModeFor("reg", attrs.mode)
    return mount.withFd(dir, (dfd) =>
      Effect.uninterruptibleMask((restore) =>
        Effect.flatMap(tree.createOwned(dfd, name, flags, mode), (io) =>
          restore(Effect.flatMap(tree.fstat(io), (st) => settle(mount, io, st, attrs, mode))).pipe(
            Effect.flatMap((s) => mount.adopt(dir, name, s.st, s.record)),
            Effect.map((node) => ({ node: node as HostRegular, io })),
            // the file is not left behind by a create that failed
            Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Effect.andThen(io.close, undo(mount, dfd, name))))
          ))
      ))
  })

/**
 * A node `make` puts at `name` in `dir`, then opened (`open`: a path
 * descriptor of it) to be settled (its host mode, owners, record) and given
 * its vnode; what `make` made goes again when that fails.
 */
const madeNode = (
  dir: HostDirectory,
  name: string,
  attrs: NewAttrs,
  hostMode: number | undefined,
  make: (dfd: HostFd) => Effect.Effect<void, HostError>,
  open: (dfd: HostFd) => Effect.Effect<HostFd, HostError, Scope.Scope>,
  directory: boolean
): Effect.Effect<HostVnode, SysErr> =>
  Effect.andThen(checkNewName(dir, name), () => {
    const mount = dir.mount
    const settled = mount.withFd(dir, (dfd) =>
      Effect.andThen(
        make(dfd),
        Effect.scoped(Effect.flatMap(open(dfd), (fd) => Effect.flatMap(mount.tree.fstat(fd), (st) => settle(mount, fd, st, attrs, hostMode))))
          .pipe(Effect.tapError(() => undo(mount, dfd, name, directory)))
      ))
    return Effect.flatMap(settled, (s) => mount.adopt(dir, name, s.st, s.record))
  })

/** A new directory `name` in `dir`. */
export const hostMkdir = (dir: HostDirectory, name: string, attrs: NewAttrs): Effect.Effect<HostDirectory, SysErr> => {
  const tree = dir.mount.tree
  const mode = hostModeFor("dir", attrs.mode)
  return madeNode(dir, name, attrs, mode, (dfd) => tree.mkdir(dfd, name, mode), (dfd) => tree.openDir(dfd, name), true).pipe(
    Effect.map((node) => {
      dir.nlink++
      return node as HostDirectory
    })
  )
}

/** A new symlink `name` in `dir` holding `target` (the kernel's bytes; the host never resolves it). */
export const hostSymlink = (dir: HostDirectory, name: string, target: string, attrs: NewAttrs): Effect.Effect<HostSymlink, SysErr> => {
  const tree = dir.mount.tree
  // a symlink's mode is the sidecar's (Linux has no lchmod)
  return madeNode(dir, name, attrs, undefined, (dfd) => tree.symlink(target, dfd, name), (dfd) => tree.lookup(dfd, name), false).pipe(
    Effect.map((node) => {
      const link = node as HostSymlink
      link.target = target
      return link
    })
  )
}

/** The placeholder made under a temporary name, then linked as `name` (which must be new); the temporary name goes either way. */
const placeholderAt = Effect.fnUntraced(
  function*(mount: HostMount, dfd: HostFd, temp: string, name: string, attrs: NewAttrs, what: Placeholder) {
    const tree = mount.tree
    const made = yield* Effect.scoped(Effect.flatMap(tree.create(dfd, temp, O_WRONLY, PLACEHOLDER_MODE), (fd) =>
      Effect.flatMap(tree.fstat(fd), (st) => settle(mount, fd, st, attrs, PLACEHOLDER_MODE, what))))
    // the name must be new: a hard link never replaces one (rename would)
    const linked = yield* Effect.exit(tree.link(dfd, temp, dfd, name))
    yield* Effect.ignore(tree.unlink(dfd, temp))
    if (Exit.isFailure(linked)) {
      if (mount.sidecar !== undefined) yield* Effect.ignore(mount.sidecar.forget(hostIdOf(made.st)))
      return yield* Effect.failCause(linked.cause)
    }
    return made
  }
)

/** A new device node, fifo or socket `name` in `dir`: an empty host file (0600) whose record says what it is. */
export const hostPlaceholder = (
  dir: HostDirectory,
  name: string,
  attrs: NewAttrs,
  what: Placeholder
): Effect.Effect<HostSpecial, SysErr> =>
  Effect.andThen(checkNewName(dir, name), () => {
    const mount = dir.mount
    const temp = `${RESERVED_PREFIX}new-${randomBytes(8).toString("hex")}`
    return Effect.flatMap(
      mount.withFd(dir, (dfd) => placeholderAt(mount, dfd, temp, name, attrs, what)),
      (s) => Effect.map(mount.adopt(dir, name, s.st, s.record), (n) => n as HostSpecial)
    )
  })

/** The new link, checked to lead to `node` (ESTALE, the link gone again, when its old name led elsewhere by now). */
const linkFrom = Effect.fnUntraced(function*(tree: HostTree, node: HostVnode, from: HostFd, dfd: HostFd, name: string) {
  yield* tree.link(from, node.name, dfd, name)
  const st = yield* tree.lstat(dfd, name)
  if (st.ino !== node.id.ino || st.dev !== node.id.dev) {
    // the old name led to another node by now: the new link goes again
    yield* Effect.ignore(tree.unlink(dfd, name))
    return yield* sysErr(Errno.ESTALE)
  }
  node.applyStat(st)
})

/** link(2) on the host: `name` in `dir` for `node`, which must still be where it was found. */
export const hostLink = (node: HostVnode, dir: HostDirectory, name: string): Effect.Effect<void, SysErr> =>
  Effect.andThen(checkNewName(dir, name), () => {
    const mount = dir.mount
    return mount.withFd(node.parent, (from) => mount.withFd(dir, (dfd) => linkFrom(mount.tree, node, from, dfd, name)))
  })

/** The node's last name went: its record and its vnode's place in the cache go too. */
const gone = (node: HostVnode): Effect.Effect<void, SysErr> => {
  const mount = node.mount
  const forgetRecord = node.record !== undefined && mount.sidecar !== undefined
    ? Effect.mapError(mount.sidecar.forget(node.id), toSysErr)
    : Effect.void
  return Effect.andThen(forgetRecord, mount.cache.forget(node.key))
}

/** unlink(2) of `name` (which names `node`) in `dir`. */
export const hostUnlink = (dir: HostDirectory, name: string, node: HostVnode): Effect.Effect<void, SysErr> =>
  Effect.andThen(dir.mount.checkWritable(), () => {
    const mount = dir.mount
    return Effect.andThen(mount.withFd(dir, (dfd) => mount.tree.unlink(dfd, name)), () => {
      node.nlink = Math.max(0, node.nlink - 1)
      return node.nlink === 0 ? gone(node) : Effect.void
    })
  })

/** rmdir(2) of `name` (the directory `node`) in `dir`. */
export const hostRmdir = (dir: HostDirectory, name: string, node: HostDirectory): Effect.Effect<void, SysErr> =>
  Effect.andThen(dir.mount.checkWritable(), () => {
    const mount = dir.mount
    return Effect.andThen(mount.withFd(dir, (dfd) => mount.tree.rmdir(dfd, name)), () => {
      node.removed = true
      node.nlink = 0
      dir.nlink = Math.max(2, dir.nlink - 1)
      return gone(node)
    })
  })

/** rename(2) on the host: `src`, named `fromName` in `from`, becomes `toName` in `to`, replacing `dst` if given. */
export const hostRename = (
  from: HostDirectory,
  fromName: string,
  src: HostVnode,
  to: HostDirectory,
  toName: string,
  dst: HostVnode | undefined
): Effect.Effect<void, SysErr> =>
  Effect.andThen(checkNewName(to, toName), () => {
    const mount = from.mount
    const moved = mount.withFd(from, (f) => mount.withFd(to, (t) => mount.tree.rename(f, fromName, t, toName)))
    return Effect.andThen(moved, () => {
      src.parent = to
      src.name = toName
      if (src.type === "dir" && from !== to) {
        from.nlink = Math.max(2, from.nlink - 1)
        to.nlink++
      }
      if (dst === undefined) return Effect.void
      if (dst.type === "dir") {
        dst.removed = true
        dst.nlink = 0
        to.nlink = Math.max(2, to.nlink - 1)
      } else {
        dst.nlink = Math.max(0, dst.nlink - 1)
      }
      return dst.nlink === 0 ? gone(dst) : Effect.void
    })
  })
