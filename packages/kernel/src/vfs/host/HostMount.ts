/**
 * A host directory mounted as a file system of the kernel (`--root DIR`,
 * `--mount DIR:/path[:ro]`): its confined walker (HostTree.ts), its sidecar
 * store (Sidecar.ts), its bounded vnode cache (VnodeCache.ts), and what
 * statvfs reports of it. Nothing of the tree is read at mount: vnodes are
 * made as lookups reach their names (HostLookup.ts) and dropped by the
 * cache when nothing uses them.
 *
 * Every host call on a vnode goes through `withFd`: the vnode is held for
 * the call (the cache never drops it meanwhile) and its path descriptor is
 * reopened first if the cache dropped it, from its directory and name,
 * checking that the name still leads to the same host inode (ESTALE, as NFS
 * says, when it does not). A host failure is the caller's errno at once.
 */
import type { Statvfs } from "@sysproxy/protocol"
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect, Exit } from "effect"
import type { Timespec } from "../../abi/Timespec.ts"
import { SysErr } from "../../kern/SysErr.ts"
import { absentDriver } from "../Devices.ts"
import type { DeviceDriver, Directory, Vnode } from "../Vnode.ts"
import type { HostStat, HostStatfs } from "./HostCalls.ts"
import { HostError } from "./HostError.ts"
import type { HostFd } from "./HostFd.ts"
import {
  HostDirectory,
  type HostNodeBase,
  HostRegular,
  HostSpecial,
  HostSymlink,
  type HostVnode
} from "./HostNode.ts"
import { hostTypeOf, type HostTree } from "./HostTree.ts"
import { hostIdOf, type Sidecar, type SidecarRecord } from "./Sidecar.ts"
import { VnodeCache, vnodeKey } from "./VnodeCache.ts"

/** The name of the sidecar's directory at the root of a tree: never shown to the kernel. */
export const SIDECAR_DIR = ".sysproxy"
/** Names the driver keeps for itself in any directory (a placeholder being made). */
export const RESERVED_PREFIX = ".sysproxy-"

/** Whether `name` in `dir` is the driver's own (hidden from lookups and listings, not to be created). */
export const isReserved = (dir: HostDirectory, name: string): boolean =>
  name.startsWith(RESERVED_PREFIX) || (name === SIDECAR_DIR && dir === dir.mount.root)

/** The server runs as root: owners go to the host (chown); otherwise they are the sidecar's. */
export const serverIsRoot = (): boolean => process.getuid?.() === 0

export interface HostMountOptions {
  readonly dev: number
  readonly covered: Directory | undefined
  readonly clock: () => Timespec
  readonly tree: HostTree
  /** None for a read-only tree that has none. */
  readonly sidecar: Sidecar | undefined
  readonly readOnly: boolean
  /** Most vnodes kept that nobody holds. */
  readonly cacheSize: number
  /** The kernel's character devices: a device placeholder with one's numbers opens that device. */
  readonly charDevices: ReadonlyMap<number, DeviceDriver>
  readonly onName: string
  /** The MNT_* flags statvfs shows (MNT_LOCAL and, read-only, MNT_RDONLY added). */
  readonly flags: number
  readonly owner: number
}

const MNT_RDONLY = 0x1
const MNT_LOCAL = 0x1000

const stale = (syscall: string): HostError =>
  new HostError({ errno: Errno.ESTALE, code: "ESTALE", syscall, message: `${syscall}: the name leads to another node now` })

/** A host failure as the caller's errno. */
export const toSysErr = (e: HostError | SysErr): SysErr => (e._tag === "SysErr" ? e : new SysErr({ errno: e.errno }))

export class HostMount {
  readonly fstype = "hostfs"
  readonly dev: number
  readonly covered: Directory | undefined
  readonly clock: () => Timespec
  readonly tree: HostTree
  readonly sidecar: Sidecar | undefined
  readonly readOnly: boolean
  readonly cache: VnodeCache<HostVnode>
  readonly root: HostDirectory
  readonly onName: string
  readonly owner: number
  readonly flags: number
  /** The figures of the last statvfs that asked for fresh ones (mnt_stat). */
  lastStat: Statvfs | undefined = undefined
  /** The host's statfs, as last asked. */
  hostStatfs: HostStatfs | undefined = undefined
  unmounted = false
  readonly #charDevices: ReadonlyMap<number, DeviceDriver>

