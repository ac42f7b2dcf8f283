/**
 * A host-backed file system: a mount whose tree is loaded from a host
 * directory at boot and written back to it after every change, so what
 * clients write survives a server restart.
 *
 * The design: the mount is an ordinary in-memory tmpfs (so every syscall
 * keeps exactly the tmpfs semantics), mirrored to the host. `load` reads the
 * host tree into it; `flush` (run after each syscall) writes back what
 * changed since the last flush — a node is dirty when its ctime or its path
 * differs from what was last written, which every data, attribute and
 * namespace change brings about — and removes from the host what the
 * client removed (a directory whose entries changed is reconciled with
 * its host copy).
 *
 * Security: the host is never handed a client path. Every host path is the
 * (realpath'd) host root joined with component names taken from the
 * in-memory tree (never "", ".", ".." or containing "/"); symlinks are read
 * with readlink and recreated with symlink, never followed by the host (files
 * are opened O_NOFOLLOW, everything else is lstat'd); the kernel's own namei
 * resolves them inside the namespace, where ".." at the root stays at the
 * root.
 *
 * The host directory belongs to the server while it runs: a file put there
 * behind its back may be removed when the client changes that directory,
 * and two servers must not share one.
 *
 * Not persisted: owners (the host's uid/gid are shown as loaded; chown is
 * kept in memory only), device nodes, fifos and sockets (in memory only),
 * hard links (each name becomes its own host file). The host tree lives in
 * memory as well, so it counts against hw.physmem.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import { compareTimespec, type Timespec } from "../../abi/Timespec.ts"
import { PAGE_SIZE } from "../FileData.ts"
import type { Mount } from "../Mount.ts"
import type { DirectoryNode, Vnode } from "../Vnode.ts"

const NS = 1_000_000_000n

const fromNs = (ns: bigint): Timespec => ({ sec: ns / NS, nsec: Number(ns % NS) })
const toSeconds = (ts: Timespec): number => Number(ts.sec) + ts.nsec / 1e9

/** A name that may be joined to a host path as one component. */
const safeName = (name: string): boolean =>
  name.length > 0 && name !== "." && name !== ".." && !name.includes("/") && !name.includes("\0")

const READ_CHUNK = 1 << 20

const isZero = (bytes: Uint8Array): boolean => {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false
  return true
}

export class HostMirror {
  readonly mount: Mount
  /** The host directory, realpath'd. */
  readonly hostRoot: string
  /** The last failure writing back (the change is retried at the next flush). */
  lastError: unknown = undefined
  /** Reused for reading host files at load. */
  private readonly readBuffer = new Uint8Array(READ_CHUNK)
  /** Per node, per host path it was written to: the ctime it had then. */
  private readonly written = new WeakMap<Vnode, Map<string, Timespec>>()

  /** The clock, unwatched (reading the mount's clock marks a change). */
  private readonly now: () => Timespec
  /** Something on the mount may have changed since the last flush. */
  private pending = true

  /** `now`: the clock the mount's own clock wraps; the mount's must call `touch` on each reading. */
  constructor(mount: Mount, hostPath: string, now: () => Timespec) {
    this.mount = mount
    this.now = now
    Fs.mkdirSync(hostPath, { recursive: true })
    this.hostRoot = Fs.realpathSync(hostPath)
    if (!Fs.statSync(this.hostRoot).isDirectory()) throw new Error(`${hostPath} is not a directory`)
  }

  /** The mount read its clock: a node is being made or changed. */
  touch(): void {
    this.pending = true
  }

  private record(node: Vnode, path: string, ctime: Timespec): void {
    let paths = this.written.get(node)
    if (paths === undefined) {
      paths = new Map()
      this.written.set(node, paths)
    }
    paths.set(path, ctime)
  }

  private clean(node: Vnode, path: string): boolean {
    const ctime = this.written.get(node)?.get(path)
    return ctime !== undefined && compareTimespec(ctime, node.ctime) === 0
  }

  /** Host paths a node was last written to (fsync). */
  pathsOf(node: Vnode): ReadonlyArray<string> {
    return [...(this.written.get(node)?.keys() ?? [])]
  }

  // ---- loading ------------------------------------------------------------

