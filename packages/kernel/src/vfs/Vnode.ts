/**
 * File system nodes. Every node has the attributes stat reports; the kind
 * of node decides what else it holds: a regular file its data, a directory
 * its entries, a symlink its target, a device node its driver.
 */
import { direntTypes, modeBits } from "@sysproxy/protocol/netbsd"
import type { Timespec } from "../abi/Timespec.ts"
import type { FileOps } from "../fd/File.ts"
import { KnoteList } from "../kqueue/Knote.ts"
import type { FileData } from "./FileData.ts"
import type { Mount } from "./Mount.ts"

export type VnodeType = "reg" | "dir" | "lnk" | "chr" | "blk" | "fifo" | "sock"

/** S_IF* for each type. */
export const typeBits: Readonly<Record<VnodeType, number>> = {
  reg: modeBits.S_IFREG,
  dir: modeBits.S_IFDIR,
  lnk: modeBits.S_IFLNK,
  chr: modeBits.S_IFCHR,
  blk: modeBits.S_IFBLK,
  fifo: modeBits.S_IFIFO,
  sock: modeBits.S_IFSOCK
}

/** DT_* for each type (getdents d_type). */
export const direntType: Readonly<Record<VnodeType, number>> = {
  reg: direntTypes.DT_REG,
  dir: direntTypes.DT_DIR,
  lnk: direntTypes.DT_LNK,
  chr: direntTypes.DT_CHR,
  blk: direntTypes.DT_BLK,
  fifo: direntTypes.DT_FIFO,
  sock: direntTypes.DT_SOCK
}

/** What every node has. */
export interface NodeInit {
  readonly mount: Mount
  readonly ino: number
  /** Permission bits (07777). */
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly now: Timespec
}

abstract class NodeBase {
  readonly mount: Mount
  readonly ino: number
  /** Permission bits only; the type bits come from `type`. */
  mode: number
  uid: number
  gid: number
  nlink = 1
  /** st_flags: the chflags(2) bits (UF_* and SF_*; see Flags.ts). */
  flags = 0
  atime: Timespec
  mtime: Timespec
  birthtime: Timespec
  #ctime: Timespec
  /** Open files on this node: an unlinked regular file keeps its data while any is open. */
  opens = 0
  /** The node's space went back to its file system (no links and no opens left). */
  reclaimed = false
  /** tn_gen: a file handle (FileHandle.ts) names the node by inode number and this. */
  readonly gen = Math.floor(Math.random() * 0x8000_0000)
  /** Knotes on the node (EVFILT_VNODE, EVFILT_READ): told of its changes (kqueue/VnodeEvents.ts). */
  readonly knotes = new KnoteList()

  constructor(init: NodeInit) {
    this.mount = init.mount
    this.ino = init.ino
    this.mode = init.mode
    this.uid = init.uid
    this.gid = init.gid
    this.atime = init.now
    this.mtime = init.now
    this.#ctime = init.now
    this.birthtime = init.now
    this.mount.byIno.set(this.ino, this as NodeBase as Vnode)
    this.mount.onChange?.(this as NodeBase as Vnode)
  }

  get ctime(): Timespec {
    return this.#ctime
  }

  /** Every data, attribute and namespace change sets ctime: the mount hears of it (a host-backed one writes the node back). */
  set ctime(t: Timespec) {
    this.#ctime = t
    this.mount.onChange?.(this as NodeBase as Vnode)
  }
}

export class RegularNode extends NodeBase {
  readonly type = "reg"
  readonly data: FileData

  constructor(init: NodeInit, data: FileData) {
    super(init)
    this.data = data
  }
}

export interface DirEntry {
  readonly node: Vnode
  /** Position in the listing: getdents's file offset points at an entry by its cookie. */
  readonly cookie: number
}

/** Cookies 0 and 1 are `.` and `..`; entries count from here. */
export const FIRST_COOKIE = 2

export class DirectoryNode extends NodeBase {
  readonly type = "dir"
  /** Entries in creation order (which is cookie order). */
  readonly entries = new Map<string, DirEntry>()
  nextCookie = FIRST_COOKIE
  /** The directory holding this one in its own file system (itself for a file system root). */
  parent: DirectoryNode
  /** The file system mounted on this directory, which hides its contents. */
  mountedHere: Mount | undefined = undefined

  constructor(init: NodeInit, parent: DirectoryNode | undefined) {
    super(init)
    this.nlink = 2
    this.parent = parent ?? this
  }

  /** rmdir took it away: nothing may be created in it any more. */
  get removed(): boolean {
    return this.nlink === 0
  }

  addEntry(name: string, node: Vnode): void {
    this.entries.set(name, { node, cookie: this.nextCookie++ })
  }
}

export class SymlinkNode extends NodeBase {
  readonly type = "lnk"
  readonly target: string

  constructor(init: NodeInit, target: string) {
    super(init)
    this.target = target
  }
}

/** A character device: what opening it gives. */
export interface DeviceDriver {
  readonly name: string
  readonly rdev: number
  readonly ops: FileOps
  /** st_nlink as the reference shows it, when it is not the link count (the console's is 0). */
  readonly shownNlink?: number
  /** No driver has these numbers (a node mknod made): opening it is ENXIO, as spec_open. */
  readonly absent?: boolean
}

/** A device node: a character device, or a block device (a host file mapping, see HostFileNode.ts). */
export class DeviceNode extends NodeBase {
  readonly type: "chr" | "blk"
  readonly driver: DeviceDriver

  constructor(init: NodeInit, driver: DeviceDriver, type: "chr" | "blk" = "chr") {
    super(init)
    this.driver = driver
    this.type = type
  }
}

/** Fifos and sockets: typed nodes with nothing behind them yet. */
export class SpecialNode extends NodeBase {
  readonly type: "fifo" | "sock" | "blk"

  constructor(init: NodeInit, type: "fifo" | "sock" | "blk") {
    super(init)
    this.type = type
  }
}

export type Vnode = RegularNode | DirectoryNode | SymlinkNode | DeviceNode | SpecialNode
