import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { File, type FileOps, FWRITE } from "../src/fd/File.ts"
import { closeFd, FileTable, releaseTable, sweepOrphanTable } from "../src/fd/FileTable.ts"

const counting = () => {
  let closed = 0
  const ops: FileOps = {
    kind: "device",
    read: () => Effect.succeed(new Uint8Array(0)),
    write: (_c, _f, data) => Effect.succeed(data.byteLength),
    close: () => Effect.sync(() => void closed++),
    seekable: false
  }
  return { ops, closed: () => closed }
}

describe("FileTable", () => {
  it.effect("a shared table closes its files only with its last user", () =>
    Effect.gen(function*() {
      const c = counting()
      const t = new FileTable()
      t.install(3, new File(c.ops, FWRITE, undefined), false)
      t.users++
      yield* releaseTable(t)
      assert.strictEqual(c.closed(), 0)
      yield* releaseTable(t)
      assert.strictEqual(c.closed(), 1)
    }))

  it.effect("a file opened into a released table by a late syscall is closed by the sweep", () =>
    Effect.gen(function*() {
      const c = counting()
      const t = new FileTable()
      yield* releaseTable(t)
      // what a syscall still running after its process was released would do
      t.install(5, new File(c.ops, FWRITE, undefined), false)
      yield* sweepOrphanTable(t)
      assert.strictEqual(c.closed(), 1)
      assert.deepStrictEqual(t.openFds(), [])
    }))

  it.effect("the sweep leaves a table that still has users alone", () =>
    Effect.gen(function*() {
      const c = counting()
      const t = new FileTable()
      t.install(4, new File(c.ops, FWRITE, undefined), false)
      yield* sweepOrphanTable(t)
      assert.strictEqual(c.closed(), 0)
      assert.isTrue(yield* closeFd(t, 4))
      assert.strictEqual(c.closed(), 1)
    }))
})
