/**
 * The VFS: the root tmpfs with /dev (console, null, zero) and /tmp made at
 * boot, the tmpfs file systems mounted later, the machine memory their
 * data shares, and a lock that makes each namespace change (lookup plus
 * the change it leads to) happen as one step.
 */
import { Errno, modeBits, mountFlags } from "@sysproxy/protocol/netbsd"
import { Effect, Semaphore } from "effect"
import { type Timespec, wallClock } from "../abi/Timespec.ts"
import { File, FWRITE } from "../fd/File.ts"
import { sysErr, type SysErr } from "../kern/SysErr.ts"
import { consoleDriver, nullDriver, zeroDriver } from "./Devices.ts"
import { PAGE_SIZE } from "./FileData.ts"
import { type Attrs, type Memory, Mount } from "./Mount.ts"
import { type HostFs, HostMirror, type WriteBackNote } from "./host/HostMirror.ts"
import { openNode } from "./Open.ts"
import type { DeviceDriver, DeviceNode, DirectoryNode, Vnode } from "./Vnode.ts"

export interface Vfs {
  /** The root file system's root directory ("/"). */
  readonly root: DirectoryNode
  /** A new open file on /dev/console, write-only (fds 0-2 of a new guest). */
  readonly openConsole: () => File
  /** The machine memory file data is taken from. */
  readonly memory: Memory
  /** The character devices by number: a node mknod makes with one's numbers is that device. */
  readonly charDevices: ReadonlyMap<number, DeviceDriver>
  /** Every mounted file system, the root's first. */
  readonly mounts: ReadonlyArray<Mount>
  /** Mounts a fresh, empty tmpfs on `on`. */
  readonly mountTmpfs: (on: DirectoryNode, options: TmpfsOptions, at?: MountAt) => Effect.Effect<Mount, SysErr>
  /**
   * Takes an unmounted file system out of the tree: its mount point shows
   * what it covered again, and (but for the host-backed one, whose files
   * stay on the host) its data goes back to the machine's memory.
   */
  readonly detach: (mount: Mount) => void
  /** Runs `effect` with no other namespace change in between. */
  readonly exclusive: <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.Effect<A, E, R>
  /** The host-backed file system, if one was configured (see host/HostMirror.ts). */
  readonly host: HostMirror | undefined
  /** Writes back to the host what changed (after each syscall), and says what to log; nothing without a host file system. */
  readonly flush: () => ReadonlyArray<WriteBackNote>
  /** fsync(2): writes back and fsyncs the node's host file, if it is on the host file system; false when that failed. */
  readonly syncNode: (node: Vnode) => boolean
}

/** A host directory served as a file system (KernelConfig.root). */
export interface HostRootOptions {
  readonly hostPath: string
  /** Where it is mounted: "/" (the default) or an absolute path, made in the root tmpfs as needed. */
  readonly mountAt?: string | undefined
  /** The host calls (node:fs by default; tests count or fail them). */
  readonly fs?: HostFs | undefined
}

