/**
 * An in-memory, scriptable kernel behind the Hypervisor service, for the
 * server's tests: a process table under an init of pid 1, lwps that can
 * sleep and be ordered out, a handful of syscalls (see Builtins.ts) and a
 * TestKernel service to inspect and script it.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Context, Deferred, Effect, Layer } from "effect"
import { HypervisorError } from "../Errors.ts"
import {
  type HaltRequest,
  Hypervisor,
  type HypervisorService,
  type Identity,
  type LwpHandle,
  type SyscallResult
} from "../Hypervisor.ts"
import type { UserMemory } from "../UserMemory.ts"
import { builtinHandlers } from "./Builtins.ts"
import { INIT_PID, type Lwp, makeProcessTable } from "./ProcessTable.ts"
import { makeSyscallArgs } from "./SyscallArgs.ts"
import { failure, type SyscallHandler, TestKernel, type TestKernelService } from "./TestKernel.ts"

export interface TestHypervisorOptions {
  readonly identity?: Identity
}

export const defaultIdentity: Identity = { ostype: "NetBSD", osrelease: "7.99.34", machine: "amd64" }

const concat = (chunks: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
  let at = 0
  for (const chunk of chunks) {
    out.set(chunk, at)
    at += chunk.length
  }
  return out
}

/** Both sides of one test kernel: the Hypervisor the server uses and the TestKernel tests use. */
export const make = (options?: TestHypervisorOptions): Effect.Effect<{
  readonly hypervisor: HypervisorService
  readonly kernel: TestKernelService
}> =>
  Effect.sync(() => {
    const table = makeProcessTable()
    const outputs = new Map<number, Array<Uint8Array>>()
    const unimplemented = new Map<number, number>()
    const halt = Deferred.makeUnsafe<HaltRequest>()
    let lastString: string | undefined

    const requestHalt = (howto: number, lwp: LwpHandle | undefined) =>
      Effect.asVoid(Deferred.succeed(halt, { howto, lwp })) // the first request wins

    const handlers = new Map<number, SyscallHandler>(
      builtinHandlers({
        appendOutput: (pid, bytes) => {
          const log = outputs.get(pid)
          if (log === undefined) outputs.set(pid, [bytes])
          else log.push(bytes)
        },
        clientOf: (pid) => (pid === INIT_PID ? "init" : table.procs.get(pid)?.client),
        requestHalt,
        setLastString: (s) => {
          lastString = s
        }
      })
    )

    /** Interruptible sleep of one lwp; an interrupted fiber takes its sleeper away with it. */
    const sleep = (lwp: Lwp): Effect.Effect<void> =>
      Effect.callback<void>((resume) => {
        if (lwp.orderedOut) {
          resume(Effect.void)
          return
        }
        const sleeper = { lwp, wake: () => resume(Effect.void) }
        table.addSleeper(sleeper)
        return Effect.sync(() => table.removeSleeper(sleeper))
      })

    const refuse = (op: string, errno: number, message: string) => new HypervisorError({ op, errno, message })

    const syscall = (
      handle: LwpHandle,
      number: number,
      args: Uint8Array
    ): Effect.Effect<SyscallResult, never, UserMemory> =>
      Effect.suspend(() => {
        const lwp = table.lwpOf(handle, `syscall ${number}`)
        if (lwp === undefined) return Effect.succeed(failure(Errno.ESRCH))
        const handler = handlers.get(number)
        if (handler === undefined) {
          unimplemented.set(number, (unimplemented.get(number) ?? 0) + 1)
          return Effect.succeed(failure(Errno.ENOSYS))
        }
        return handler({
          number,
          lwp: handle,
          process: table.info(lwp.proc),
          args: makeSyscallArgs(args),
          sleep: sleep(lwp)
        }).pipe(Effect.catchTag("MemoryFault", (fault) => Effect.succeed(failure(fault.errno))))
      })

    const hypervisor: HypervisorService = {
      identity: options?.identity ?? defaultIdentity,
      rfork: ({ client, comm, mode, parent }) =>
        Effect.suspend(() => {
          const forked = table.rfork(client, mode, parent, comm)
          if (forked._tag === "NoParent") {
            return Effect.fail(refuse("rfork", Errno.ESRCH, `rfork: parent pid ${forked.pid} is gone`))
          }
          outputs.delete(forked.proc.handle.pid) // a reused pid starts with an empty log
          return Effect.succeed(forked.proc.handle)
        }),
      newLwp: (pid) =>
        Effect.suspend(() => {
          const made = table.newLwp(pid)
          switch (made._tag) {
            case "Created":
              return Effect.succeed(made.lwp.handle)
            case "NoProcess":
              return Effect.fail(refuse("newLwp", Errno.ESRCH, `newLwp: no process ${pid}`))
            case "Exiting":
              return Effect.fail(refuse("newLwp", Errno.EBUSY, `newLwp: process ${pid} is exec'ing`))
          }
        }),
      releaseLwp: (lwp) => Effect.sync(() => table.releaseLwp(lwp)),
      lwpExit: (process) => Effect.sync(() => table.lwpExit(process)),
      execNotify: (process, comm) => Effect.sync(() => table.execNotify(process, comm)),
      releaseProcess: (process) => Effect.sync(() => table.releaseProcess(process)),
      syscall,
      awaitHalt: Deferred.await(halt)
    }

    const kernel: TestKernelService = {
      processes: Effect.sync(() => [...table.procs.values()].map(table.info).sort((a, b) => a.pid - b.pid)),
      process: (pid) =>
        Effect.sync(() => {
          const proc = table.procs.get(pid)
          return proc === undefined ? undefined : table.info(proc)
        }),
      processCount: Effect.sync(() => table.procs.size),
      lwpCount: Effect.sync(() => table.lwps.size),
      sleeping: Effect.sync(() => table.sleeping),
      awaitSleeping: (n) =>
        Effect.callback<void>((resume) => {
          if (table.sleeping === n) {
            resume(Effect.void)
            return
          }
          const unwatch = table.watchSleepers(() => {
            if (table.sleeping === n) {
              unwatch()
              resume(Effect.void)
            }
          })
          return Effect.sync(unwatch)
        }),
      output: (pid) => Effect.sync(() => concat(outputs.get(pid) ?? [])),
      lastString: Effect.sync(() => lastString),
      unimplemented: Effect.sync(() => new Map(unimplemented)),
      releasedCount: Effect.sync(() => table.released),
      misuse: Effect.sync(() => table.misuse.slice()),
      setHandler: (number, handler) => Effect.sync(() => void handlers.set(number, handler)),
      halt: (howto) => requestHalt(howto, undefined)
    }

    return { hypervisor, kernel }
  })

/** Provides both Hypervisor and TestKernel, sharing one fresh kernel. */
export const layer = (options?: TestHypervisorOptions): Layer.Layer<Hypervisor | TestKernel> =>
  Layer.effectContext(
    Effect.map(make(options), ({ hypervisor, kernel }) =>
      Context.make(Hypervisor, hypervisor).pipe(Context.add(TestKernel, kernel)))
  )
