/** Processes and syscalls against whatever Hypervisor the test provides (the test kernel, wrapped). */
import { limits, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { Hypervisor, type ProcessHandle } from "../../src/Hypervisor.ts"
import { type LocalMemory, makeLocalMemory, provideLocalMemory } from "../../src/LocalMemory.ts"
import type { UserMemoryService } from "../../src/UserMemory.ts"
import { UserMemory } from "../../src/UserMemory.ts"
import { packArgs, success, TestKernel } from "../../src/testing/index.ts"

export interface Client {
  readonly process: ProcessHandle
  readonly memory: LocalMemory
  /** Requests that reached the memory, by kind (what a remote client would have been asked). */
  readonly asked: Record<"copyin" | "copyinstr" | "copyout", number>
  readonly service: UserMemoryService
}

/** A guest process named `comm`, whose memory counts what it is asked. */
export const spawn = (comm: string) =>
  Effect.gen(function*() {
    const hv = yield* Hypervisor
    const memory = makeLocalMemory()
    const asked = { copyin: 0, copyinstr: 0, copyout: 0 }
    const inner = memory.service
    const service: UserMemoryService = {
      ...inner,
      copyin: (addr, len) => Effect.suspend(() => (asked.copyin++, inner.copyin(addr, len))),
      copyinstr: (addr, max) => Effect.suspend(() => (asked.copyinstr++, inner.copyinstr(addr, max))),
      copyout: (addr, data) => Effect.suspend(() => (asked.copyout++, inner.copyout(addr, data)))
    }
    const process = yield* hv.rfork({ client: service, mode: "clear", comm })
    return { process, memory, asked, service } satisfies Client
  })

/** One syscall on a fresh lwp of the client's process, released after. */
export const call = (client: Client, number: number, ...args: ReadonlyArray<bigint | number>) =>
  Effect.gen(function*() {
    const hv = yield* Hypervisor
    return yield* Effect.acquireUseRelease(
      hv.newLwp(client.process.pid),
      (lwp) => hv.syscall(lwp, number, packArgs(...args)).pipe(Effect.provideService(UserMemory, client.service)),
      (lwp) => hv.releaseLwp(lwp)
    )
  })

/** The errno of each of `n` calls. */
export const errnos = (client: Client, n: number, number: number, ...args: ReadonlyArray<bigint | number>) =>
  Effect.forEach(Array.from({ length: n }), () => Effect.map(call(client, number, ...args), (r) => r.error))

export { provideLocalMemory }

/** open(path, ...) for the test kernel: reads the path as the real kernel does (PATH_MAX), answers fd 3. */
export const installOpen = Effect.gen(function*() {
  const kernel = yield* TestKernel
  yield* kernel.setHandler(SYS.open, (ctx) =>
    Effect.gen(function*() {
      const memory = yield* UserMemory
      yield* memory.copyinstr(ctx.args.u64(0), limits.PATH_MAX)
      return success(3n)
    }))
})
