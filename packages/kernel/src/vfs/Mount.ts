/**
 * A mounted tmpfs: its device number, its root, the directory it covers,
 * and what it hands out — inode numbers and, within its own limits and the
 * machine's memory, nodes and data pages; and what statvfs reports of it
 * (its name, owner, flags and usage). A host directory is mounted as a
 * HostMount (host/HostMount.ts); `Mount` is either.
 */
import type { Statvfs } from "@sysproxy/protocol"
import type { Timespec } from "../abi/Timespec.ts"
import type { FileOps } from "../fd/File.ts"
import { FileData, PAGE_SIZE, type Space } from "./FileData.ts"
import type { HostMount } from "./host/HostMount.ts"
import {
  type DeviceDriver,
  DeviceNode,
  type Directory,
  DirectoryNode,
  RegularNode,
  SpecialNode,
  SymlinkNode,
  type TmpfsVnode,
  type Vnode
} from "./Vnode.ts"

/** A mounted file system of either kind: `fstype` tells them apart. */
export type Mount = TmpfsMount | HostMount

/** The machine's memory, shared by every tmpfs: file data may not outgrow it. */
export interface Memory {
  readonly limitPages: number
  usedPages: number
}

/** A new node's owner and permission bits. */
export interface Attrs {
  readonly mode: number
  readonly uid: number
  readonly gid: number
}

export interface MountOptions {
  readonly dev: number
  readonly covered: Directory | undefined
  readonly memory: Memory
  readonly clock: () => Timespec
  readonly root: Attrs
  /** Most data pages (tmpfs_args ta_size_max); none: only the machine's memory. */
  readonly pagesMax?: number | undefined
  /** Most nodes (tmpfs_args ta_nodes_max); none: no limit beyond memory. */
  readonly nodesMax?: number | undefined
  /** tm_mem_limit: the size limit in bytes as asked (none: UINT64_MAX, no limit). */
  readonly memLimit?: bigint | undefined
  /** f_mntonname: the path as the mount call gave it ("/" for the root file system). */
  readonly onName?: string | undefined
  /** f_owner: the uid that mounted it. */
  readonly owner?: number | undefined
  /** The MNT_* flags it was mounted with (MNT_LOCAL is always added). */
  readonly flags?: number | undefined
}

/** sizeof(struct tmpfs_node) on amd64: tmpfs_statvfs counts free nodes in units of it. */
export const TMPFS_NODE_SIZE = 208

/** MNT_LOCAL: every tmpfs is local. */
const MNT_LOCAL = 0x1000
/** MNT_RDONLY: mounted read-only. */
const MNT_RDONLY = 0x1

/** What a file system's own accounting says of its space and nodes (tmpfs_statvfs). */
export interface Usage {
  /** Pages it may hold at most now: its limit, or what it holds plus the machine's free memory. */
  readonly blocks: number
  readonly bfree: number
  readonly files: number
  readonly ffree: number
}

/** The root directory's inode number, as on most file systems. */
export const ROOT_INO = 2

/** UINT64_MAX: tm_mem_limit of a tmpfs with no size limit of its own. */
const UINT64_MAX = 0xffff_ffff_ffff_ffffn
/** INT_MAX: tm_nodes_max of a tmpfs with no node limit of its own. */
const INT_MAX = 0x7fff_ffff

/** What MNT_GETARGS reads back from a tmpfs (struct tmpfs_args's fields). */
export interface TmpfsMountArgs {
  readonly nodesMax: number
  readonly sizeMax: bigint
  readonly root: Attrs
}

export class TmpfsMount {
  readonly fstype = "tmpfs"
  readonly dev: number
  /** The directory this file system is mounted on (none for the root file system). */
  readonly covered: Directory | undefined
  readonly clock: () => Timespec
  readonly root: DirectoryNode
  nodes = 0
  pages = 0
  readonly onName: string
  readonly owner: number
  /** mnt_flag: the MNT_* flags statvfs shows in f_flag. */
  readonly flags: number
  /** Mounted with MNT_RDONLY: every change to it is EROFS (tmpfs's checks of mnt_flag). */
  readonly readOnly: boolean
  /** The figures of the last statvfs that asked for fresh ones: what ST_NOWAIT answers (mnt_stat). */
  lastStat: Statvfs | undefined = undefined
  /** unmount took it away: nothing may be mounted on or looked up in it any more. */
  unmounted = false
  /** Its nodes that are not reclaimed, by inode number (tmpfs's tm_nodes: file handles find them here). */
  readonly byIno = new Map<number, TmpfsVnode>()
  private nextIno = ROOT_INO
  private readonly memory: Memory
  private readonly pagesMax: number
  private readonly nodesMax: number
  private readonly memLimit: bigint

