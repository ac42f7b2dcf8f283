/**
 * The size of libuv's thread pool (vfs/host/ThreadPool.ts), in fresh
 * processes: set before the first host call it is the pool's size; set
 * after, it is refused instead of being ignored.
 */
import { assert, describe, it } from "@effect/vitest"
import * as ChildProcess from "node:child_process"
import * as Path from "node:path"
import { THREADPOOL_DEFAULT } from "../src/vfs/host/ThreadPool.ts"

const child = Path.join(import.meta.dirname, "support", "threadpool-child.ts")

/** This environment without UV_THREADPOOL_SIZE (set empty, libuv would read 0 and make one thread). */
const { UV_THREADPOOL_SIZE: _unset, ...env } = process.env

const run = (...args: Array<string>): { readonly before: number; readonly set: string; readonly after: number } =>
  JSON.parse(ChildProcess.execFileSync(process.execPath, ["--conditions=@sysproxy/source", child, ...args], {
    encoding: "utf8",
    env
  }))

describe("libuv's thread pool size", () => {
  it("set before the first host call, the pool has that many threads", () => {
    const seen = run("11")
    assert.deepStrictEqual(seen, { before: 0, set: "ok", after: 11 })
  })

  it("set after the pool started, it is refused, and the pool keeps its size", () => {
    const seen = run("11", "late")
    assert.strictEqual(seen.before, 0)
    assert.match(seen.set, /ThreadPoolStarted|runs already with 4 threads/)
    assert.strictEqual(seen.after, THREADPOOL_DEFAULT)
  })
})