  constructor(options: HostMountOptions) {
    this.dev = options.dev
    this.covered = options.covered
    this.clock = options.clock
    this.tree = options.tree
    this.sidecar = options.sidecar
    this.readOnly = options.readOnly
    this.onName = options.onName
    this.owner = options.owner
    this.flags = options.flags | MNT_LOCAL | (options.readOnly ? MNT_RDONLY : 0)
    this.#charDevices = options.charDevices
    this.cache = new VnodeCache<HostVnode>({
      capacity: options.cacheSize,
      drop: (node) =>
        Effect.suspend(() => {
          const fd = node.fd
          node.fd = undefined
          return fd === undefined || fd === this.tree.root ? Effect.void : fd.close
        })
    })
    const st = options.tree.rootStat
    const record = Effect.runSync(Effect.orElseSucceed(this.recordOf(st), () => undefined))
    this.root = new HostDirectory(this, undefined, "", st, vnodeKey(st.dev, st.ino), record)
    this.root.fd = options.tree.root
    // the root is kept (and its descriptor open) for as long as the mount
    Effect.runSync(this.cache.add(this.root.key, this.root))
    this.cache.hold(this.root)
  }

  /** A host node's record; none on a tree without a sidecar. A store that cannot be read is EIO. */
  recordOf(st: HostStat): Effect.Effect<SidecarRecord | undefined, SysErr> {
    const sidecar = this.sidecar
    return sidecar === undefined ? Effect.succeed(undefined) : Effect.mapError(sidecar.get(hostIdOf(st)), toSysErr)
  }

  /** The node of `key` if the cache keeps it (file handles find nodes by inode number this way). */
  cached(ino: number): Vnode | undefined {
    return this.cache.find(vnodeKey(this.tree.rootStat.dev, BigInt(ino)))
  }

  /** Nothing to give back: the host frees a node's space. */
  release(node: Vnode): void {
    if (node.nlink === 0 && node.opens === 0) node.reclaimed = true
  }

  /**
   * The vnode for the host node `name` in `dir` whose stat is `st`: the one
   * the cache keeps for it (refreshed from `st`), or a new one. The host's
   * own devices, fifos and sockets are not served (undefined): only the
   * placeholders the kernel made are.
   */
  vnodeFor(dir: HostDirectory, name: string, st: HostStat): Effect.Effect<HostVnode | undefined, SysErr> {
    return Effect.suspend((): Effect.Effect<HostVnode | undefined, SysErr> => {
      const key = vnodeKey(st.dev, st.ino)
      const known = this.cache.find(key)
      if (known !== undefined) {
        if (known.id.birth === st.birthtimeNs) {
          known.applyStat(st)
          if (known !== this.root) {
            known.parent = dir
            known.name = name
          }
          return Effect.succeed(known)
        }
        // an inode number reused on the host: the old node is gone
        return Effect.andThen(this.cache.forget(key), this.vnodeFor(dir, name, st))
      }
      return Effect.flatMap(this.recordOf(st), (record) => {
        const node = this.newVnode(dir, name, st, key, record)
        return node === undefined ? Effect.succeed(undefined) : this.cache.add(key, node)
      })
    })
  }

  /** A vnode for a node the kernel just made: any earlier vnode of its inode number is of a node now gone. */
  adopt(dir: HostDirectory, name: string, st: HostStat, record: SidecarRecord | undefined): Effect.Effect<HostVnode> {
    return Effect.suspend(() => {
      const key = vnodeKey(st.dev, st.ino)
      const node = this.newVnode(dir, name, st, key, record)
      if (node === undefined) return Effect.die(new Error(`host file system: a new node of host type ${hostTypeOf(st)}`))
      return Effect.andThen(this.cache.forget(key), this.cache.add(key, node))
    })
  }