  constructor(options: MountOptions) {
    this.dev = options.dev
    this.covered = options.covered
    this.memory = options.memory
    this.clock = options.clock
    this.pagesMax = options.pagesMax ?? Number.POSITIVE_INFINITY
    this.nodesMax = options.nodesMax ?? Number.POSITIVE_INFINITY
    this.memLimit = options.memLimit ?? UINT64_MAX
    this.onName = options.onName ?? "/"
    this.owner = options.owner ?? 0
    this.flags = (options.flags ?? 0) | MNT_LOCAL
    this.readOnly = (this.flags & MNT_RDONLY) !== 0
    this.root = new DirectoryNode(this.init(options.root), undefined)
    this.nodes = 1
  }

  /** tmpfs_statvfs: data pages against the limit (or the free memory), nodes against theirs and the room left. */
  usage(): Usage {
    const free = this.memory.limitPages - this.memory.usedPages
    const blocks = Math.min(this.pagesMax, this.pages + free)
    const bfree = Math.max(0, blocks - this.pages)
    const ffree = Math.max(0, Math.min(this.nodesMax - this.nodes, Math.floor((bfree * PAGE_SIZE) / TMPFS_NODE_SIZE)))
    return { blocks, bfree, files: this.nodes + ffree, ffree }
  }

  /** tmpfs_mount's MNT_GETARGS answer: its limits, and its root's owner and permission bits as they are now. */
  args(): TmpfsMountArgs {
    const r = this.root
    return {
      nodesMax: Number.isFinite(this.nodesMax) ? this.nodesMax : INT_MAX,
      sizeMax: this.memLimit,
      root: { uid: r.uid, gid: r.gid, mode: r.mode & 0o7777 }
    }
  }

  /** Data pages come from this file system's allowance and the machine's memory. */
  readonly space: Space = {
    take: (n) => {
      if (this.pages + n > this.pagesMax || this.memory.usedPages + n > this.memory.limitPages) return false
      this.pages += n
      this.memory.usedPages += n
      return true
    },
    give: (n) => {
      this.pages -= n
      this.memory.usedPages -= n
    }
  }

  private init(attrs: Attrs) {
    return { mount: this, ino: this.nextIno++, mode: attrs.mode, uid: attrs.uid, gid: attrs.gid, now: this.clock() }
  }

  /** Room for one more node (ENOSPC otherwise); as tmpfs_alloc_node, the count may not reach nodes_max. */
  private hasRoom(): boolean {
    if (this.nodes + 1 >= this.nodesMax) return false
    this.nodes++
    return true
  }

  /** A regular file; its data from this file system's space unless given, with ops of its own (a host file mapping's). */
  newRegular(attrs: Attrs, data?: FileData, ops?: FileOps): RegularNode | undefined {
    return this.hasRoom() ? new RegularNode(this.init(attrs), data ?? new FileData(this.space), ops) : undefined
  }

  newDirectory(attrs: Attrs, parent: DirectoryNode): DirectoryNode | undefined {
    return this.hasRoom() ? new DirectoryNode(this.init(attrs), parent) : undefined
  }

  newSymlink(attrs: Attrs, target: string): SymlinkNode | undefined {
    return this.hasRoom() ? new SymlinkNode(this.init(attrs), target) : undefined
  }

  newDevice(attrs: Attrs, driver: DeviceDriver, type: "chr" | "blk" = "chr"): DeviceNode | undefined {
    return this.hasRoom() ? new DeviceNode(this.init(attrs), driver, type) : undefined
  }

  /** A fifo, socket or block node (a bound AF_LOCAL socket's name). */
  newSpecial(attrs: Attrs, type: "fifo" | "sock" | "blk"): SpecialNode | undefined {
    return this.hasRoom() ? new SpecialNode(this.init(attrs), type) : undefined
  }

  /** Gives a node's space back once nothing names it and nothing has it open. */
  release(node: Vnode): void {
    if (node.fs !== "tmpfs" || node.reclaimed || node.nlink > 0 || node.opens > 0) return
    node.reclaimed = true
    this.byIno.delete(node.ino)
    this.nodes--
    if (node.type === "reg") node.data.clear()
  }
}
