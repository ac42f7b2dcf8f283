/**
 * A mounted file system (every one is a tmpfs): its device number, its
 * root, the directory it covers, and what it hands out — inode numbers and,
 * within its own limits and the machine's memory, nodes and data pages.
 */
import type { Timespec } from "../abi/Timespec.ts"
import { FileData, type Space } from "./FileData.ts"
import { type DeviceDriver, DeviceNode, DirectoryNode, RegularNode, SpecialNode, SymlinkNode, type Vnode } from "./Vnode.ts"

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
  readonly covered: DirectoryNode | undefined
  readonly memory: Memory
  readonly clock: () => Timespec
  readonly root: Attrs
  /** Most data pages (tmpfs_args ta_size_max); none: only the machine's memory. */
  readonly pagesMax?: number | undefined
  /** Most nodes (tmpfs_args ta_nodes_max); none: no limit beyond memory. */
  readonly nodesMax?: number | undefined
}

/** The root directory's inode number, as on most file systems. */
export const ROOT_INO = 2

export class Mount {
  readonly fstype = "tmpfs"
  readonly dev: number
  /** The directory this file system is mounted on (none for the root file system). */
  readonly covered: DirectoryNode | undefined
  readonly clock: () => Timespec
  readonly root: DirectoryNode
  nodes = 0
  pages = 0
  /** Told of every node made or changed (its ctime set): how a host-backed mount knows what to write back. */
  onChange: ((node: Vnode) => void) | undefined = undefined
  private nextIno = ROOT_INO
  private readonly memory: Memory
  private readonly pagesMax: number
  private readonly nodesMax: number

  constructor(options: MountOptions) {
    this.dev = options.dev
    this.covered = options.covered
    this.memory = options.memory
    this.clock = options.clock
    this.pagesMax = options.pagesMax ?? Number.POSITIVE_INFINITY
    this.nodesMax = options.nodesMax ?? Number.POSITIVE_INFINITY
    this.root = new DirectoryNode(this.init(options.root), undefined)
    this.nodes = 1
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

  /** Room for one more node (ENOSPC otherwise). */
  private hasRoom(): boolean {
    if (this.nodes >= this.nodesMax) return false
    this.nodes++
    return true
  }

  /** A regular file; its data from this file system's space unless given (a host file mapping's). */
  newRegular(attrs: Attrs, data?: FileData): RegularNode | undefined {
    return this.hasRoom() ? new RegularNode(this.init(attrs), data ?? new FileData(this.space)) : undefined
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
    if (node.reclaimed || node.nlink > 0 || node.opens > 0) return
    node.reclaimed = true
    this.nodes--
    if (node.type === "reg") node.data.clear()
  }
}