  private newVnode(
    dir: HostDirectory,
    name: string,
    st: HostStat,
    key: bigint,
    record: SidecarRecord | undefined
  ): HostVnode | undefined {
    switch (hostTypeOf(st)) {
      case "reg": {
        const kind = record?.type
        if (kind === undefined) return new HostRegular(this, dir, name, st, key, record)
        const rdev = record?.rdev ?? 0
        // a character device with the numbers of one of the kernel's is that device; others open as ENXIO
        const driver = kind === "fifo" || kind === "sock"
          ? undefined
          : (kind === "chr" ? this.#charDevices.get(rdev) : undefined) ?? absentDriver(rdev)
        return new HostSpecial(this, dir, name, st, key, record, kind, driver)
      }
      case "dir":
        return new HostDirectory(this, dir, name, st, key, record)
      case "lnk":
        return new HostSymlink(this, dir, name, st, key, record)
      default:
        return undefined
    }
  }

  /**
   * Runs `f` with `node`'s path descriptor, the node held meanwhile; the
   * descriptor is reopened first if the cache dropped it.
   */
  withFd<A>(node: HostNodeBase, f: (fd: HostFd) => Effect.Effect<A, HostError | SysErr>): Effect.Effect<A, SysErr> {
    const vnode = node as HostVnode
    return Effect.suspend(() => {
      this.cache.hold(vnode)
      const fd = vnode.fd
      const run = fd !== undefined && fd.isOpen ? f(fd) : Effect.flatMap(this.pathFd(vnode), f)
      return Effect.ensuring(Effect.mapError(run, toSysErr), this.cache.release(vnode))
    })
  }

  /** `node`'s path descriptor, open: reopened through its directory by name if the cache dropped it. */
  private pathFd(node: HostVnode): Effect.Effect<HostFd, HostError> {
    const fd = node.fd
    if (fd !== undefined && fd.isOpen) return Effect.succeed(fd)
    if (node === this.root) return Effect.succeed(this.tree.root)
    const parent = node.parent
    const tree = this.tree
    return Effect.suspend(() => {
      this.cache.hold(parent)
      return Effect.ensuring(
        Effect.flatMap(this.pathFd(parent), (dirFd) =>
          Effect.acquireUseRelease(
            tree.lookupOwned(dirFd, node.name),
            (opened) =>
              Effect.flatMap(tree.fstat(opened), (st) => {
                if (vnodeKey(st.dev, st.ino) !== node.key || st.birthtimeNs !== node.id.birth) return Effect.fail(stale("open"))
                node.applyStat(st)
                const now = node.fd
                if (now !== undefined && now.isOpen) return Effect.succeed({ fd: now, kept: false })
                node.fd = opened
                return Effect.succeed({ fd: opened, kept: true })
              }),
            (opened, exit) => (Exit.isSuccess(exit) && exit.value.kept ? Effect.void : opened.close)
          )),
        this.cache.release(parent)
      ).pipe(Effect.map((r) => r.fd))
    })
  }

  /** Refreshes `node`'s attributes from the host (fstat of its descriptor). */
  refresh(node: HostVnode): Effect.Effect<void, SysErr> {
    return this.withFd(node, (fd) => Effect.map(this.tree.fstat(fd), (st) => node.applyStat(st)))
  }

  /** EROFS for a change to a read-only tree. */
  checkWritable(): Effect.Effect<void, SysErr> {
    return this.readOnly ? Effect.fail(new SysErr({ errno: Errno.EROFS })) : Effect.void
  }

  /**
   * Records `patch` for `node` (host change first, then this: see
   * Sidecar.ts); an empty record is forgotten.
   */
  setRecord(node: HostVnode, patch: SidecarRecord): Effect.Effect<void, SysErr> {
    const sidecar = this.sidecar
    if (sidecar === undefined) return Effect.fail(new SysErr({ errno: Errno.EROFS }))
    const merged: SidecarRecord = { ...node.record, ...patch }
    const empty = Object.values(merged).every((v) => v === undefined)
    return Effect.mapError(sidecar.put(node.id, merged), toSysErr).pipe(
      Effect.tap(() =>
        Effect.sync(() => {
          node.record = empty ? undefined : merged
          node.recordChanged()
        })
      )
    )
  }
}
