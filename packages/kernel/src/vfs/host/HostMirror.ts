/**
 * A host-backed file system: a mount whose tree is loaded from a host
 * directory at boot and written back to it after every change, so what
 * clients write survives a server restart.
 *
 * The design: the mount is an ordinary in-memory tmpfs (so every syscall
 * keeps exactly the tmpfs semantics), mirrored to the host. `load` reads the
 * host tree into it. From then on the mount tells the mirror of every node
 * whose ctime is set (every data, attribute and namespace change sets it),
 * and `flush` (run after each syscall) writes back just those nodes: a
 * changed file or symlink is rewritten where the host holds it; a changed
 * directory is reconciled with its host copy — an entry new to it is
 * written (a whole subtree for a new directory), one renamed from a place
 * the host still holds is moved there with rename(2), names the client
 * removed are removed. Nothing else is looked at, so a flush costs what
 * the change touched, not the size of the tree.
 *
 * What the host holds is recorded per directory (name -> node written
 * there), so a node's host path is found by walking up from its directory
 * (a directory knows its parent), and only a record that still matches the
 * tree is trusted.
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
 * hard links (each name becomes its own host file), access times alone (an
 * atime goes out with the node's next change). The host tree lives in
 * memory as well, so it counts against hw.physmem.
 */
import * as Fs from "node:fs"
import * as Path from "node:path"
import type { Timespec } from "../../abi/Timespec.ts"
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

/** A name in a directory, where the host holds a copy of a node. */
interface Place {
  readonly dir: DirectoryNode
  readonly name: string
}

/** What flushes did since boot (for tests and metrics). */
export interface MirrorStats {
  /** Nodes written in full (files, symlinks, directories). */
  written: number
  /** Nodes moved on the host with rename(2). */
  moved: number
  /** Directories whose host copy was reconciled with the tree. */
  reconciled: number
}

const depth = (dir: DirectoryNode): number => {
  let n = 0
  for (let d = dir; d.parent !== d; d = d.parent) n++
  return n
}

export class HostMirror {
  readonly mount: Mount
  /** The host directory, realpath'd. */
  readonly hostRoot: string
  /** The last failure writing back (the change is retried at the next flush). */
  lastError: unknown = undefined
  readonly stats: MirrorStats = { written: 0, moved: 0, reconciled: 0 }
  /** Reused for reading host files at load. */
  private readonly readBuffer = new Uint8Array(READ_CHUNK)
  /** Nodes changed since the last flush. */
  private readonly dirty = new Set<Vnode>()
  /** Per directory: what its host copy holds, name -> node. */
  private readonly placed = new WeakMap<DirectoryNode, Map<string, Vnode>>()
  /** Per node: where the host holds it (the inverse of `placed`). */
  private readonly places = new WeakMap<Vnode, Array<Place>>()

  constructor(mount: Mount, hostPath: string) {
    this.mount = mount
    Fs.mkdirSync(hostPath, { recursive: true })
    this.hostRoot = Fs.realpathSync(hostPath)
    if (!Fs.statSync(this.hostRoot).isDirectory()) throw new Error(`${hostPath} is not a directory`)
  }

  private placedIn(dir: DirectoryNode): Map<string, Vnode> {
    let m = this.placed.get(dir)
    if (m === undefined) {
      m = new Map()
      this.placed.set(dir, m)
    }
    return m
  }

  /** The host now holds `node` as `name` in `dir` (whatever it held there before is gone). */
  private place(dir: DirectoryNode, name: string, node: Vnode): void {
    const before = this.placedIn(dir).get(name)
    if (before === node) return
    if (before !== undefined) this.unplace(dir, name)
    this.placedIn(dir).set(name, node)
    const ps = this.places.get(node)
    if (ps === undefined) this.places.set(node, [{ dir, name }])
    else ps.push({ dir, name })
  }

