/**
 * The sidecar store of a host tree (vfs/host/Sidecar.ts): records keyed by
 * host identity survive a restart (the store closed and opened again) and a
 * kill -9 of the process writing them, in order; a renumbered host device
 * keeps them; a store of another tree is refused.
 */
import { assert, describe, it } from "@effect/vitest"
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { type HostId, hostIdOf, Sidecar, sqliteErrno } from "../src/vfs/host/Sidecar.ts"
import { tempTrees } from "./support/TempDirs.ts"

const tree = tempTrees("sysproxy-sidecar-")

/** A host tree with the directory its store goes in. */
const hostDir = () => {
  const { base, root } = tree()
  Fs.mkdirSync(Path.join(root, ".sysproxy"))
  return { base, root, db: Path.join(root, ".sysproxy", "sidecar.db") }
}

const stat = (path: string) => Fs.lstatSync(path, { bigint: true })

/** Runs `f` with the store open, and closes it (as a server's exit would). */
const withSidecar = <A, E>(db: string, root: Fs.BigIntStats, f: (s: Sidecar) => Effect.Effect<A, E>) =>
  Effect.scoped(Effect.flatMap(Sidecar.open(db, root), f))

describe("sidecar: records by host identity", () => {
  it.effect("placeholders, owners, a symlink's mode and flags survive a restart; a hard link shares its node's record", () =>
    Effect.gen(function*() {
      const { root, db } = hostDir()
      Fs.writeFileSync(Path.join(root, "null"), "")
      Fs.writeFileSync(Path.join(root, "owned"), "data")
      Fs.linkSync(Path.join(root, "owned"), Path.join(root, "also"))
      Fs.symlinkSync("owned", Path.join(root, "link"))
      const rootStat = stat(root)
      const id = (name: string): HostId => hostIdOf(stat(Path.join(root, name)))

      yield* withSidecar(db, rootStat, (s) =>
        Effect.gen(function*() {
          yield* s.put(id("null"), { type: "chr", rdev: 0x0202, uid: 0, gid: 0 })
          yield* s.put(id("owned"), { uid: 1234, gid: 99 })
          yield* s.put(id("link"), { mode: 0o700 })
          yield* s.update(id("owned"), { flags: 0x2 })
          assert.strictEqual(yield* s.count(), 3)
        }))

      // a new process, the same tree
      yield* withSidecar(db, stat(root), (s) =>
        Effect.gen(function*() {
          assert.deepInclude(yield* s.get(id("null")), { type: "chr", rdev: 0x0202, uid: 0, gid: 0 })
          assert.deepInclude(yield* s.get(id("owned")), { uid: 1234, gid: 99, flags: 0x2 })
          assert.deepInclude(yield* s.get(id("also")), { uid: 1234, gid: 99, flags: 0x2 }, "a hard link is the same node")
          assert.deepInclude(yield* s.get(id("link")), { mode: 0o700, uid: undefined })
          // a field set back to undefined is the host's again; a record with nothing left is gone
          yield* s.update(id("owned"), { flags: undefined })
          assert.deepInclude(yield* s.get(id("owned")), { uid: 1234, flags: undefined })
          yield* s.update(id("link"), { mode: undefined })
          assert.isUndefined(yield* s.get(id("link")))
          yield* s.forget(id("null"))
          assert.isUndefined(yield* s.get(id("null")))
          assert.strictEqual(yield* s.count(), 1)
        }))
      yield* withSidecar(db, stat(root), (s) => Effect.map(s.count(), (n) => assert.strictEqual(n, 1)))
    }))

  it.effect("a record of an inode since reused (another birth time) is not applied", () =>
    Effect.gen(function*() {
      const { root, db } = hostDir()
      yield* withSidecar(db, stat(root), (s) =>
        Effect.gen(function*() {
          yield* s.put({ dev: 5n, ino: 77n, birth: 1000n }, { type: "fifo" })
          assert.deepInclude(yield* s.get({ dev: 5n, ino: 77n, birth: 1000n }), { type: "fifo" })
          assert.isUndefined(yield* s.get({ dev: 5n, ino: 77n, birth: 2000n }))
          // no birth time on the host: only the inode tells
          assert.deepInclude(yield* s.get({ dev: 5n, ino: 77n, birth: 0n }), { type: "fifo" })
          // identities past 2^63 (SQLite integers are signed) are kept exactly
          const big = { dev: 2n ** 64n - 1n, ino: 2n ** 63n + 5n, birth: 0n }
          yield* s.put(big, { uid: 7 })
          assert.deepInclude(yield* s.get(big), { uid: 7 })
          assert.isUndefined(yield* s.get({ ...big, ino: 5n }))
        }))
    }))

  it.effect("a transaction is all of its changes or none", () =>
    Effect.gen(function*() {
      const { root, db } = hostDir()
      yield* withSidecar(db, stat(root), (s) =>
        Effect.gen(function*() {
          const a = { dev: 1n, ino: 1n, birth: 0n }
          const b = { dev: 1n, ino: 2n, birth: 0n }
          yield* s.transaction((tx) => {
            tx.put(a, { type: "sock" })
            tx.put(b, { type: "blk", rdev: 3 })
          })
          assert.strictEqual(yield* s.count(), 2)
          const failed = yield* Effect.exit(s.transaction((tx) => {
            tx.forget(a)
            tx.put(b, { uid: 1 })
            throw new Error("halfway")
          }))
          assert.isTrue(failed._tag === "Failure")
          assert.deepInclude(yield* s.get(a), { type: "sock" })
          assert.deepInclude(yield* s.get(b), { type: "blk", rdev: 3, uid: undefined })
          yield* s.sync
        }))
    }))
})

