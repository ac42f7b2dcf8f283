/**
 * Host file mappings in the kernel's name space (KernelConfig.hostFiles):
 * at boot each HostFile window is given a name (its `key`, such as
 * /dev/wd0 or /img/disk) and appears there as a regular file, a block
 * device or a character device. A regular file keeps the tmpfs semantics
 * of every other one, its bytes being the host window (HostFileData); a
 * device reads and writes the window at the file offset, as a disk does.
 * Missing directories on the way to the key are made (root's, 0755).
 */
import { Errno, pollEvents } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { FileOps } from "../fd/File.ts"
import { sysErr, type SysErr } from "../syscalls/SysErr.ts"
import { makedev } from "./Devices.ts"
import { FileData } from "./FileData.ts"
import type { HostFile, HostFileType } from "./HostFile.ts"
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
    return Math.ceil(this.file.size / 4096)
  }

  override read(offset: number, len: number): Uint8Array {
    return this.file.read(offset, len)
  }

  override write(offset: number, data: Uint8Array): boolean {
    return this.file.write(offset, data)
  }

  /** The window's size is fixed: truncating leaves it as it is. */
  override resize(_size: number): void {}

  /** Unlinking the name leaves the host file alone. */
  override clear(): void {}
}

const READY = pollEvents.POLLIN | pollEvents.POLLRDNORM | pollEvents.POLLOUT | pollEvents.POLLWRNORM

/** Runs host I/O, turning a host failure into EIO. */
const hostIo = <A>(f: () => A): Effect.Effect<A, SysErr> =>
  Effect.suspend(() => {
    try {
      return Effect.succeed(f())
    } catch {
      return sysErr(Errno.EIO)
    }
  })

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
    close: () => Effect.void
  }
  return { name, rdev: makedev(ETFS_MAJOR, minor), ops }
}

/** The directory a path's components lead to, made as needed; descends into file systems mounted on the way. */
const directoryFor = (vfs: Vfs, names: ReadonlyArray<string>, key: string): DirectoryNode => {
  let dir = vfs.root
  for (const name of names) {
    const next = dir.entries.get(name)?.node
    if (next === undefined) {
      const made = dir.mount.newDirectory({ mode: 0o755, uid: 0, gid: 0 }, dir)
      if (made === undefined) throw new Error(`host file ${key}: no room for the directory ${name}`)
      dir.addEntry(name, made)
      dir.nlink++
      dir = made
    } else if (next.type === "dir") {
      dir = next.mountedHere?.root ?? next
    } else {
      throw new Error(`host file ${key}: ${name} is not a directory`)
    }
  }
  return dir.mountedHere?.root ?? dir
}

/** Names `mapping` in the kernel's tree. Throws for a key that is not absolute or is already taken. */
export const installHostFile = (vfs: Vfs, mapping: HostFileMapping, minor: number): void => {
  const { key, type, file } = mapping
  const names = key.split("/").filter((c) => c.length > 0 && c !== ".")
  const last = names.pop()
  if (!key.startsWith("/") || last === undefined || names.includes("..") || last === "..") {
    throw new Error(`host file key ${JSON.stringify(key)}: an absolute path below / is needed`)
  }
  const dir = directoryFor(vfs, names, key)
  if (vfs.host !== undefined && dir.mount === vfs.host.mount) {
    // the mirror would copy the window into the host directory
    throw new Error(`host file ${key}: cannot be placed on the host-backed file system`)
  }
  if (dir.entries.has(last)) throw new Error(`host file ${key}: the name exists already`)
  const attrs = { mode: type === "reg" ? 0o644 : 0o600, uid: 0, gid: 0 }
  const node = type === "reg"
    ? dir.mount.newRegular(attrs, new HostFileData(file))
    : dir.mount.newDevice(attrs, deviceDriver(last, minor, file), type)
  if (node === undefined) throw new Error(`host file ${key}: no room for the node`)
  dir.addEntry(last, node)
}
