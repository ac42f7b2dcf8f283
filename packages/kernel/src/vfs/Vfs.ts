/**
 * The VFS: the root file system (a tmpfs, or a host directory: `--root`)
 * with /dev (console, null, zero) and /tmp made at boot, the host
 * directories mounted at boot (`--mount`), the tmpfs file systems mounted
 * later, the machine memory tmpfs data shares, and a lock that makes each
 * namespace change (lookup plus the change it leads to) happen as one step.
 *
 * On a host root, /dev is a tmpfs of its own mounted on the host's `dev`
 * directory (made when missing), so devices never reach the host; /tmp is
 * the host's `tmp` (made, 1777, when missing). A host mount elsewhere sits
 * on a directory of whatever file system holds its path, made when missing.
 */
import { Errno, modeBits, mountFlags } from "@sysproxy/protocol/netbsd"
import { Effect, Semaphore, type Scope } from "effect"
import { type Timespec, wallClock } from "../abi/Timespec.ts"
import { File, FWRITE } from "../fd/File.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { consoleDriver, nullDriver, zeroDriver } from "./Devices.ts"
import { PAGE_SIZE } from "./FileData.ts"
import { type HostCallsService, nodeHostCalls } from "./host/HostCalls.ts"
import { hostLookup } from "./host/HostLookup.ts"
import { HostMount } from "./host/HostMount.ts"
import { hostMkdir } from "./host/HostNamespace.ts"
import { HostMountError, type HostMountSpec, openHostTree } from "./host/HostTrees.ts"
import { type Attrs, type Memory, type Mount, TmpfsMount } from "./Mount.ts"
import { mountedRoot } from "./Namei.ts"
import { openNode } from "./Open.ts"
import type { DeviceDriver, DeviceNode, Directory, DirectoryNode } from "./Vnode.ts"

export interface Vfs {
  /** The root file system's root directory ("/"). */
  readonly root: Directory
  /** A new open file on /dev/console, write-only (fds 0-2 of a new guest). */
  readonly openConsole: () => File
  /** The machine memory file data is taken from. */
  readonly memory: Memory
  /** The character devices by number: a node mknod makes with one's numbers is that device. */
  readonly charDevices: ReadonlyMap<number, DeviceDriver>
  /** Every mounted file system, the root's first. */
  readonly mounts: ReadonlyArray<Mount>
  /** Mounts a fresh, empty tmpfs on `on`. */
  readonly mountTmpfs: (on: Directory, options: TmpfsOptions, at?: MountAt) => Effect.Effect<Mount, SysErr>
  /**
   * Takes an unmounted file system out of the tree: its mount point shows
   * what it covered again, and (but for a host directory, whose files stay
   * on the host) its data goes back to the machine's memory.
   */
  readonly detach: (mount: Mount) => void
  /** Runs `effect` with no other namespace change in between. */
  readonly exclusive: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
}

export interface VfsOptions {
  /** Bytes of memory; file data in all tmpfs together may not exceed it (ENOSPC). */
  readonly physmem: number
  readonly console: (pid: number, bytes: Uint8Array) => void
  /** Where time stamps come from (default: the wall clock). */
  readonly clock?: (() => Timespec) | undefined
  /** Host directories to mount at boot, in order (one at "/" is the root file system); none: everything is in memory. */
  readonly mounts?: ReadonlyArray<HostMountSpec> | undefined
  /** Most vnodes each host mount keeps that nobody holds (default 8192). */
  readonly vnodeCacheSize?: number | undefined
  /** The host calls (node:fs on libuv's pool by default; tests make them fail). */
  readonly hostCalls?: HostCallsService | undefined
}

/** What statvfs will say of a new mount: the path it was asked for, who asked, the MNT_* flags given. */
export interface MountAt {
  readonly onName: string
  readonly owner: number
  readonly flags: number
}

/** tmpfs_args as far as the VFS uses them. */
export interface TmpfsOptions {
  readonly root: Attrs
  /** ta_size_max in bytes (0: no limit of its own). */
  readonly sizeMax: number
  /** ta_nodes_max (0: no limit of its own). */
  readonly nodesMax: number
}

/** The vnode cache's default size per host mount. */
export const DEFAULT_VNODE_CACHE = 8192

const ROOT_ATTRS: Attrs = { mode: 0o755, uid: 0, gid: 0 }
const INT_MAX = 0x7fff_ffff

/** A file system the kernel mounts itself at boot. */
const bootMount = (onName: string, flags = 0): MountAt => ({ onName, owner: 0, flags })

