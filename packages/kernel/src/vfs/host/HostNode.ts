/**
 * Vnodes of a host file system: host objects, found by a lookup of their
 * name (HostLookup.ts) and kept in the mount's bounded vnode cache while
 * used. Each knows its host identity (st_dev, st_ino and the birth time, the
 * sidecar's key), the directory and name it was found by (so `..`, getcwd
 * and a reopen walk up in memory), and a path descriptor (O_PATH) of the
 * host inode while the cache keeps it: attributes change through it and
 * its data is opened through it, so the node a lookup found is the node
 * changed or opened, whatever a host process renames meanwhile.
 *
 * The attributes (mode, owners, link count, times, size) are the host's
 * stat with the sidecar record over it (Sidecar.ts: what the host cannot
 * hold), refreshed by each lookup that reaches the node and by stat/fstat.
 * The kernel's own state of a node (knotes, open count, locks) lives on the
 * object, which stays the node's one vnode for as long as anything holds
 * it (VnodeCache.ts).
 */
import type { Timespec } from "../../abi/Timespec.ts"
import type { Mount } from "../Mount.ts"
import { type DeviceDriver, VnodeAttrs } from "../Vnode.ts"
import type { HostStat } from "./HostCalls.ts"
import type { HostFd } from "./HostFd.ts"
import type { HostMount } from "./HostMount.ts"
import type { HostId, SidecarRecord } from "./Sidecar.ts"

const NS = 1_000_000_000n
const EPOCH: Timespec = { sec: 0n, nsec: 0 }

const timespecOf = (ns: bigint): Timespec => ({ sec: ns / NS, nsec: Number(ns % NS) })

/**
 * The kernel's st_ino for a host inode number: the same number, which
 * stays the same across restarts. A number past 2^53 (overlayfs sets high
 * bits) is folded into 53 bits.
 */
export const inoNumber = (ino: bigint): number =>
  ino <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(ino) : Number(BigInt.asUintN(53, ino ^ (ino >> 53n)))

/** The kinds a host node is for the kernel: a placeholder file's record may make it a device, fifo or socket. */
export type HostNodeKind = "reg" | "dir" | "lnk" | "chr" | "blk" | "fifo" | "sock"

export abstract class HostNodeBase extends VnodeAttrs {
  readonly fs = "host"
  readonly mount: HostMount
  readonly id: HostId
  /** The vnode cache's key (VnodeCache.vnodeKey of st_dev and st_ino). */
  readonly key: bigint
  readonly ino: number
  /** A file handle's generation: the birth time's low bits, the same for every vnode of the inode. */
  readonly gen: number
  /** The directory it was found in (the mount's root for the root itself), and its name there. */
  parent: HostDirectory
  name: string
  /** The path descriptor of the host inode; none once the vnode cache dropped it (reopened by name when needed). */
  fd: HostFd | undefined = undefined
  /** What the sidecar holds for it; none: the host's own attributes. */
  record: SidecarRecord | undefined
  /** The host's st_size, st_blocks (512-byte units) and st_blksize. */
  size = 0
  blocks = 0
  blksize = 4096
  /** The host's own owners and permission bits (the record's override them). */
  hostUid = 0
  hostGid = 0
  hostMode = 0

  constructor(mount: HostMount, parent: HostDirectory | undefined, name: string, st: HostStat, key: bigint, record: SidecarRecord | undefined) {
    super(0, 0, 0, EPOCH)
    this.mount = mount
    this.id = { dev: st.dev, ino: st.ino, birth: st.birthtimeNs }
    this.key = key
    this.ino = inoNumber(st.ino)
    this.gen = Number(BigInt.asUintN(31, st.birthtimeNs ^ (st.birthtimeNs >> 31n)))
    this.parent = parent ?? (this as HostNodeBase as HostDirectory)
    this.name = name
    this.record = record
    this.applyStat(st)
  }

  /** The host's change time at the last refresh: while it stays, only the access time may have moved. */
  #ctimeNs = -1n

  /** The host's stat with the sidecar record over it. */
  applyStat(st: HostStat): void {
    if (st.ctimeNs === this.#ctimeNs) {
      if (st.atimeNs !== this.#atimeNs) this.setAtime(st.atimeNs)
      return
    }
    this.#ctimeNs = st.ctimeNs
    const r = this.record
    this.hostMode = Number(st.mode) & 0o7777
    this.hostUid = Number(st.uid)
    this.hostGid = Number(st.gid)
    this.mode = r?.mode ?? this.hostMode
    this.uid = r?.uid ?? this.hostUid
    this.gid = r?.gid ?? this.hostGid
    this.flags = r?.flags ?? 0
    this.nlink = Number(st.nlink)
    this.size = Number(st.size)
    this.blocks = Number(st.blocks)
    this.blksize = Number(st.blksize)
    this.setAtime(st.atimeNs)
    this.mtime = timespecOf(st.mtimeNs)
    this.ctime = timespecOf(st.ctimeNs)
    this.birthtime = st.birthtimeNs === 0n ? this.ctime : timespecOf(st.birthtimeNs)
  }

  #atimeNs = -1n

  private setAtime(ns: bigint): void {
    this.#atimeNs = ns
    this.atime = timespecOf(ns)
  }

  /** The sidecar record changed what the host's stat shows: the next refresh applies it again. */
  recordChanged(): void {
    this.#ctimeNs = -1n
  }
}

export class HostRegular extends HostNodeBase {
  readonly type = "reg"
}

export class HostDirectory extends HostNodeBase {
  readonly type = "dir"
  /** The file system mounted on this directory, which hides its contents. */
  mountedHere: Mount | undefined = undefined
  /** rmdir took it away through the kernel: nothing may be created in it any more. */
  removed = false
}

export class HostSymlink extends HostNodeBase {
  readonly type = "lnk"
  /** Its target, read (readlink) when first needed: a symlink's target never changes. */
  target: string | undefined = undefined
}

/**
 * A device node, fifo or socket: a placeholder file whose record has the
 * type (and a device's number); a device has the driver of its number.
 */
export class HostSpecial extends HostNodeBase {
  readonly type: "chr" | "blk" | "fifo" | "sock"
  readonly driver: DeviceDriver | undefined

  constructor(
    mount: HostMount,
    parent: HostDirectory,
    name: string,
    st: HostStat,
    key: bigint,
    record: SidecarRecord | undefined,
    type: "chr" | "blk" | "fifo" | "sock",
    driver: DeviceDriver | undefined
  ) {
    super(mount, parent, name, st, key, record)
    this.type = type
    this.driver = driver
  }
}

export type HostVnode = HostRegular | HostDirectory | HostSymlink | HostSpecial
