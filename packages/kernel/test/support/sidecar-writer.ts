/**
 * The crashing writer of Sidecar.test.ts: records node after node in the
 * sidecar at argv[2] (for the tree at argv[3]) and prints each number once
 * its transaction is committed, until it is killed.
 *
 *   node --conditions=@sysproxy/source sidecar-writer.ts DB ROOT
 */
import { Effect } from "effect"
import * as Fs from "node:fs"
import { Sidecar } from "../../src/vfs/host/Sidecar.ts"

const [db, root] = process.argv.slice(2)
if (db === undefined || root === undefined) throw new Error("usage: sidecar-writer DB ROOT")
const rootStat = Fs.statSync(root, { bigint: true })

Effect.runFork(Effect.scoped(Effect.gen(function*() {
  const sidecar = yield* Sidecar.open(db, rootStat)
  for (let i = 0n;; i++) {
    yield* sidecar.put({ dev: 1n, ino: i, birth: 0n }, { type: "chr", rdev: Number(i % 1000n), uid: 1000 })
    process.stdout.write(`${i}\n`)
  }
})))