/** "/host/" and "//host" as "/host"; relative paths and ".." refused. */
export const normalizeMountPoint = (path: string): string | undefined => {
  if (!path.startsWith("/")) return undefined
  const parts = path.split("/").filter((c) => c.length > 0 && c !== ".")
  if (parts.includes("..")) return undefined
  return "/" + parts.join("/")
}

/** The directory `name` in `dir`, made (root's, `mode`) when missing; undefined when something else has the name. */
const bootDirectory = (dir: Directory, name: string, mode: number): Effect.Effect<Directory | undefined, SysErr> => {
  if (dir.fs === "tmpfs") {
    const existing = dir.entries.get(name)?.node
    if (existing !== undefined) return Effect.succeed(existing.type === "dir" ? existing : undefined)
    const made = dir.mount.newDirectory({ mode, uid: 0, gid: 0 }, dir)
    if (made === undefined) return sysErr(Errno.ENOSPC)
    dir.addEntry(name, made)
    dir.nlink++
    return Effect.succeed(made)
  }
  return Effect.flatMap(hostLookup(dir, name), (existing): Effect.Effect<Directory | undefined, SysErr> => {
    if (existing !== undefined) return Effect.succeed(existing.type === "dir" ? existing : undefined)
    return hostMkdir(dir, name, { mode, uid: 0, gid: 0 })
  })
}

/** Frees the data pages of every file below `dir` (a tmpfs being unmounted). */
const freeData = (dir: DirectoryNode): void => {
  for (const { node } of dir.entries.values()) {
    if (node.type === "reg") node.data.clear()
    else if (node.type === "dir") freeData(node)
  }
}

