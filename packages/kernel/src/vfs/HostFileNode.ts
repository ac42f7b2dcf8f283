/**
 * Host file mappings in the kernel's name space (KernelConfig.hostFiles):
 * at boot each HostFile window is given a name (its `key`, such as
 * /dev/wd0 or /img/disk) and appears there as a regular file, a block
 * device or a character device. A regular file keeps the tmpfs semantics
 * of every other one, its bytes being the host window (HostFileData); a
 * device reads and writes the window at the file offset, as a disk does.
 * Missing directories on the way to the key are made (root's, 0755).
 * A host failure while serving one is the caller's EIO (HostIo.ts).
 */
import { Errno, pollEvents } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { FileOps } from "../fd/File.ts"
import { sysErr } from "../kern/SysErr.ts"
import { makedev } from "./Devices.ts"
import { FileData, PAGE_SIZE } from "./FileData.ts"
import { type HostFile, HostFileError, type HostFileType } from "./HostFile.ts"
import { hostIo } from "./HostIo.ts"
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

/** A regular file's data that is a host window: no kernel memory, a fixed size. */
export class HostFileData extends FileData {
  private readonly file: HostFile

  constructor(file: HostFile) {
    super(NO_SPACE)
    this.file = file
    this.size = file.size
  }

  /** st_blocks: the window counts as fully allocated. */
  override get pageCount(): number {
    return Math.ceil(this.file.size / PAGE_SIZE)
  }

  override read(offset: number, len: number): Uint8Array {
    return this.file.read(offset, len)
  }

  override write(offset: number, data: Uint8Array): boolean {
    return this.file.write(offset, data)
  }

  override sync(): void {
    this.file.sync()
  }

  /** The window's size is fixed: truncating leaves it as it is. */
  override resize(_size: number): void {}

  /** Unlinking the name leaves the host file alone. */
  override clear(): void {}
}

const READY = pollEvents.POLLIN | pollEvents.POLLRDNORM | pollEvents.POLLOUT | pollEvents.POLLWRNORM

const deviceDriver = (name: string, minor: number, file: HostFile): DeviceDriver => {
  const ops: FileOps = {
    kind: "device",
    seekable: true,
    read: (_ctx, f, len, offset) =>
      Effect.suspend(() => {
        const at = offset ?? f.offset
        if (at < 0n) return sysErr(Errno.EINVAL)
        const pos = at > BigInt(file.size) ? file.size : Number(at)
        return hostIo(() => file.read(pos, len)).pipe(
          Effect.map((data) => {
            if (offset === undefined) f.offset = at + BigInt(data.length)
            return data
          })
        )
      }),
    write: (_ctx, f, data, offset) =>
      Effect.suspend(() => {
        const at = offset ?? f.offset
        if (at < 0n) return sysErr(Errno.EINVAL)
        if (data.length === 0) return Effect.succeed(0)
        if (at + BigInt(data.length) > BigInt(file.size)) return sysErr(Errno.ENOSPC)
        return hostIo(() => file.write(Number(at), data)).pipe(
          Effect.map(() => {
            if (offset === undefined) f.offset = at + BigInt(data.length)
            return data.length
          })
        )
      }),
    poll: (_f, events) => events & READY,
    size: () => BigInt(file.size),
    sync: () => hostIo(() => file.sync()),
    close: () => Effect.void
  }
  return { name, rdev: makedev(ETFS_MAJOR, minor), ops }
}

/** The directory a path's components lead to, made as needed; descends into file systems mounted on the way. */
const directoryFor = (
  vfs: Vfs,
  names: ReadonlyArray<string>,
  refuse: (why: string) => HostFileError
): Effect.Effect<DirectoryNode, HostFileError> =>
  Effect.suspend(() => {
    let dir = vfs.root
    for (const name of names) {
      const next = dir.entries.get(name)?.node
      if (next === undefined) {
        const made = dir.mount.newDirectory({ mode: 0o755, uid: 0, gid: 0 }, dir)
        if (made === undefined) return Effect.fail(refuse(`no room for the directory ${name}`))
        dir.addEntry(name, made)
        dir.nlink++
        dir = made
      } else if (next.type === "dir") {
        dir = next.mountedHere?.root ?? next
      } else {
        return Effect.fail(refuse(`${name} is not a directory`))
      }
    }
    return Effect.succeed(dir.mountedHere?.root ?? dir)
  })

/** Names `mapping` in the kernel's tree; HostFileError for a key that is not absolute, is taken, or lies on the host root. */
export const installHostFile = (vfs: Vfs, mapping: HostFileMapping, minor: number): Effect.Effect<void, HostFileError> =>
  Effect.gen(function*() {
    const { key, type, file } = mapping
    const refuse = (why: string) => new HostFileError({ hostPath: file.hostPath, message: `host file key ${JSON.stringify(key)}: ${why}` })
    const names = key.split("/").filter((c) => c.length > 0 && c !== ".")
    const last = names.pop()
    if (!key.startsWith("/") || last === undefined || names.includes("..") || last === "..") {
      return yield* refuse("an absolute path below / is needed")
    }
    const dir = yield* directoryFor(vfs, names, refuse)
    if (vfs.host !== undefined && dir.mount === vfs.host.mount) {
      // the mirror would copy the window into the host directory
      return yield* refuse("cannot be placed on the host-backed file system")
    }
    if (dir.entries.has(last)) return yield* refuse("the name exists already")
    const attrs = { mode: type === "reg" ? 0o644 : 0o600, uid: 0, gid: 0 }
    const node = type === "reg"
      ? dir.mount.newRegular(attrs, new HostFileData(file))
      : dir.mount.newDevice(attrs, deviceDriver(last, minor, file), type)
    if (node === undefined) return yield* refuse("no room for the node")
    dir.addEntry(last, node)
  })