export interface VfsOptions {
  /** Bytes of memory; file data in all tmpfs together may not exceed it (ENOSPC). */
  readonly physmem: number
  readonly console: (pid: number, bytes: Uint8Array) => void
  /** Where time stamps come from (default: the wall clock). */
  readonly clock?: (() => Timespec) | undefined
  /** A host directory to serve (persistence); none: everything is in memory. */
  readonly host?: HostRootOptions | undefined
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

const ROOT_ATTRS: Attrs = { mode: 0o755, uid: 0, gid: 0 }
const INT_MAX = 0x7fff_ffff

/** A file system the kernel mounts itself at boot. */
const bootMount = (onName: string): MountAt => ({ onName, owner: 0, flags: 0 })

export const makeVfs = (options: VfsOptions): Vfs => {
  const clock = options.clock ?? wallClock
  const memory: Memory = { limitPages: Math.floor(options.physmem / PAGE_SIZE), usedPages: 0 }
  const mounts: Array<Mount> = []
  let nextDev = 1
  const lock = Semaphore.makeUnsafe(1)

  let host: HostMirror | undefined = undefined

  const newMount = (
    covered: DirectoryNode | undefined,
    root: Attrs,
    pagesMax?: number,
    nodesMax?: number,
    at?: MountAt
  ): Mount => {
    const mount = new Mount({ dev: nextDev++, covered, memory, clock, root, pagesMax, nodesMax, ...at })
    mounts.push(mount)
    return mount
  }

  const mountAt = options.host === undefined ? undefined : normalizeMountPoint(options.host.mountAt ?? "/")
  const rootfs = newMount(undefined, ROOT_ATTRS, undefined, undefined, { onName: "/", owner: 0, flags: mountFlags.MNT_ROOTFS })
  const root = rootfs.root
  // The host directory as "/": the root file system is loaded from it; /dev is then a tmpfs of its own
  // mounted on the host tree's dev directory (so the devices are never written to the host).
  if (options.host !== undefined && mountAt === "/") {
    host = new HostMirror(rootfs, options.host.hostPath, options.host.fs)
    host.load()
  }

  // The boot tree. The root file system has no limits, so these cannot fail.
  const bootDir = (name: string, mode: number): DirectoryNode | undefined => {
    const existing = root.entries.get(name)?.node
    if (existing !== undefined) return existing.type === "dir" ? existing : undefined
    const dir = rootfs.newDirectory({ mode, uid: 0, gid: 0 }, root)
    if (dir === undefined) return undefined
    root.addEntry(name, dir)
    root.nlink++
    return dir
  }
  const hostDev = host !== undefined ? bootDir("dev", 0o755) : undefined
  const devfs = hostDev !== undefined ? newMount(hostDev, ROOT_ATTRS, undefined, undefined, bootMount("/dev")) : rootfs
  if (hostDev !== undefined) hostDev.mountedHere = devfs
  const bootDevice = (dir: DirectoryNode | undefined, driver: DeviceDriver, mode: number): DeviceNode | undefined => {
    const node = devfs.newDevice({ mode, uid: 0, gid: 0 }, driver)
    if (node !== undefined) dir?.addEntry(driver.name, node)
    return node
  }
  const console = consoleDriver(options.console)
  const dev = hostDev !== undefined ? devfs.root : bootDir("dev", 0o755)
  const consoleNode = bootDevice(dev, console, 0o600)
  bootDevice(dev, nullDriver, 0o666)
  bootDevice(dev, zeroDriver, 0o666)
  bootDir("tmp", 0o777 | modeBits.S_ISVTX)

  // The host directory elsewhere: a file system of its own on that path of the root tmpfs.
  if (options.host !== undefined && mountAt !== undefined && mountAt !== "/") {
    let on = root
    for (const name of mountAt.split("/").filter((c) => c.length > 0)) {
      const next = on.entries.get(name)?.node
      if (next !== undefined) {
        if (next.type !== "dir") throw new Error(`host root: ${mountAt} is not a directory`)
        on = next
        continue
      }
      const dir = rootfs.newDirectory({ mode: 0o755, uid: 0, gid: 0 }, on)
      if (dir === undefined) throw new Error(`host root: cannot make ${mountAt}`)
      on.addEntry(name, dir)
      on.nlink++
      on = dir
    }
    const mount = newMount(on, ROOT_ATTRS, undefined, undefined, bootMount(mountAt))
    host = new HostMirror(mount, options.host.hostPath, options.host.fs)
    host.load()
    on.mountedHere = mount
  }
  const hostfs = host

  return {
    root,
    openConsole: () => (consoleNode !== undefined ? openNode(consoleNode, FWRITE) : new File(console.ops, FWRITE, undefined)),
    memory,
    charDevices: new Map([console, nullDriver, zeroDriver].map((d) => [d.rdev, d])),
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
        const mount = newMount(on, o.root, pagesMax, nodesMax, at)
        on.mountedHere = mount
        return Effect.succeed(mount)
      }),
    detach: (mount) => {
      const i = mounts.indexOf(mount)
      if (i >= 0) mounts.splice(i, 1)
      mount.unmounted = true
      if (mount.covered !== undefined && mount.covered.mountedHere === mount) mount.covered.mountedHere = undefined
      if (hostfs?.mount !== mount) freeData(mount.root)
    },
    exclusive: (effect) => lock.withPermits(1)(effect),
    host: hostfs,
    flush: () => hostfs?.flush() ?? [],
    syncNode: (node) => hostfs === undefined || node.mount !== hostfs.mount || hostfs.sync(node)
  }
}

/** Gives back the data pages of every file below `dir` (a file system being unmounted). */
const freeData = (dir: DirectoryNode): void => {
  for (const { node } of dir.entries.values()) {
    if (node.type === "reg") node.data.clear()
    else if (node.type === "dir") freeData(node)
  }
}

/** "/host/" and "//host" as "/host"; relative paths are refused. */
const normalizeMountPoint = (path: string): string => {
  if (!path.startsWith("/")) throw new Error(`host root: mountAt must be absolute, not ${path}`)
  const parts = path.split("/").filter((c) => c.length > 0 && c !== ".")
  if (parts.includes("..")) throw new Error(`host root: mountAt may not contain "..": ${path}`)
  return "/" + parts.join("/")
}