  /** Reads the host tree into the mount's (empty) root. Throws on a host error or when memory runs out. */
  load(): void {
    const root = this.mount.root
    this.applyStat(root, Fs.statSync(this.hostRoot, { bigint: true }))
    this.loadDir(root, this.hostRoot)
    this.record(root, this.hostRoot, root.ctime)
  }

  private applyStat(node: Vnode, st: Fs.BigIntStats): void {
    node.mode = Number(st.mode) & 0o7777
    node.uid = Number(st.uid)
    node.gid = Number(st.gid)
    node.atime = fromNs(st.atimeNs)
    node.mtime = fromNs(st.mtimeNs)
    node.ctime = fromNs(st.ctimeNs)
    node.birthtime = st.birthtimeNs > 0n ? fromNs(st.birthtimeNs) : node.ctime
  }

  private loadDir(dir: DirectoryNode, hostDir: string): void {
    for (const name of Fs.readdirSync(hostDir).sort()) {
      if (!safeName(name)) continue
      const path = hostDir + "/" + name
      const st = Fs.lstatSync(path, { bigint: true })
      const attrs = { mode: Number(st.mode) & 0o7777, uid: Number(st.uid), gid: Number(st.gid) }
      let node: Vnode | undefined
      if (st.isDirectory()) {
        const sub = this.mount.newDirectory(attrs, dir)
        if (sub === undefined) throw new Error("host root: out of nodes")
        this.loadDir(sub, path)
        dir.nlink++
        node = sub
      } else if (st.isFile()) {
        const reg = this.mount.newRegular(attrs)
        if (reg === undefined) throw new Error("host root: out of nodes")
        const fd = Fs.openSync(path, Fs.constants.O_RDONLY | Fs.constants.O_NOFOLLOW)
        try {
          const buf = this.readBuffer
          let offset = 0
          for (;;) {
            const n = Fs.readSync(fd, buf, 0, buf.length, offset)
            if (n === 0) break
            // holes stay holes: all-zero pages only grow the file
            for (let at = 0; at < n; at += PAGE_SIZE) {
              const page = buf.subarray(at, Math.min(n, at + PAGE_SIZE))
              if (!isZero(page) && !reg.data.write(offset + at, page)) throw new Error("host root: out of memory")
            }
            offset += n
          }
          reg.data.resize(offset)
        } finally {
          Fs.closeSync(fd)
        }
        node = reg
      } else if (st.isSymbolicLink()) {
        const link = this.mount.newSymlink(attrs, Fs.readlinkSync(path))
        if (link === undefined) throw new Error("host root: out of nodes")
        node = link
      } else {
        continue // devices, fifos, sockets of the host are not served
      }
      this.applyStat(node, st)
      dir.addEntry(name, node)
      this.record(node, path, node.ctime)
    }
  }

  // ---- writing back -------------------------------------------------------

  /**
   * Writes back every change since the last flush; `durable`: fsync what it
   * writes. Host errors are kept in `lastError`; the change is retried next time.
   */
  flush(durable = false): void {
    if (!this.pending) return
    this.pending = false
    const started = this.now()
    this.flushDir(this.mount.root, this.hostRoot, started, durable)
  }

  /** A node changed in the current clock tick may change again unseen: it stays dirty (and so does the mount). */
  private settle(node: Vnode, path: string, started: Timespec): void {
    if (compareTimespec(node.ctime, started) < 0) this.record(node, path, node.ctime)
    else this.pending = true
  }

  private failed(e: unknown): void {
    this.lastError = e
    this.pending = true
  }

