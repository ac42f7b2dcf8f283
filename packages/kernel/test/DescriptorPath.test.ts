/**
 * DescriptorPaths: the name of the file behind a descriptor, as fault
 * injection matches `write:path=...` with it; and such a rule over this
 * kernel counting only the writes to the files it names.
 */
import { assert, describe, it } from "@effect/vitest"
import { makeFaultInjection, provideLocalMemory, wrapHypervisor } from "@sysproxy/hypervisor"
import { Errno, openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { packArgs } from "../src/abi/Args.ts"
import { makeDescriptorPaths } from "../src/vfs/DescriptorPath.ts"
import { boot, type Guest } from "./support/SyscallHarness.ts"

const { O_CREAT, O_RDONLY, O_WRONLY } = openFlags

const open = (g: Guest, path: string, flags: number) =>
  Effect.map(g.call(SYS.open, g.mem.allocString(path), flags, 0o644), (r) => {
    assert.strictEqual(r.error, 0, `open ${path}`)
    return Number(r.retval0)
  })

describe("DescriptorPaths", () => {
  it.effect("names the file, follows a rename, forgets an unlinked file; directories and devices too; not a pipe", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const paths = makeDescriptorPaths(k.kernel.state)
      const g = yield* k.guest()
      const fd = yield* open(g, "/tmp/a", O_WRONLY | O_CREAT)
      assert.strictEqual(paths.pathOf(g.pid, fd), "/tmp/a")
      yield* g.call(SYS.mkdir, g.mem.allocString("/tmp/d"), 0o755)
      yield* g.call(SYS.rename, g.mem.allocString("/tmp/a"), g.mem.allocString("/tmp/d/b"))
      assert.strictEqual(paths.pathOf(g.pid, fd), "/tmp/d/b")
      yield* g.call(SYS.unlink, g.mem.allocString("/tmp/d/b"))
      assert.isUndefined(paths.pathOf(g.pid, fd))
      assert.strictEqual(paths.pathOf(g.pid, yield* open(g, "/tmp/d", O_RDONLY)), "/tmp/d")
      assert.strictEqual(paths.pathOf(g.pid, yield* open(g, "/", O_RDONLY)), "/")
      assert.strictEqual(paths.pathOf(g.pid, yield* open(g, "/dev/null", O_WRONLY)), "/dev/null")
      assert.isUndefined(paths.pathOf(g.pid, 99), "no such descriptor")
      assert.strictEqual(paths.pathOf(g.pid, 1), "/dev/console", "a guest's fds 0-2 are the console")
      const fds = g.mem.alloc(8)
      assert.strictEqual((yield* g.call(SYS.pipe2, fds, 0)).error, 0)
      assert.isUndefined(paths.pathOf(g.pid, new DataView(g.mem.read(fds, 4)!.buffer).getInt32(0, true)), "a pipe")
      assert.isUndefined(paths.pathOf(999, 0), "no such process")
    }))

  it.effect("a write:path rule counts only the writes to files it names, through the descriptor", () =>
    Effect.gen(function*() {
      const k = yield* boot()
      const faults = yield* makeFaultInjection(["write:path=/tmp/log*:nth=2:errno=ENOSPC"], {
        descriptors: makeDescriptorPaths(k.kernel.state)
      })
      const hv = wrapHypervisor(faults.middleware)(k.hypervisor)
      const g = yield* k.guest()
      const call = (number: number, ...args: ReadonlyArray<number | bigint>) =>
        Effect.acquireUseRelease(
          hv.newLwp(g.pid).pipe(Effect.orDie),
          (lwp) => hv.syscall(lwp, number, packArgs(...args)).pipe(provideLocalMemory(g.mem)),
          (lwp) => hv.releaseLwp(lwp)
        )
      const log = yield* open(g, "/tmp/log.txt", O_WRONLY | O_CREAT)
      const data = yield* open(g, "/tmp/data", O_WRONLY | O_CREAT)
      const buf = g.mem.allocString("x")
      const results: Array<number> = []
      for (const fd of [data, log, data, log, log]) results.push((yield* call(SYS.write, fd, buf, 1)).error)
      assert.deepStrictEqual(results, [0, 0, 0, Errno.ENOSPC, 0])
    }))
})