describe("sidecar: which tree it belongs to", () => {
  it.effect("the host renumbering the tree's device moves its records; a store of another tree is refused", () =>
    Effect.gen(function*() {
      const { root, db, base } = hostDir()
      Fs.writeFileSync(Path.join(root, "f"), "")
      const rootStat = stat(root)
      const f = hostIdOf(stat(Path.join(root, "f")))
      yield* withSidecar(db, rootStat, (s) => s.put(f, { uid: 42 }))

      // the same tree after a reboot that gave its file system another device number
      const renumbered = Object.assign(Object.create(Object.getPrototypeOf(rootStat)) as Fs.BigIntStats, rootStat, {
        dev: rootStat.dev + 1n
      })
      yield* withSidecar(db, renumbered, (s) =>
        Effect.gen(function*() {
          assert.deepInclude(yield* s.get({ ...f, dev: f.dev + 1n }), { uid: 42 })
          assert.isUndefined(yield* s.get(f))
        }))

      const other = Path.join(base, "other")
      Fs.mkdirSync(other)
      const refused = yield* Effect.flip(Effect.scoped(Sidecar.open(db, stat(other))))
      assert.strictEqual(refused.errno, Errno.EINVAL)
      assert.match(refused.message, /another tree/)
    }))

  it.effect("a symlink where the store goes is refused, not followed", () =>
    Effect.gen(function*() {
      const { root, base } = hostDir()
      Fs.writeFileSync(Path.join(base, "target.db"), "")
      Fs.symlinkSync(Path.join(base, "target.db"), Path.join(root, "link.db"))
      const e = yield* Effect.flip(Effect.scoped(Sidecar.open(Path.join(root, "link.db"), stat(root))))
      assert.strictEqual(e.errno, Errno.ELOOP)
      assert.strictEqual(Fs.statSync(Path.join(base, "target.db")).size, 0)
    }))

  it.effect("a store of a newer schema is refused", () =>
    Effect.gen(function*() {
      const { root, db } = hostDir()
      yield* withSidecar(db, stat(root), () => Effect.void)
      const raw = new DatabaseSync(db)
      raw.exec("UPDATE meta SET value = 99 WHERE key = 'schema'")
      raw.close()
      const e = yield* Effect.flip(Effect.scoped(Sidecar.open(db, stat(root))))
      assert.match(e.message, /schema 99/)
    }))

  it("SQLite's full disk is ENOSPC, a read-only one EROFS, the rest EIO", () => {
    assert.strictEqual(sqliteErrno(13), Errno.ENOSPC)
    assert.strictEqual(sqliteErrno(8 | (1 << 8)), Errno.EROFS)
    assert.strictEqual(sqliteErrno(10 | (3 << 8)), Errno.EIO)
  })
})

describe("sidecar: a crash", () => {
  it.live("kill -9 of the writer: every record it was told is committed is there, and nothing out of order", () =>
    Effect.gen(function*() {
      const { root, db } = hostDir()
      const writer = Path.join(import.meta.dirname, "support", "sidecar-writer.ts")
      const acked = yield* Effect.promise(() =>
        new Promise<number>((done, failed) => {
          const child = ChildProcess.spawn(process.execPath, ["--conditions=@sysproxy/source", writer, db, root], {
            stdio: ["ignore", "pipe", "inherit"]
          })
          let out = ""
          let last = -1
          child.on("error", failed)
          child.stdout.setEncoding("utf8")
          child.stdout.on("data", (chunk: string) => {
            out += chunk
            const lines = out.split("\n")
            out = lines.pop() ?? ""
            for (const l of lines) last = Number(l)
            if (last >= 2000) child.kill("SIGKILL")
          })
          // "close": every line the writer printed before it died has been read
          child.on("close", (_code, signal) => (signal === "SIGKILL" ? done(last) : failed(new Error(`writer ended: ${signal}`))))
        })
      )
      assert.isAtLeast(acked, 2000)
      yield* withSidecar(db, stat(root), (s) =>
        Effect.gen(function*() {
          const count = yield* s.count()
          // committed before being printed: all of those, and those whose line had not reached the pipe yet
          assert.isAtLeast(count, acked + 1)
          // in order: the records are exactly the first `count`
          for (const i of [0, 1, Math.floor(count / 2), count - 1]) {
            assert.deepInclude(yield* s.get({ dev: 1n, ino: BigInt(i), birth: 0n }), { type: "chr", rdev: i % 1000 }, `record ${i}`)
          }
          assert.isUndefined(yield* s.get({ dev: 1n, ino: BigInt(count), birth: 0n }))
        }))
    }), 60_000)
})