  /** The host no longer holds anything as `name` in `dir`. */
  private unplace(dir: DirectoryNode, name: string): void {
    const m = this.placed.get(dir)
    const node = m?.get(name)
    if (m === undefined || node === undefined) return
    m.delete(name)
    const ps = this.places.get(node)
    const i = ps?.findIndex((p) => p.dir === dir && p.name === name) ?? -1
    if (ps !== undefined && i >= 0) ps.splice(i, 1)
  }

  /** The host holds `node` as `name` in `dir`, and the tree still names it so. */
  private current(dir: DirectoryNode, name: string, node: Vnode): boolean {
    return dir.entries.get(name)?.node === node && this.placed.get(dir)?.get(name) === node
  }

  /** A directory's host path, if the host holds it (and every directory above it) where the tree has it. */
  private hostPath(dir: DirectoryNode): string | undefined {
    if (dir === this.mount.root) return this.hostRoot
    const parent = dir.parent
    if (parent === dir) return undefined
    const place = this.places.get(dir)?.find((p) => p.dir === parent)
    if (place === undefined || !this.current(parent, place.name, dir)) return undefined
    const up = this.hostPath(parent)
    return up === undefined ? undefined : up + "/" + place.name
  }

  /** Host paths of a node the host holds where the tree names it. */
  private hostPathsOf(node: Vnode): Array<string> {
    if (node.type === "dir") {
      const path = this.hostPath(node)
      return path === undefined ? [] : [path]
    }
    const out: Array<string> = []
    for (const p of this.places.get(node) ?? []) {
      if (!this.current(p.dir, p.name, node)) continue
      const dir = this.hostPath(p.dir)
      if (dir !== undefined) out.push(dir + "/" + p.name)
    }
    return out
  }

  // ---- loading ------------------------------------------------------------