export const makeVfs = (options: VfsOptions): Effect.Effect<Vfs, HostMountError, Scope.Scope> =>
  Effect.gen(function*() {
    const clock = options.clock ?? wallClock
    const memory: Memory = { limitPages: Math.floor(options.physmem / PAGE_SIZE), usedPages: 0 }
    const mounts: Array<Mount> = []
    let nextDev = 1
    const lock = Semaphore.makeUnsafe(1)
    const console = consoleDriver(options.console)
    const charDevices = new Map([console, nullDriver, zeroDriver].map((d) => [d.rdev, d]))
    const calls = options.hostCalls ?? nodeHostCalls
    const cacheSize = options.vnodeCacheSize ?? DEFAULT_VNODE_CACHE

    const newTmpfs = (
      covered: Directory | undefined,
      root: Attrs,
      at: MountAt,
      pagesMax?: number,
      nodesMax?: number,
      memLimit?: bigint
    ): TmpfsMount => {
      const mount = new TmpfsMount({ dev: nextDev++, covered, memory, clock, root, pagesMax, nodesMax, memLimit, ...at })
      mounts.push(mount)
      return mount
    }

    const specs: Array<HostMountSpec & { readonly at: string }> = []
    for (const spec of options.mounts ?? []) {
      const at = normalizeMountPoint(spec.at)
      if (at === undefined) {
        return yield* new HostMountError({ hostPath: spec.hostPath, message: `${spec.hostPath}: mount point ${spec.at} is not an absolute path without ".."` })
      }
      specs.push({ ...spec, at })
    }

    const openHost = (spec: HostMountSpec, covered: Directory | undefined, at: MountAt) =>
      Effect.map(openHostTree(spec, calls), ({ tree, sidecar }) => {
        const mount = new HostMount({
          dev: nextDev++,
          covered,
          clock,
          tree,
          sidecar,
          readOnly: spec.readOnly === true,
          cacheSize,
          charDevices,
          onName: at.onName,
          owner: at.owner,
          flags: at.flags
        })
        mounts.push(mount)
        return mount
      })

    /** `mount` now shows on `dir` (a host directory is held: a mount point keeps its descriptor). */
    const cover = (dir: Directory, mount: Mount): void => {
      dir.mountedHere = mount
      if (dir.fs === "host") dir.mount.cache.hold(dir)
    }

    const bootFailed = (spec: HostMountSpec | undefined, what: string) => (e: SysErr) =>
      new HostMountError({ hostPath: spec?.hostPath ?? "/", message: `${spec?.hostPath ?? "the root file system"}: ${what}: errno ${e.errno}` })

    const rootSpec = specs.find((s) => s.at === "/")
    const rootFlags = mountFlags.MNT_ROOTFS
    const rootfs: Mount = rootSpec === undefined
      ? newTmpfs(undefined, ROOT_ATTRS, bootMount("/", rootFlags))
      : yield* openHost(rootSpec, undefined, bootMount("/", rootFlags))
    const root = rootfs.root

    /** The boot directory `name` in the root file system; on a read-only host root it may be missing. */
    const bootDir = (name: string, mode: number) =>
      Effect.gen(function*() {
        const readOnly = rootfs.fstype === "hostfs" && rootfs.readOnly
        const found = readOnly
          ? yield* Effect.mapError(hostLookup(rootfs.root, name), bootFailed(rootSpec, `cannot look up /${name}`))
          : yield* Effect.mapError(bootDirectory(root, name, mode), bootFailed(rootSpec, `cannot make /${name}`))
        if (found?.type === "dir") return found
        if (readOnly && found === undefined) return undefined
        return yield* new HostMountError({ hostPath: rootSpec?.hostPath ?? "/", message: `${rootSpec?.hostPath}: /${name} is not a directory` })
      })

    // /dev: on a host root a tmpfs of its own, so the devices never reach the host
    let dev: Directory | undefined
    let devfs: TmpfsMount
    if (rootfs.fstype === "hostfs") {
      const hostDev = yield* bootDir("dev", 0o755)
      if (hostDev === undefined) {
        return yield* new HostMountError({ hostPath: rootSpec?.hostPath ?? "/", message: `${rootSpec?.hostPath}: a read-only root needs a dev directory` })
      }
      devfs = newTmpfs(hostDev, ROOT_ATTRS, bootMount("/dev"))
      cover(hostDev, devfs)
      dev = devfs.root
    } else {
      devfs = rootfs
      dev = yield* Effect.orDie(bootDirectory(root, "dev", 0o755))
    }
    const bootDevice = (driver: DeviceDriver, mode: number): DeviceNode | undefined => {
      const node = devfs.newDevice({ mode, uid: 0, gid: 0 }, driver)
      if (node !== undefined && dev?.fs === "tmpfs") dev.addEntry(driver.name, node)
      return node
    }
    const consoleNode = bootDevice(console, 0o600)
    bootDevice(nullDriver, 0o666)
    bootDevice(zeroDriver, 0o666)
    yield* bootDir("tmp", 0o777 | modeBits.S_ISVTX)

    // the other host directories, in the order given, each on a directory made as needed
    for (const spec of specs) {
      if (spec.at === "/") continue
      let on: Directory = root
      for (const name of spec.at.split("/").filter((c) => c.length > 0)) {
        const next: Directory | undefined = yield* bootDirectory(mountedRoot(on), name, 0o755).pipe(
          Effect.mapError(bootFailed(spec, `cannot make its mount point ${spec.at}`))
        )
        if (next === undefined) {
          return yield* new HostMountError({ hostPath: spec.hostPath, message: `${spec.hostPath}: ${spec.at} is not a directory` })
        }
        on = next
      }
      on = mountedRoot(on)
      const mount = yield* openHost(spec, on, bootMount(spec.at))
      cover(on, mount)
    }

    return {
      root,
      openConsole: () => (consoleNode !== undefined ? openNode(consoleNode, FWRITE) : new File(console.ops, FWRITE, undefined)),
      memory,
      charDevices,
      mounts,
      mountTmpfs: (on, o, at) =>
        Effect.suspend(() => {
          if (on.removed) return sysErr(Errno.ENOENT)
          // tmpfs_mount: a size under a page is no limit; a node limit of 3 or less is 3 + a node per KiB of the limit
          const pagesMax = o.sizeMax >= PAGE_SIZE ? Math.ceil(o.sizeMax / PAGE_SIZE) : undefined
          const nodesMax = o.nodesMax > 3
            ? o.nodesMax
            : pagesMax === undefined
            ? undefined
            : Math.min(INT_MAX, 3 + Math.floor(o.sizeMax / 1024))
          const memLimit = pagesMax === undefined ? undefined : BigInt(o.sizeMax)
          const mount = newTmpfs(on, o.root, at ?? bootMount("/"), pagesMax, nodesMax, memLimit)
          cover(on, mount)
          return Effect.succeed(mount)
        }),
      detach: (mount) => {
        const i = mounts.indexOf(mount)
        if (i >= 0) mounts.splice(i, 1)
        mount.unmounted = true
        const covered = mount.covered
        if (covered !== undefined && covered.mountedHere === mount) {
          covered.mountedHere = undefined
          if (covered.fs === "host") Effect.runFork(covered.mount.cache.release(covered))
        }
        if (mount.fstype === "tmpfs") freeData(mount.root)
      },
      exclusive: (effect) => lock.withPermits(1)(effect)
    }
  })
