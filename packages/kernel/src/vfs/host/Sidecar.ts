/**
 * The sidecar store of a host tree: what the host cannot hold, kept beside
 * it so that it survives a restart too. Device nodes, fifos and sockets are
 * empty regular files on the host (placeholders) whose record says what
 * they are; owners when the server is not root (it cannot chown), mode
 * bits the host copy must not have (a symlink's: Linux has no lchmod;
 * set-id bits; bits that would lock a server that is not root out of its
 * own files) and st_flags are records of the nodes they belong to.
 *
 * Records are keyed by host identity, (st_dev, st_ino): the kernel's inode
 * numbers are the host's, which stay the same across restarts, and every
 * hard link of a node shares its record. When the host renumbers its
 * devices (a reboot may), the tree's root still has its inode: records of
 * the old device number move to the new one at open. A store opened on a
 * tree whose root has another inode is refused (it belongs to another
 * tree, or to a copy whose inodes all changed).
 *
 * The order: each record change is one SQLite transaction, made right after
 * the host change it describes and before the next one, so after a crash
 * the store describes the host's changes up to some point, in order. A
 * node that needs a record before its name may appear (a placeholder) is
 * made under a hidden temporary name, recorded, then renamed into place
 * (see README.md). WAL with synchronous=NORMAL: a committed transaction
 * survives the server's crash (it is in the host's page cache); `sync`
 * makes it survive the host's too (an asynchronous fsync of the WAL, which
 * fsync(2) of a node whose record changed calls).
 *
 * SQLite's calls are synchronous (node:sqlite has no other API); each is a
 * lookup or a small write by primary key in the page cache: microseconds.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect, type Scope } from "effect"
import * as Fs from "node:fs"
import { DatabaseSync, type StatementSync } from "node:sqlite"
import type { HostStat } from "./HostCalls.ts"
import { HostError, hostError, isSystemError } from "./HostError.ts"

/** The schema this code writes; a store of a later one is refused. */
export const SCHEMA_VERSION = 1

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (
  key TEXT PRIMARY KEY NOT NULL,
  value INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
-- one row per host node with something the host cannot hold; NULL: the host's own
CREATE TABLE IF NOT EXISTS node (
  dev INTEGER NOT NULL,            -- host st_dev, as a signed 64-bit integer
  ino INTEGER NOT NULL,            -- host st_ino, likewise
  birth INTEGER NOT NULL,          -- host birth time in ns when the host has one (0: none): a reused inode differs
  type TEXT CHECK (type IN ('chr', 'blk', 'fifo', 'sock')),  -- a placeholder's kind
  rdev INTEGER,                    -- a device's number (NetBSD dev_t)
  uid INTEGER,
  gid INTEGER,
  mode INTEGER,                    -- permission bits the host copy does not have
  flags INTEGER,                   -- st_flags
  PRIMARY KEY (dev, ino)
) STRICT, WITHOUT ROWID;
`

/** A host node's identity. */
export interface HostId {
  readonly dev: bigint
  readonly ino: bigint
  /** Birth time in ns, 0 when the host file system has none. */
  readonly birth: bigint
}

export const hostIdOf = (st: HostStat): HostId => ({ dev: st.dev, ino: st.ino, birth: st.birthtimeNs })

/** What the sidecar holds for a node; an absent field is the host's own. */
export interface SidecarRecord {
  /** The node is a placeholder for one of these. */
  readonly type?: "chr" | "blk" | "fifo" | "sock" | undefined
  readonly rdev?: number | undefined
  readonly uid?: number | undefined
  readonly gid?: number | undefined
  readonly mode?: number | undefined
  readonly flags?: number | undefined
}

const FIELDS = ["type", "rdev", "uid", "gid", "mode", "flags"] as const

const isEmpty = (r: SidecarRecord): boolean => FIELDS.every((f) => r[f] === undefined)

interface Row {
  readonly birth: bigint
  readonly type: string | null
  readonly rdev: bigint | null
  readonly uid: bigint | null
  readonly gid: bigint | null
  readonly mode: bigint | null
  readonly flags: bigint | null
}

const num = (v: bigint | null): number | undefined => (v === null ? undefined : Number(v))

const recordOf = (row: Row): SidecarRecord => {
  const type = row.type === "chr" || row.type === "blk" || row.type === "fifo" || row.type === "sock" ? row.type : undefined
  return { type, rdev: num(row.rdev), uid: num(row.uid), gid: num(row.gid), mode: num(row.mode), flags: num(row.flags) }
}

/** The errno for a SQLite result code: a full disk (SQLITE_FULL) is ENOSPC, a read-only one (SQLITE_READONLY) EROFS, anything else EIO. */
export const sqliteErrno = (errcode: number): number =>
  (errcode & 0xff) === 13 ? Errno.ENOSPC : (errcode & 0xff) === 8 ? Errno.EROFS : Errno.EIO

const sqliteError = (e: unknown): HostError => {
  const errno = sqliteErrno(typeof e === "object" && e !== null && "errcode" in e ? Number(e.errcode) : -1)
  const code = errno === Errno.ENOSPC ? "ENOSPC" : errno === Errno.EROFS ? "EROFS" : "EIO"
  return new HostError({ errno, code, syscall: "sidecar", message: `sidecar: ${e instanceof Error ? e.message : String(e)}` })
}

const attempt = <A>(f: () => A): Effect.Effect<A, HostError> => Effect.try({ try: f, catch: sqliteError })

/** SQLite integers are signed: host identities are kept as their two's complement. */
const i64 = (v: bigint): bigint => BigInt.asIntN(64, v)

/** Record changes made together, in one transaction (synchronous: nothing else runs in between). */
export interface SidecarTx {
  readonly get: (id: HostId) => SidecarRecord | undefined
  readonly put: (id: HostId, record: SidecarRecord) => void
  readonly forget: (id: HostId) => void
}

export class Sidecar {
  /** The database file. */
  readonly path: string
  readonly #db: DatabaseSync
  readonly #get: StatementSync
  readonly #put: StatementSync
  readonly #forget: StatementSync
  readonly #count: StatementSync
  readonly #tx: SidecarTx
  #wal: number | undefined = undefined

  private constructor(path: string, db: DatabaseSync) {
    this.path = path
    this.#db = db
    this.#get = db.prepare("SELECT birth, type, rdev, uid, gid, mode, flags FROM node WHERE dev = ? AND ino = ?")
    this.#get.setReadBigInts(true)
    this.#put = db.prepare(
      "INSERT OR REPLACE INTO node (dev, ino, birth, type, rdev, uid, gid, mode, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    )
    this.#forget = db.prepare("DELETE FROM node WHERE dev = ? AND ino = ?")
    this.#count = db.prepare("SELECT count(*) AS n FROM node")
    const forget = (id: HostId): void => {
      this.#forget.run(i64(id.dev), i64(id.ino))
    }
    this.#tx = {
      get: (id) => {
        const row = this.#get.get(i64(id.dev), i64(id.ino)) as Row | undefined
        if (row === undefined) return undefined
        if (row.birth !== 0n && id.birth !== 0n && row.birth !== id.birth) return undefined
        return recordOf(row)
      },
      put: (id, r) => {
        if (isEmpty(r)) return forget(id)
        this.#put.run(i64(id.dev), i64(id.ino), id.birth, r.type ?? null, r.rdev ?? null, r.uid ?? null, r.gid ?? null, r.mode ?? null, r.flags ?? null)
      },
      forget
    }
  }

  /**
   * The store at `path` (made when missing, unless `readOnly`) for the tree
   * whose root is `root`; closed with the scope. The path is the operator's (never a
   * client's); a symlink there, or as its directory, is refused.
   */
  static open(path: string, root: HostStat, readOnly = false): Effect.Effect<Sidecar, HostError, Scope.Scope> {
    return Effect.acquireRelease(
      Effect.suspend(() => {
        const refused = refuseSymlink(path)
        if (refused !== undefined) return Effect.fail(refused)
        return Effect.flatten(attempt(() => {
          const db = new DatabaseSync(path, { readOnly })
          try {
            if (!readOnly) {
              db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
              db.exec(SCHEMA)
            }
            const checked = checkTree(db, path, root, readOnly)
            if (checked !== undefined) {
              db.close()
              return Effect.fail(checked)
            }
            return Effect.succeed(new Sidecar(path, db))
          } catch (e) {
            db.close()
            throw e
          }
        }))
      }),
      (sidecar) => sidecar.#close
    )
  }

  /** What is recorded for `id`; none when nothing is, or the record is of an inode since reused. */
  get(id: HostId): Effect.Effect<SidecarRecord | undefined, HostError> {
    return attempt(() => this.#tx.get(id))
  }

  /** Records `record` for `id`, replacing what was there; an empty record forgets it. */
  put(id: HostId, record: SidecarRecord): Effect.Effect<void, HostError> {
    return attempt(() => this.#tx.put(id, record))
  }

  /** Changes some fields of `id`'s record (a field given as undefined: the host's own again). */
  update(id: HostId, patch: SidecarRecord): Effect.Effect<void, HostError> {
    return this.transaction((tx) => {
      const merged: Record<string, unknown> = { ...tx.get(id) }
      for (const f of FIELDS) if (f in patch) merged[f] = patch[f]
      tx.put(id, merged as SidecarRecord)
    })
  }

  /** The node is gone from the host, or new there: whatever an earlier inode of that number left is dropped. */
  forget(id: HostId): Effect.Effect<void, HostError> {
    return attempt(() => this.#tx.forget(id))
  }

  /** Runs `f` as one transaction: all its changes or (when it throws) none. */
  transaction<A>(f: (tx: SidecarTx) => A): Effect.Effect<A, HostError> {
    const db = this.#db
    return attempt(() => {
      db.exec("BEGIN IMMEDIATE")
      try {
        const a = f(this.#tx)
        db.exec("COMMIT")
        return a
      } catch (e) {
        if (db.isTransaction) db.exec("ROLLBACK")
        throw e
      }
    })
  }

  /** Nodes with a record. */
  count(): Effect.Effect<number, HostError> {
    return attempt(() => Number((this.#count.get() as { readonly n: number }).n))
  }

  /** Makes every committed change survive a crash of the host: fsync of the WAL, off the event loop. */
  readonly sync: Effect.Effect<void, HostError> = Effect.suspend(() => {
    const fd = this.#wal
    if (fd !== undefined) return fsyncFd(fd)
    return Effect.flatMap(openWal(this.path + "-wal"), (opened) => {
      if (opened === undefined) return Effect.void
      this.#wal = opened
      return fsyncFd(opened)
    })
  })

  readonly #close: Effect.Effect<void> = Effect.suspend(() => {
    if (this.#db.isOpen) this.#db.close()
    const fd = this.#wal
    this.#wal = undefined
    return fd === undefined ? Effect.void : Effect.callback<void>((resume) => Fs.close(fd, () => resume(Effect.void)))
  })
}

const refuseSymlink = (path: string): HostError | undefined => {
  for (const p of [path, path.slice(0, Math.max(1, path.lastIndexOf("/")))]) {
    let st: Fs.Stats | undefined
    try {
      st = Fs.lstatSync(p, { throwIfNoEntry: false })
    } catch {
      st = undefined
    }
    if (st?.isSymbolicLink() === true) {
      return new HostError({ errno: Errno.ELOOP, code: "ELOOP", syscall: "sidecar", message: `sidecar: ${p} is a symlink` })
    }
  }
  return undefined
}

/**
 * The store must be the tree's: the same root inode (records move to a
 * renumbered device). Undefined when it is; what is wrong otherwise.
 */
const checkTree = (db: DatabaseSync, path: string, root: HostStat, readOnly: boolean): HostError | undefined => {
  const read = db.prepare("SELECT value FROM meta WHERE key = ?")
  read.setReadBigInts(true)
  const meta = (key: string) => (read.get(key) as { readonly value: bigint } | undefined)?.value
  const write = db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)")
  const refuse = (message: string) =>
    new HostError({ errno: Errno.EINVAL, code: "EINVAL", syscall: "sidecar", message: `sidecar ${path}: ${message}` })
  const version = meta("schema")
  if (version !== undefined && version > BigInt(SCHEMA_VERSION)) {
    return refuse(`schema ${version} is newer than this server's (${SCHEMA_VERSION})`)
  }
  const rootIno = meta("root_ino")
  if (rootIno !== undefined && rootIno !== i64(root.ino)) return refuse("it belongs to another tree (its root's inode differs)")
  const rootDev = meta("root_dev")
  // a store opened read-only is taken as it is (a renumbered device's records are not found)
  if (readOnly) return undefined
  db.exec("BEGIN IMMEDIATE")
  try {
    if (rootDev !== undefined && rootDev !== i64(root.dev)) {
      db.prepare("UPDATE node SET dev = ? WHERE dev = ?").run(i64(root.dev), rootDev)
    }
    write.run("schema", BigInt(SCHEMA_VERSION))
    write.run("root_ino", i64(root.ino))
    write.run("root_dev", i64(root.dev))
    db.exec("COMMIT")
  } catch (e) {
    db.exec("ROLLBACK")
    throw e
  }
  return undefined
}

const openWal = (path: string): Effect.Effect<number | undefined, HostError> =>
  Effect.callback<number | undefined, HostError>((resume) => {
    Fs.open(path, Fs.constants.O_RDONLY | Fs.constants.O_NOFOLLOW, (err, fd) => {
      if (err === null) resume(Effect.succeed(fd))
      else if (err.code === "ENOENT") resume(Effect.succeed(undefined))
      else resume(isSystemError(err) ? Effect.fail(hostError(err.code, "open")) : Effect.die(err))
    })
  })

const fsyncFd = (fd: number): Effect.Effect<void, HostError> =>
  Effect.callback<void, HostError>((resume) => {
    Fs.fsync(fd, (err) => {
      if (err === null) resume(Effect.void)
      else resume(isSystemError(err) ? Effect.fail(hostError(err.code, "fsync")) : Effect.die(err))
    })
  })