  /** Reads the host tree into the mount's (empty) root. Throws on a host error or when memory runs out. */
  load(): void {
    const root = this.mount.root
    this.applyStat(root, Fs.statSync(this.hostRoot, { bigint: true }))
    this.loadDir(root, this.hostRoot)
    this.mount.onChange = (node) => this.dirty.add(node)
    // what the boot adds to the root (/dev, /tmp) reaches the host at the first flush
    this.dirty.add(root)
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
      this.place(dir, name, node)
    }
  }

  // ---- writing back -------------------------------------------------------

  /**
   * Writes back every change since the last flush; `durable`: fsync what it
   * writes. Host errors are kept in `lastError`; the change is retried next time.
   */
  flush(durable = false): void {
    if (this.dirty.size === 0) return
    const changed = [...this.dirty]
    this.dirty.clear()
    const written = new Set<Vnode>()
    // directories first, parents before children: a directory's reconcile places what is new in it,
    // all of them before any removal, so a node renamed across directories is still there to be moved
    const dirs = changed
      .filter((n): n is DirectoryNode => n.type === "dir" && n.mount === this.mount)
      .sort((a, b) => depth(a) - depth(b))
    for (const dir of dirs) this.placeNew(dir, written, durable)
    for (const dir of dirs) this.removeGone(dir, durable)
    for (const node of changed) {
      if ((node.type === "reg" || node.type === "lnk") && !written.has(node)) this.rewrite(node, durable)
    }
  }

  private failed(e: unknown, node: Vnode): void {
    this.lastError = e
    this.dirty.add(node)
  }

  /** Writes (or moves on the host) the entries of `dir` its host copy does not hold yet. */
  private placeNew(dir: DirectoryNode, written: Set<Vnode>, durable: boolean): void {
    // not on the host where the tree has it: its parent's reconcile wrote it whole, or it is gone
    const path = this.hostPath(dir)
    if (path === undefined) return
    this.stats.reconciled++
    for (const [name, { node }] of dir.entries) {
      if (!safeName(name) || !persisted(node) || this.placed.get(dir)?.get(name) === node) continue
      try {
        if (!this.moveHere(node, dir, name, path)) this.writeTree(node, dir, name, path + "/" + name, written, durable)
      } catch (e) {
        this.failed(e, dir)
      }
    }
  }

  /** Removes from the host copy of `dir` what the client removed or renamed away, and sets its attributes. */
  private removeGone(dir: DirectoryNode, durable: boolean): void {
    const path = this.hostPath(dir)
    if (path === undefined) return
    try {
      this.removeStale(dir, path)
      this.writeDirAttrs(dir, path, durable)
    } catch (e) {
      this.failed(e, dir)
    }
  }

  private removeStale(dir: DirectoryNode, path: string): void {
    for (const name of Fs.readdirSync(path)) {
      if (!safeName(name)) continue
      const entry = dir.entries.get(name)
      if (entry !== undefined && persisted(entry.node)) continue
      // the host's own fifos, sockets and devices were never served: they stay
      const at = path + "/" + name
      const st = lstatOrUndefined(at)
      if (st !== undefined && (st.isFile() || st.isDirectory() || st.isSymbolicLink())) {
        Fs.rmSync(at, { recursive: true, force: true })
      }
      this.unplace(dir, name)
    }
  }

  /**
   * A node renamed here from a place the host still holds (and the tree no
   * longer names): moved on the host, so a directory's subtree is not copied.
   */
  private moveHere(node: Vnode, dir: DirectoryNode, name: string, path: string): boolean {
    for (const from of this.places.get(node) ?? []) {
      // still named there too (a hard link): not where it came from
      if (from.dir.entries.get(from.name)?.node === node) continue
      const fromPath = this.hostPath(from.dir)
      if (fromPath === undefined) continue
      const source = fromPath + "/" + from.name
      if (lstatOrUndefined(source) === undefined) continue
      const target = path + "/" + name
      // what the name held before is gone from the tree
      if (lstatOrUndefined(target) !== undefined) Fs.rmSync(target, { recursive: true, force: true })
      Fs.renameSync(source, target)
      this.unplace(from.dir, from.name)
      this.place(dir, name, node)
      this.stats.moved++
      return true
    }
    return false
  }

  /** Writes `node` (a whole subtree for a directory) as `name` in `dir`, at `path`. */
  private writeTree(node: Vnode, dir: DirectoryNode, name: string, path: string, written: Set<Vnode>, durable: boolean): void {
    switch (node.type) {
      case "reg":
        this.writeFile(node, path, durable)
        break
      case "lnk":
        this.writeSymlink(path, node.target)
        break
      case "dir":
        this.ensureDir(path)
        for (const [child, entry] of node.entries) {
          if (safeName(child) && persisted(entry.node)) this.writeTree(entry.node, node, child, path + "/" + child, written, durable)
        }
        this.removeStale(node, path)
        this.writeDirAttrs(node, path, durable)
        break
      default:
        return
    }
    this.place(dir, name, node)
    written.add(node)
    this.stats.written++
  }

  /** A changed file or symlink, rewritten wherever the host holds it. */
  private rewrite(node: Extract<Vnode, { type: "reg" | "lnk" }>, durable: boolean): void {
    for (const path of this.hostPathsOf(node)) {
      try {
        if (node.type === "reg") this.writeFile(node, path, durable)
        else this.writeSymlink(path, node.target)
        this.stats.written++
      } catch (e) {
        this.failed(e, node)
      }
    }
  }

  private writeDirAttrs(dir: DirectoryNode, path: string, durable: boolean): void {
    Fs.chmodSync(path, dir.mode & 0o7777)
    Fs.utimesSync(path, toSeconds(dir.atime), toSeconds(dir.mtime))
    if (durable) fsyncPath(path)
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
    for (const path of this.hostPathsOf(node)) {
      try {
        fsyncPath(path)
        if (path !== this.hostRoot) fsyncPath(Path.dirname(path))
      } catch (e) {
        this.failed(e, node)
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
