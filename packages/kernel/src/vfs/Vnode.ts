/**
 * File system nodes. Every node has the attributes stat reports; the kind
 * of node decides what else it holds: a regular file its data, a directory
 * its entries, a symlink its target, a device node its driver. A node is
 * tmpfs's (these classes: everything in memory) or a host file system's
 * (host/HostNode.ts: the host holds the data and the names); `fs` tells
 * them apart, so the typechecker finds every place that reads what only a
 * tmpfs node has (`entries`, `data`).
 */
import { direntTypes, modeBits } from "@sysproxy/protocol/netbsd"
import type { Timespec } from "../abi/Timespec.ts"
import type { FileOps } from "../fd/File.ts"
import { KnoteList } from "../kqueue/Knote.ts"
import type { FileData } from "./FileData.ts"
import type { HostVnode, HostDirectory } from "./host/HostNode.ts"
import type { Mount, TmpfsMount } from "./Mount.ts"

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

/** What every tmpfs node is made with. */
export interface NodeInit {
  readonly mount: TmpfsMount
  readonly ino: number
  /** Permission bits (07777). */
  readonly mode: number
  readonly uid: number
  readonly gid: number
  readonly now: Timespec
}

/** What every node has, whatever its file system: the attributes stat reports, and the kernel's own state of it. */
export abstract class VnodeAttrs {
  /** Permission bits only; the type bits come from `type`. */
  mode: number
  uid: number
  gid: number
  nlink = 1
  /** st_flags: the chflags(2) bits (UF_* and SF_*; see Flags.ts). */
  flags = 0
  atime: Timespec
  mtime: Timespec
  ctime: Timespec
  birthtime: Timespec
  /** Open files on this node: an unlinked regular file keeps its data while any is open. */
  opens = 0
  /** The node's space went back to its file system (no links and no opens left). */
  reclaimed = false
  /** Knotes on the node (EVFILT_VNODE, EVFILT_READ): told of its changes (kqueue/VnodeEvents.ts). */
  readonly knotes = new KnoteList()

  constructor(mode: number, uid: number, gid: number, now: Timespec) {
    this.mode = mode
    this.uid = uid
    this.gid = gid
    this.atime = now
    this.mtime = now
    this.ctime = now
    this.birthtime = now
  }
}

abstract class NodeBase extends VnodeAttrs {
  readonly fs = "tmpfs"
  readonly mount: TmpfsMount
  readonly ino: number
  /** tn_gen: a file handle (FileHandle.ts) names the node by inode number and this. */
  readonly gen = Math.floor(Math.random() * 0x8000_0000)

  constructor(init: NodeInit) {
    super(init.mode, init.uid, init.gid, init.now)
    this.mount = init.mount
    this.ino = init.ino
    this.mount.byIno.set(this.ino, this as NodeBase as TmpfsVnode)
  }
}

export class RegularNode extends NodeBase {
  readonly type = "reg"
  readonly data: FileData
  /** What an open file on it does, when not tmpfs's own regular file ops (a host file mapping's window). */
  readonly ops: FileOps | undefined

  constructor(init: NodeInit, data: FileData, ops?: FileOps) {
    super(init)
    this.data = data
    this.ops = ops
  }
}

export interface DirEntry {
  readonly node: TmpfsVnode
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

  addEntry(name: string, node: TmpfsVnode): void {
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

export type TmpfsVnode = RegularNode | DirectoryNode | SymlinkNode | DeviceNode | SpecialNode

export type Vnode = TmpfsVnode | HostVnode

/** A directory of any file system. */
export type Directory = DirectoryNode | HostDirectory

/** The driver behind a device node of any file system; none for anything else (or a host device no driver has). */
export const driverOf = (node: Vnode): DeviceDriver | undefined =>
  node instanceof DeviceNode ? node.driver : node.fs === "host" && (node.type === "chr" || node.type === "blk") ? node.driver : undefined
