/**
 * Host file mappings in the kernel's name space (KernelConfig.hostFiles):
 * at boot each HostFile window is given a name (its `key`, such as
 * /dev/wd0 or /img/disk) and appears there as a regular file, a block
 * device or a character device, in a tmpfs (never on a host file system,
 * where the name would be the host's). Either reads and writes the window
 * at the file offset, as a disk does, with the host's asynchronous calls
 * (HostFile.ts); a regular file's size is the window's, which truncation
 * leaves as it is. Missing directories on the way to the key are made
 * (root's, 0755). A host failure is the caller's errno.
 */
import { Errno, pollEvents } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { File, FileOps } from "../fd/File.ts"
import { vnodeKqfilter } from "../kqueue/filters/VnodeFilter.ts"
import { knoteWritten } from "../kqueue/VnodeEvents.ts"
import { sysErr } from "../kern/SysErr.ts"
import { markAccessed, markModified } from "./Attributes.ts"
import { makedev } from "./Devices.ts"
import { FileData, PAGE_SIZE } from "./FileData.ts"
import { type HostFile, HostFileError, type HostFileType } from "./HostFile.ts"
import { mountedRoot } from "./Namei.ts"
import type { Vfs } from "./Vfs.ts"
import type { DeviceDriver, DirectoryNode } from "./Vnode.ts"

export interface HostFileMapping {
  /** The absolute path the window appears at. */
  readonly key: string
  readonly type: HostFileType
  readonly file: HostFile
}

/** rumpblk's device major, which NetBSD's etfs devices carry. */
const ETFS_MAJOR = 197

const NO_SPACE = { take: () => false, give: () => {} }

/** A regular file's data that is a host window: no kernel memory, a fixed size; read and written by the window's ops. */
class WindowData extends FileData {
  readonly #pages: number

  constructor(file: HostFile) {
    super(NO_SPACE)
    this.size = file.size
    this.#pages = Math.ceil(file.size / PAGE_SIZE)
  }

  /** st_blocks: the window counts as fully allocated. */
  override get pageCount(): number {
    return this.#pages
  }

  /** The window's size is fixed: truncating leaves it as it is. */
  override resize(_size: number): void {}

  /** Unlinking the name leaves the host file alone. */
  override clear(): void {}
}

const READY = pollEvents.POLLIN | pollEvents.POLLRDNORM | pollEvents.POLLOUT | pollEvents.POLLWRNORM

/** The node is no longer open through `file` (a regular window's name counts its opens as any file's). */
const closeWindow = (f: File): Effect.Effect<void> =>
  Effect.sync(() => {
    const node = f.vnode
    if (node === undefined) return
    node.opens--
    node.mount.release(node)
  })

/** Reads and writes of the window at the file offset; `kind` "vnode" for a regular file (its times and knotes kept). */
const windowOps = (file: HostFile, kind: "vnode" | "device"): FileOps => ({
  kind,
  seekable: true,
  read: (_ctx, f, len, offset) =>
    Effect.suspend(() => {
      const at = offset ?? f.offset
      if (at < 0n) return sysErr(Errno.EINVAL)
      const pos = at > BigInt(file.size) ? file.size : Number(at)
      return Effect.map(file.read(pos, len), (data) => {
        if (offset === undefined) f.offset = at + BigInt(data.length)
        if (kind === "vnode" && f.vnode !== undefined) markAccessed(f.vnode)
        return data
      })
    }),
  write: (_ctx, f, data, offset) =>
    Effect.suspend(() => {
      const at = offset ?? f.offset
      if (at < 0n) return sysErr(Errno.EINVAL)
      if (data.length === 0) return Effect.succeed(0)
      if (at + BigInt(data.length) > BigInt(file.size)) return sysErr(Errno.ENOSPC)
      return Effect.map(file.write(Number(at), data), () => {
        if (offset === undefined) f.offset = at + BigInt(data.length)
        if (kind === "vnode" && f.vnode !== undefined) {
          markModified(f.vnode)
          knoteWritten(f.vnode, false)
        }
        return data.length
      })
    }),
  poll: (_f, events) => events & READY,
  ...(kind === "vnode" ? { kqfilter: vnodeKqfilter } : {}),
  size: () => BigInt(file.size),
  sync: (_f, dataOnly) => file.sync(dataOnly),
  close: kind === "vnode" ? closeWindow : () => Effect.void
})

const deviceDriver = (name: string, minor: number, file: HostFile): DeviceDriver => ({
  name,
  rdev: makedev(ETFS_MAJOR, minor),
  ops: windowOps(file, "device")
})

/** The tmpfs directory a path's components lead to, made as needed; descends into file systems mounted on the way. */
const directoryFor = (
  vfs: Vfs,
  names: ReadonlyArray<string>,
  refuse: (why: string) => HostFileError
): Effect.Effect<DirectoryNode, HostFileError> =>
  Effect.suspend(() => {
    let dir = mountedRoot(vfs.root)
    for (const name of names) {
      // a window's name is the kernel's: on a host file system it would be the host's
      if (dir.fs === "host") return Effect.fail(refuse("cannot be placed on a host file system"))
      const next = dir.entries.get(name)?.node
      if (next === undefined) {
        const made = dir.mount.newDirectory({ mode: 0o755, uid: 0, gid: 0 }, dir)
        if (made === undefined) return Effect.fail(refuse(`no room for the directory ${name}`))
        dir.addEntry(name, made)
        dir.nlink++
        dir = made
      } else if (next.type === "dir") {
        dir = mountedRoot(next)
      } else {
        return Effect.fail(refuse(`${name} is not a directory`))
      }
    }
    return dir.fs === "host" ? Effect.fail(refuse("cannot be placed on a host file system")) : Effect.succeed(dir)
  })

/** Names `mapping` in the kernel's tree; HostFileError for a key that is not absolute, is taken, or lies on a host file system. */
export const installHostFile: (vfs: Vfs, mapping: HostFileMapping, minor: number) => Effect.Effect<void, HostFileError> = Effect.fnUntraced(
  function*(vfs: Vfs, mapping: HostFileMapping, minor: number) {
    const { key, type, file } = mapping
    const refuse = (why: string) => new HostFileError({ hostPath: file.hostPath, message: `host file key ${JSON.stringify(key)}: ${why}` })
    const names = key.split("/").filter((c) => c.length > 0 && c !== ".")
    const last = names.pop()
    if (!key.startsWith("/") || last === undefined || names.includes("..") || last === "..") {
      return yield* refuse("an absolute path below / is needed")
    }
    const dir = yield* directoryFor(vfs, names, refuse)
    if (dir.entries.has(last)) return yield* refuse("the name exists already")
    const attrs = { mode: type === "reg" ? 0o644 : 0o600, uid: 0, gid: 0 }
    const node = type === "reg"
      ? dir.mount.newRegular(attrs, new WindowData(file), windowOps(file, "vnode"))
      : dir.mount.newDevice(attrs, deviceDriver(last, minor, file), type)
    if (node === undefined) return yield* refuse("no room for the node")
    dir.addEntry(last, node)
  })
