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
 * changed file gets the pages written since the last flush (pwrite at
 * their offsets, ftruncate for a size change; FileData tracks them), a
 * changed symlink is rewritten; a changed directory is reconciled with its
 * host copy — an entry new to it is written (a whole subtree for a new
 * directory), one renamed from a place the host still holds is moved there
 * with rename(2), names the client removed are removed. Nothing else is
 * looked at, so a flush costs what the change touched, not the size of the
 * tree or of the file.
 *
 * A file written whole (new to the host, or after a failed write-back) is
 * written to a temporary file in the same host directory and renamed over
 * its name, so a failure (ENOSPC) leaves the previous host copy as it was.
 * A write-back in place that fails halfway leaves the pages it reached; the
 * file is then written whole at the next try. A failure is logged once (and
 * its end too), makes fsync of the node answer EIO, and is retried at the
 * next flushes, MAX_ATTEMPTS times, then only when the node changes again
 * (or is fsynced). Temporary files are named `.sysproxy-wb-*.tmp`: names of
 * that form are not loaded (a crash may leave one; the next reconcile of its
 * directory removes it), so a client's own file of that name is not kept
 * across a restart.
 *
 * What the host holds is recorded per directory (name -> node written
 * there), so a node's host path is found by walking up from its directory
 * (a directory knows its parent), and only a record that still matches the
 * tree is trusted.
 *
 * Names: the kernel's are byte strings (one latin1 char per byte,
 * vfs/Names.ts); every host path is a Buffer of those bytes, so any name
 * the host or a client has (UTF-8 or not) is the same bytes on both sides.
 *
 * Security: the host is never handed a client path. Every host path is the
 * (realpath'd) host root joined with component names taken from the
 * in-memory tree (never "", ".", ".." or containing "/"); symlinks are read
 * with readlink and recreated with symlink; the kernel's own namei resolves
 * them inside the namespace, where ".." at the root stays at the root. The
 * host itself resolves only the paths the mirror builds, whose components
 * are directories the mirror made or loaded: the last component is never
 * followed (files and directories are opened O_NOFOLLOW and changed through
 * the descriptor; rename, unlink, rm, mkdir, symlink and readlink do not
 * follow it), and before each call every directory on the way is lstat'd
 * and the call refused if one is not a directory. Node has no openat, so
 * this is a check, not a guarantee: a process of the host that swaps a
 * directory of the tree for a symlink between that check and the call can
 * make one call land outside the root. The host directory belongs to the
 * server while it runs: a file put there behind its back may be removed
 * when the client changes that directory, and two servers must not share one.
 *
 * Not persisted: owners (the host's uid/gid are shown as loaded; chown is
 * kept in memory only), device nodes, fifos and sockets (in memory only),
 * hard links (each name becomes its own host file), access times alone (an
 * atime goes out with the node's next change). The host tree lives in
 * memory as well, so it counts against hw.physmem.
 */
import { Data, Effect } from "effect"
import * as Fs from "node:fs"
import type { Timespec } from "../../abi/Timespec.ts"
import { type DataChanges, PAGE_SIZE } from "../FileData.ts"
import type { Mount } from "../Mount.ts"
import type { DirectoryNode, RegularNode, SymlinkNode, Vnode } from "../Vnode.ts"

/** The host calls the mirror makes: node:fs, unless a test counts or fails them. */
export type HostFs = Pick<
  typeof Fs,
  | "closeSync"
  | "fchmodSync"
  | "fstatSync"
  | "fsyncSync"
  | "ftruncateSync"
  | "futimesSync"
  | "lstatSync"
  | "mkdirSync"
  | "openSync"
  | "readSync"
  | "readdirSync"
  | "readlinkSync"
  | "realpathSync"
  | "renameSync"
  | "rmSync"
  | "statSync"
  | "symlinkSync"
  | "unlinkSync"
  | "writeSync"
>

/** A directory on the way to a host path is not one any more: something replaced it behind the server's back. */
export class HostTreeChanged extends Data.TaggedError("HostTreeChanged")<{ readonly message: string }> {}

/** Something to log about writing back: a failure (once per run of them), or its end. */
export interface WriteBackNote {
  /** The host path concerned. */
  readonly path: string
  /** The host's error; none: writing back works again. */
  readonly error?: unknown
}

/** What flushes did since boot (for tests and metrics). */
export interface MirrorStats {
  /** Nodes written (files whole or in part, symlinks, directories). */
  written: number
  /** Nodes moved on the host with rename(2). */
  moved: number
  /** Directories whose host copy was reconciled with the tree. */
  reconciled: number
}

const NS = 1_000_000_000n

const fromNs = (ns: bigint): Timespec => ({ sec: ns / NS, nsec: Number(ns % NS) })
const toSeconds = (ts: Timespec): number => Number(ts.sec) + ts.nsec / 1e9

/** A name that may be joined to a host path as one component. */
const safeName = (name: string): boolean =>
  name.length > 0 && name !== "." && name !== ".." && !name.includes("/") && !name.includes("\0")

const TEMP_PREFIX = ".sysproxy-wb-"
const isTempName = (name: string): boolean => name.startsWith(TEMP_PREFIX) && name.endsWith(".tmp")

/** Failed write-backs of a node in a row before it waits for its next change. */
export const MAX_ATTEMPTS = 3

const READ_CHUNK = 1 << 20
const SLASH = 0x2f
const NO_NOTES: ReadonlyArray<WriteBackNote> = []

const { O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_RDONLY, O_WRONLY } = Fs.constants

const isZero = (bytes: Uint8Array): boolean => {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false
  return true
}

const hasCode = (e: unknown, ...codes: ReadonlyArray<string>): boolean =>
  typeof e === "object" && e !== null && "code" in e && codes.includes(String(e.code))

const join = (dir: Buffer, name: string): Buffer => Buffer.concat([dir, Buffer.of(SLASH), Buffer.from(name, "latin1")])

const parentOf = (path: Buffer): Buffer => path.subarray(0, path.lastIndexOf(SLASH))

/** A name in a directory, where the host holds a copy of a node. */
interface Place {
  readonly dir: DirectoryNode
  readonly name: string
}

/** A node whose write-back failed. */
interface Failure {
  /** Failed tries since it last changed. */
  attempts: number
  /** What a retry writes again: the node, or the directory a new entry of it goes into. */
  retry: Vnode
}

const depth = (dir: DirectoryNode): number => {
  let n = 0
  for (let d = dir; d.parent !== d; d = d.parent) n++
  return n
}

/** Kinds of node the host copy holds. */
const persisted = (node: Vnode): boolean => node.type === "reg" || node.type === "dir" || node.type === "lnk"

export class HostMirror {
  readonly mount: Mount
  /** The host directory, realpath'd. */
  readonly hostRoot: string
  readonly stats: MirrorStats = { written: 0, moved: 0, reconciled: 0 }
  private readonly fs: HostFs
  private readonly rootPath: Buffer
  /** Reused for reading host files at load. */
  private readonly readBuffer = new Uint8Array(READ_CHUNK)
  /** Nodes changed since the last flush. */
  private readonly dirty = new Set<Vnode>()
  /** Per directory: what its host copy holds, name -> node. */
  private readonly placed = new WeakMap<DirectoryNode, Map<string, Vnode>>()
  /** Per node: where the host holds it (the inverse of `placed`). */
  private readonly places = new WeakMap<Vnode, Array<Place>>()
  private readonly failures = new WeakMap<Vnode, Failure>()
  /** What the next flush hands the caller to log. */
  private readonly notes: Array<WriteBackNote> = []
  private nextTemp = 0

  constructor(mount: Mount, hostPath: string, fs: HostFs = Fs) {
    this.mount = mount
    this.fs = fs
    fs.mkdirSync(hostPath, { recursive: true })
    this.hostRoot = fs.realpathSync(hostPath)
    if (!fs.statSync(this.hostRoot).isDirectory()) throw new Error(`${hostPath} is not a directory`)
    this.rootPath = Buffer.from(this.hostRoot)
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
  private hostPath(dir: DirectoryNode): Buffer | undefined {
    if (dir === this.mount.root) return this.rootPath
    const parent = dir.parent
    if (parent === dir) return undefined
    const place = this.places.get(dir)?.find((p) => p.dir === parent)
    if (place === undefined || !this.current(parent, place.name, dir)) return undefined
    const up = this.hostPath(parent)
    return up === undefined ? undefined : join(up, place.name)
  }

  /** Host paths of a node the host holds where the tree names it. */
  private hostPathsOf(node: Vnode): Array<Buffer> {
    if (node.type === "dir") {
      const path = this.hostPath(node)
      return path === undefined ? [] : [path]
    }
    const out: Array<Buffer> = []
    for (const p of this.places.get(node) ?? []) {
      if (!this.current(p.dir, p.name, node)) continue
      const dir = this.hostPath(p.dir)
      if (dir !== undefined) out.push(join(dir, p.name))
    }
    return out
  }

  /**
   * Every directory from the root down to `path`'s parent is still a
   * directory (lstat: a symlink put there is refused, not followed).
   */
  private checkParents(path: Buffer): void {
    for (let i = this.rootPath.length; i < path.length; i++) {
      if (path[i] !== SLASH) continue
      const st = this.fs.lstatSync(path.subarray(0, i), { throwIfNoEntry: false })
      if (st === undefined || !st.isDirectory()) {
        throw new HostTreeChanged({ message: `${path.subarray(0, i).toString()} is no longer a directory` })
      }
    }
  }

  private lstat(path: Buffer): Fs.Stats | undefined {
    return this.fs.lstatSync(path, { throwIfNoEntry: false })
  }

  // ---- loading ------------------------------------------------------------

  /** Reads the host tree into the mount's (empty) root. Throws on a host error or when memory runs out. */
  load(): void {
    const root = this.mount.root
    this.applyStat(root, this.fs.statSync(this.rootPath, { bigint: true }))
    this.loadDir(root, this.rootPath)
    this.mount.onChange = (node) => this.changed(node)
    // what the boot adds to the root (/dev, /tmp) reaches the host at the first flush
    this.dirty.add(root)
  }

  private changed(node: Vnode): void {
    this.dirty.add(node)
    const f = this.failures.get(node)
    if (f !== undefined) {
      // a change is worth new tries
      f.attempts = 0
      this.dirty.add(f.retry)
    }
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

  private loadDir(dir: DirectoryNode, hostDir: Buffer): void {
    const names = this.fs.readdirSync(hostDir, { encoding: "buffer" }).sort(Buffer.compare)
    for (const bytes of names) {
      const name = bytes.toString("latin1")
      if (!safeName(name) || isTempName(name)) continue
      const path = join(hostDir, name)
      const st = this.fs.lstatSync(path, { bigint: true })
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
        this.loadFile(reg, path)
        node = reg
      } else if (st.isSymbolicLink()) {
        const link = this.mount.newSymlink(attrs, this.fs.readlinkSync(path, { encoding: "buffer" }).toString("latin1"))
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

  private loadFile(reg: RegularNode, path: Buffer): void {
    const fd = this.fs.openSync(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)
    try {
      const buf = this.readBuffer
      let offset = 0
      for (;;) {
        const n = this.fs.readSync(fd, buf, 0, buf.length, offset)
        if (n === 0) break
        // holes stay holes: all-zero pages only grow the file
        for (let at = 0; at < n; at += PAGE_SIZE) {
          const page = buf.subarray(at, Math.min(n, at + PAGE_SIZE))
          if (!isZero(page) && !reg.data.write(offset + at, page)) throw new Error("host root: out of memory")
        }
        offset += n
      }
      reg.data.resize(offset)
      // the host copy is the data as it is now: changes are counted from here
      reg.data.takeChanges()
    } finally {
      this.fs.closeSync(fd)
    }
  }

  // ---- writing back -------------------------------------------------------

  /**
   * Writes back every change since the last flush; `durable`: fsync what it
   * writes. Returns what to log (failures, and failures that ended).
   */
  flush(durable = false): ReadonlyArray<WriteBackNote> {
    if (this.dirty.size > 0) this.writeBack(durable)
    return this.notes.length === 0 ? NO_NOTES : this.notes.splice(0)
  }

  private writeBack(durable: boolean): void {
    const changed = [...this.dirty]
    this.dirty.clear()
    // what each changed file's data did since the last flush; taken now, as everything below writes the data as it is now
    const files = new Map<RegularNode, DataChanges | undefined>()
    for (const node of changed) if (node.type === "reg") files.set(node, node.data.takeChanges())
    const written = new Set<Vnode>()
    // directories first, parents before children: a directory's reconcile places what is new in it,
    // all of them before any removal, so a node renamed across directories is still there to be moved
    const dirs = changed
      .filter((n): n is DirectoryNode => n.type === "dir" && n.mount === this.mount)
      .sort((a, b) => depth(a) - depth(b))
    for (const dir of dirs) this.placeNew(dir, written, durable)
    for (const dir of dirs) this.removeGone(dir, durable)
    for (const [node, changes] of files) if (!written.has(node)) this.rewriteFile(node, changes, durable)
    for (const node of changed) if (node.type === "lnk" && !written.has(node)) this.rewriteLink(node)
  }

  /** A write-back of `node` failed (at `path`); `retry` is what is written again for it. */
  private failed(e: unknown, node: Vnode, path: Buffer | undefined, retry: Vnode = node): void {
    // what the host copy holds is not known now: it is written whole next time
    if (node.type === "reg") node.data.stopTracking()
    let f = this.failures.get(node)
    if (f === undefined) {
      f = { attempts: 0, retry }
      this.failures.set(node, f)
      this.notes.push({ path: (path ?? this.rootPath).toString(), error: e })
    }
    f.retry = retry
    f.attempts++
    if (f.attempts < MAX_ATTEMPTS) this.dirty.add(retry)
  }

  /** `node` is on the host as the tree has it (at `path`). */
  private succeeded(node: Vnode, path: Buffer): void {
    if (this.failures.delete(node)) this.notes.push({ path: path.toString() })
  }

  /** Writes (or moves on the host) the entries of `dir` its host copy does not hold yet. */
  private placeNew(dir: DirectoryNode, written: Set<Vnode>, durable: boolean): void {
    // not on the host where the tree has it: its parent's reconcile wrote it whole, or it is gone
    const path = this.hostPath(dir)
    if (path === undefined) return
    this.stats.reconciled++
    for (const [name, { node }] of dir.entries) {
      if (!safeName(name) || !persisted(node) || this.placed.get(dir)?.get(name) === node) continue
      const at = join(path, name)
      try {
        if (this.moveHere(node, dir, name, path)) continue
        this.writeTree(node, dir, name, at, written, durable)
        // written whole: whatever failed for it before is mended
        this.succeeded(node, at)
      } catch (e) {
        // what is retried is this directory's reconcile, which places the entry
        this.failed(e, node, at, dir)
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
      this.succeeded(dir, path)
    } catch (e) {
      this.failed(e, dir, path)
    }
  }

  private removeStale(dir: DirectoryNode, path: Buffer): void {
    this.checkParents(path)
    // readdir follows a symlink: the directory itself must be one
    if (this.lstat(path)?.isDirectory() !== true) throw new HostTreeChanged({ message: `${path.toString()} is no longer a directory` })
    for (const bytes of this.fs.readdirSync(path, { encoding: "buffer" })) {
      const name = bytes.toString("latin1")
      if (!safeName(name)) continue
      const entry = dir.entries.get(name)
      if (entry !== undefined && persisted(entry.node)) continue
      // the host's own fifos, sockets and devices were never served: they stay
      const at = join(path, name)
      const st = this.lstat(at)
      if (st !== undefined && (st.isFile() || st.isDirectory() || st.isSymbolicLink())) {
        this.fs.rmSync(at, { recursive: true, force: true })
      }
      this.unplace(dir, name)
    }
  }

  /**
   * A node renamed here from a place the host still holds (and the tree no
   * longer names): moved on the host, so a directory's subtree is not copied.
   */
  private moveHere(node: Vnode, dir: DirectoryNode, name: string, path: Buffer): boolean {
    for (const from of this.places.get(node) ?? []) {
      // still named there too (a hard link): not where it came from
      if (from.dir.entries.get(from.name)?.node === node) continue
      const fromPath = this.hostPath(from.dir)
      if (fromPath === undefined) continue
      const source = join(fromPath, from.name)
      const target = join(path, name)
      this.checkParents(source)
      this.checkParents(target)
      const st = this.lstat(source)
      if (st === undefined) continue
      // what the name held before is gone from the tree; rename(2) replaces a file, not a directory
      const old = this.lstat(target)
      if (old !== undefined && (old.isDirectory() || st.isDirectory())) this.fs.rmSync(target, { recursive: true, force: true })
      this.fs.renameSync(source, target)
      this.unplace(from.dir, from.name)
      this.place(dir, name, node)
      this.stats.moved++
      return true
    }
    return false
  }

  /** Writes `node` (a whole subtree for a directory) as `name` in `dir`, at `path`. */
  private writeTree(node: Vnode, dir: DirectoryNode, name: string, path: Buffer, written: Set<Vnode>, durable: boolean): void {
    switch (node.type) {
      case "reg":
        this.replaceFile(node, path, durable)
        break
      case "lnk":
        this.writeSymlink(path, node.target)
        break
      case "dir":
        this.ensureDir(path)
        for (const [child, entry] of node.entries) {
          if (safeName(child) && persisted(entry.node)) this.writeTree(entry.node, node, child, join(path, child), written, durable)
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

  /** A changed file, written back wherever the host holds it: the pages that changed, or whole. */
  private rewriteFile(node: RegularNode, changes: DataChanges | undefined, durable: boolean): void {
    const paths = this.hostPathsOf(node)
    // named, yet nowhere on the host now: what changed cannot be applied, so the next write is whole
    if (paths.length === 0 && node.nlink > 0) node.data.stopTracking()
    let ok = true
    for (const path of paths) {
      try {
        if (changes === undefined || !this.patchFile(node, changes, path, durable)) this.replaceFile(node, path, durable)
        this.stats.written++
      } catch (e) {
        ok = false
        this.failed(e, node, path)
      }
    }
    if (ok && paths[0] !== undefined) this.succeeded(node, paths[0])
  }

  private rewriteLink(node: SymlinkNode): void {
    const paths = this.hostPathsOf(node)
    let ok = true
    for (const path of paths) {
      try {
        this.writeSymlink(path, node.target)
        this.stats.written++
      } catch (e) {
        ok = false
        this.failed(e, node, path)
      }
    }
    if (ok && paths[0] !== undefined) this.succeeded(node, paths[0])
  }

  /**
   * Writes what changed into the host file at `path` in place; false when
   * no regular file is there to change (it is written whole then).
   */
  private patchFile(node: RegularNode, changes: DataChanges, path: Buffer, durable: boolean): boolean {
    this.checkParents(path)
    let fd: number
    try {
      // O_NONBLOCK: a fifo put there must not block the open
      fd = this.fs.openSync(path, O_WRONLY | O_NOFOLLOW | O_NONBLOCK)
    } catch (e) {
      if (hasCode(e, "ENOENT", "ELOOP", "EISDIR", "ENXIO", "EMLINK")) return false
      throw e
    }
    try {
      if (!this.fs.fstatSync(fd).isFile()) return false
      const data = node.data
      const size = data.size
      let hostSize = changes.fromSize
      if (changes.minSize < hostSize) {
        this.fs.ftruncateSync(fd, changes.minSize)
        hostSize = changes.minSize
      }
      for (const index of changes.pages) {
        const at = index * PAGE_SIZE
        // a page cut meanwhile reads as zeros, as the host file does past the ftruncate above
        const page = data.pageAt(index)
        if (at >= size || page === undefined) continue
        const n = Math.min(PAGE_SIZE, size - at)
        this.writeAll(fd, page, n, at)
        hostSize = Math.max(hostSize, at + n)
      }
      // the size last, so an append that fails leaves the old end
      if (hostSize !== size) this.fs.ftruncateSync(fd, size)
      this.finishFile(fd, node, durable)
      return true
    } finally {
      this.fs.closeSync(fd)
    }
  }

  /** Writes the whole file to a temporary file beside `path` and renames it over `path`. */
  private replaceFile(node: RegularNode, path: Buffer, durable: boolean): void {
    this.checkParents(path)
    const { fd, temp } = this.openTemp(parentOf(path))
    try {
      try {
        const data = node.data
        this.fs.ftruncateSync(fd, data.size)
        for (const index of data.pageIndexes()) {
          const page = data.pageAt(index)
          const at = index * PAGE_SIZE
          if (page === undefined || at >= data.size || isZero(page)) continue
          this.writeAll(fd, page, Math.min(PAGE_SIZE, data.size - at), at)
        }
        this.finishFile(fd, node, durable)
      } finally {
        this.fs.closeSync(fd)
      }
      // a file renames over a file; a directory there must go first
      if (this.lstat(path)?.isDirectory() === true) this.fs.rmSync(path, { recursive: true, force: true })
      this.fs.renameSync(temp, path)
    } catch (e) {
      try {
        this.fs.rmSync(temp, { force: true })
      } catch {
        // the write-back's own failure is the one to report; the next reconcile removes the file
      }
      throw e
    }
  }

  /** A new temporary file in the host directory `dir`. */
  private openTemp(dir: Buffer): { readonly fd: number; readonly temp: Buffer } {
    for (;;) {
      const temp = join(dir, `${TEMP_PREFIX}${process.pid}-${this.nextTemp++}.tmp`)
      try {
        return { fd: this.fs.openSync(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, 0o600), temp }
      } catch (e) {
        if (!hasCode(e, "EEXIST")) throw e
      }
    }
  }

  private writeAll(fd: number, bytes: Uint8Array, length: number, position: number): void {
    let done = 0
    while (done < length) done += this.fs.writeSync(fd, bytes, done, length - done, position + done)
  }

  private finishFile(fd: number, node: RegularNode, durable: boolean): void {
    this.fs.fchmodSync(fd, node.mode & 0o7777)
    this.fs.futimesSync(fd, toSeconds(node.atime), toSeconds(node.mtime))
    if (durable) this.fs.fsyncSync(fd)
  }

  private writeDirAttrs(dir: DirectoryNode, path: Buffer, durable: boolean): void {
    this.checkParents(path)
    const fd = this.fs.openSync(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW)
    try {
      this.fs.fchmodSync(fd, dir.mode & 0o7777)
      this.fs.futimesSync(fd, toSeconds(dir.atime), toSeconds(dir.mtime))
      if (durable) this.fs.fsyncSync(fd)
    } finally {
      this.fs.closeSync(fd)
    }
  }

  /** A directory at `path`, whatever was there before. */
  private ensureDir(path: Buffer): void {
    this.checkParents(path)
    const st = this.lstat(path)
    if (st?.isDirectory() === true) return
    if (st !== undefined) this.fs.rmSync(path, { recursive: true, force: true })
    this.fs.mkdirSync(path, { mode: 0o700 })
  }

  private writeSymlink(path: Buffer, target: string): void {
    this.checkParents(path)
    const bytes = Buffer.from(target, "latin1")
    const st = this.lstat(path)
    if (st?.isSymbolicLink() === true && this.fs.readlinkSync(path, { encoding: "buffer" }).equals(bytes)) return
    if (st !== undefined) this.fs.rmSync(path, { recursive: true, force: true })
    this.fs.symlinkSync(bytes, path)
  }

  /**
   * fsync(2) of a node: writes back (a failing node is tried again), then
   * fsyncs its host file(s) and their directories. False when the node is
   * not on the host as the tree has it.
   */
  sync(node: Vnode): boolean {
    const f = this.failures.get(node)
    if (f !== undefined) {
      this.dirty.add(node)
      this.dirty.add(f.retry)
    }
    this.flush(true)
    const paths = this.hostPathsOf(node)
    for (const path of paths) {
      try {
        this.fsyncPath(path)
        if (path !== this.rootPath) this.fsyncPath(parentOf(path))
      } catch (e) {
        this.failed(e, node, path)
      }
    }
    // an unlinked file, or one the host does not keep, has nothing more to reach
    return node.nlink === 0 || !persisted(node) || (paths.length > 0 && !this.failures.has(node))
  }

  private fsyncPath(path: Buffer): void {
    this.checkParents(path)
    const fd = this.fs.openSync(path, O_RDONLY | O_NOFOLLOW)
    try {
      this.fs.fsyncSync(fd)
    } finally {
      this.fs.closeSync(fd)
    }
  }
}

const describe = (e: unknown): string => (e instanceof Error ? e.message : String(e))

/** Logs what a flush reported: each failure once (it is retried), and its end. */
export const logWriteBack = (notes: ReadonlyArray<WriteBackNote>): Effect.Effect<void> =>
  notes.length === 0
    ? Effect.void
    : Effect.forEach(
      notes,
      (n) =>
        n.error === undefined
          ? Effect.logInfo(`host write-back of ${n.path} works again`)
          : Effect.logError(`host write-back of ${n.path} failed (fsync answers EIO until it works): ${describe(n.error)}`),
      { discard: true }
    )