  private flushDir(dir: DirectoryNode, hostDir: string, started: Timespec, durable: boolean): void {
    const dirty = !this.clean(dir, hostDir)
    if (dirty) {
      try {
        // what the client removed or renamed away
        for (const name of Fs.readdirSync(hostDir)) {
          if (!safeName(name)) continue
          const entry = dir.entries.get(name)
          if (entry !== undefined && persisted(entry.node)) continue
          // the host's own fifos, sockets and devices were never served: they stay
          const path = hostDir + "/" + name
          const st = lstatOrUndefined(path)
          if (st !== undefined && (st.isFile() || st.isDirectory() || st.isSymbolicLink())) {
            Fs.rmSync(path, { recursive: true, force: true })
          }
        }
      } catch (e) {
        this.failed(e)
        return
      }
    }
    for (const [name, { node }] of dir.entries) {
      if (!safeName(name)) continue
      const path = hostDir + "/" + name
      try {
        switch (node.type) {
          case "dir":
            if (!this.clean(node, path)) this.ensureDir(path)
            this.flushDir(node, path, started, durable)
            break
          case "reg":
            if (!this.clean(node, path)) {
              this.writeFile(node, path, durable)
              this.settle(node, path, started)
            }
            break
          case "lnk":
            if (!this.clean(node, path)) {
              this.writeSymlink(path, node.target)
              this.settle(node, path, started)
            }
            break
          default:
            break
        }
      } catch (e) {
        this.failed(e)
      }
    }
    if (dirty) {
      try {
        Fs.chmodSync(hostDir, dir.mode & 0o7777)
        Fs.utimesSync(hostDir, toSeconds(dir.atime), toSeconds(dir.mtime))
        if (durable) fsyncPath(hostDir)
        this.settle(dir, hostDir, started)
      } catch (e) {
        this.failed(e)
      }
    }
  }

  /** A directory at `path`, whatever was there before. */
  private ensureDir(path: string): void {
    const st = lstatOrUndefined(path)
    if (st?.isDirectory() === true) return
    if (st !== undefined) Fs.rmSync(path, { recursive: true, force: true })
    Fs.mkdirSync(path, { mode: 0o700 })
  }

  private writeFile(node: Extract<Vnode, { type: "reg" }>, path: string, durable: boolean): void {
    const st = lstatOrUndefined(path)
    if (st !== undefined && !st.isFile()) Fs.rmSync(path, { recursive: true, force: true })
    const fd = Fs.openSync(
      path,
      Fs.constants.O_WRONLY | Fs.constants.O_CREAT | Fs.constants.O_TRUNC | Fs.constants.O_NOFOLLOW,
      0o600
    )
    try {
      const size = node.data.size
      Fs.ftruncateSync(fd, size)
      for (let offset = 0; offset < size; offset += READ_CHUNK) {
        const chunk = node.data.read(offset, READ_CHUNK)
        for (let at = 0; at < chunk.length; at += PAGE_SIZE) {
          const page = chunk.subarray(at, Math.min(chunk.length, at + PAGE_SIZE))
          if (!isZero(page)) Fs.writeSync(fd, page, 0, page.length, offset + at)
        }
      }
      Fs.fchmodSync(fd, node.mode & 0o7777)
      Fs.futimesSync(fd, toSeconds(node.atime), toSeconds(node.mtime))
      if (durable) Fs.fsyncSync(fd)
    } finally {
      Fs.closeSync(fd)
    }
  }

  private writeSymlink(path: string, target: string): void {
    const st = lstatOrUndefined(path)
    if (st?.isSymbolicLink() === true && Fs.readlinkSync(path) === target) return
    if (st !== undefined) Fs.rmSync(path, { recursive: true, force: true })
    Fs.symlinkSync(target, path)
  }

  /** fsync(2) of a node: writes back, then fsyncs its host file(s) and their directories. */
  sync(node: Vnode): void {
    this.flush(true)
    for (const path of this.pathsOf(node)) {
      if (lstatOrUndefined(path) === undefined) continue // a name it had before a rename or unlink
      try {
        fsyncPath(path)
        if (path !== this.hostRoot) fsyncPath(Path.dirname(path))
      } catch (e) {
        this.failed(e)
      }
    }
  }
}

/** Kinds of node the host copy holds. */
const persisted = (node: Vnode): boolean => node.type === "reg" || node.type === "dir" || node.type === "lnk"

const lstatOrUndefined = (path: string): Fs.Stats | undefined => {
  try {
    return Fs.lstatSync(path)
  } catch {
    return undefined
  }
}

const fsyncPath = (path: string): void => {
  const fd = Fs.openSync(path, Fs.constants.O_RDONLY | Fs.constants.O_NOFOLLOW)
  try {
    Fs.fsyncSync(fd)
  } finally {
    Fs.closeSync(fd)
  }
}
