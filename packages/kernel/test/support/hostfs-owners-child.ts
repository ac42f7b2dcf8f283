/**
 * HostFs.test.ts's server that is not root (started with another uid): a
 * kernel on the host directory argv[2], whose root guest makes a file and a
 * directory, gives them owners and modes the host copy cannot have, then a
 * second kernel on the same directory (a restart) stats them. Prints what
 * each kernel and the host said, as JSON.
 *
 *   node --conditions=@sysproxy/source hostfs-owners-child.ts DIR
 */
import { makeLocalMemory, provideLocalMemory } from "@sysproxy/hypervisor"
import { Structs, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { packArgs } from "../../src/abi/Args.ts"
import { makeKernel } from "../../src/Kernel.ts"

const root = process.argv[2]
if (root === undefined) throw new Error("usage: hostfs-owners-child DIR")

const offsets = new Map(Structs.stat.fields.map((f) => [f.name, f.offset]))

/** A kernel on `root` and a root guest of it; `f` runs with a syscall helper that fails on an errno. */
const withKernel = <A>(f: (sys: (n: number, ...args: ReadonlyArray<bigint | number>) => Effect.Effect<bigint>, str: (s: string) => bigint, stat: (p: string) => Effect.Effect<{ mode: number; uid: number; gid: number }>) => Effect.Effect<A>) =>
  Effect.scoped(Effect.gen(function*() {
    const { hypervisor } = yield* Effect.orDie(makeKernel({ console: () => {}, mounts: [{ hostPath: root, at: "/" }] }))
    const mem = makeLocalMemory()
    const proc = yield* Effect.orDie(hypervisor.rfork({ client: mem.service, mode: "clear", comm: "owners" }))
    const sys = (n: number, ...args: ReadonlyArray<bigint | number>) =>
      Effect.acquireUseRelease(
        Effect.orDie(hypervisor.newLwp(proc.pid)),
        (lwp) => hypervisor.syscall(lwp, n, packArgs(...args)).pipe(provideLocalMemory(mem)),
        (lwp) => hypervisor.releaseLwp(lwp)
      ).pipe(Effect.flatMap((r) => (r.error === 0 ? Effect.succeed(r.retval0) : Effect.die(new Error(`syscall ${n}: errno ${r.error}`)))))
    const str = (s: string) => mem.allocString(s)
    const stat = (p: string) =>
      Effect.gen(function*() {
        const b = mem.alloc(152)
        yield* sys(SYS.__stat50, str(p), b)
        const v = new DataView((mem.read(b, 152) ?? new Uint8Array(152)).slice().buffer)
        return {
          mode: v.getUint32(offsets.get("st_mode") ?? 0, true),
          uid: v.getUint32(offsets.get("st_uid") ?? 0, true),
          gid: v.getUint32(offsets.get("st_gid") ?? 0, true)
        }
      })
    return yield* f(sys, str, stat)
  }))

const host = (name: string) => {
  const st = Fs.lstatSync(Path.join(root, name))
  return { mode: st.mode, uid: st.uid, gid: st.gid }
}

const first = await Effect.runPromise(withKernel((sys, str, stat) =>
  Effect.gen(function*() {
    const fd = yield* sys(SYS.open, str("/f"), 0x201, 0o644)
    yield* sys(SYS.close, fd)
    yield* sys(SYS.chown, str("/f"), 1234, 5678)
    yield* sys(SYS.chmod, str("/f"), 0o4000)
    yield* sys(SYS.mkdir, str("/d"), 0o500)
    return { f: yield* stat("/f"), d: yield* stat("/d") }
  })
))
const onHost = { f: host("f"), d: host("d") }
const second = await Effect.runPromise(withKernel((_sys, _str, stat) =>
  Effect.gen(function*() {
    return { f: yield* stat("/f"), d: yield* stat("/d") }
  })
))
process.stdout.write(JSON.stringify({ uid: process.getuid?.(), first, onHost, second }) + "\n")
