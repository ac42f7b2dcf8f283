/**
 * The syscalls the test kernel answers out of the box: a few NetBSD ones
 * with simple, checkable behaviour, and the TestSyscalls that exercise each
 * UserMemory operation and the sleep/wake path.
 */
import { Errno, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import type { LwpHandle } from "../Hypervisor.ts"
import type { UserMemoryService } from "../UserMemory.ts"
import { UserMemory } from "../UserMemory.ts"
import { failure, success, type SyscallHandler, TestSyscalls } from "./TestKernel.ts"

/** Larger read/write/echo sizes are refused with EINVAL instead of allocating them. */
export const MAX_TRANSFER = 16 * 1024 * 1024

/** What the built-ins need from the kernel around them. */
export interface BuiltinKernel {
  readonly appendOutput: (pid: number, bytes: Uint8Array) => void
  /** The client of a live process; "init" for pid 1, which has none. */
  readonly clientOf: (pid: number) => UserMemoryService | "init" | undefined
  readonly requestHalt: (howto: number, lwp: LwpHandle | undefined) => Effect.Effect<void>
  readonly setLastString: (s: string) => void
}

const size = (n: bigint): number | undefined => (n <= BigInt(MAX_TRANSFER) ? Number(n) : undefined)

/** Sleeps until ordered out; such syscalls never return otherwise. */
const sleepUntilInterrupted: SyscallHandler = (ctx) => Effect.as(ctx.sleep, failure(Errno.EINTR))

export const builtinHandlers = (kernel: BuiltinKernel): ReadonlyMap<number, SyscallHandler> =>
  new Map<number, SyscallHandler>([
    [SYS.getpid, (ctx) => Effect.succeed(success(BigInt(ctx.process.pid), BigInt(ctx.process.ppid)))],
    [
      SYS.write,
      (ctx) =>
        Effect.gen(function*() {
          const n = size(ctx.args.u64(2))
          if (n === undefined) return failure(Errno.EINVAL)
          const memory = yield* UserMemory
          const bytes = yield* memory.copyin(ctx.args.u64(1), n)
          kernel.appendOutput(ctx.process.pid, bytes)
          return success(BigInt(n))
        })
    ],
    [
      SYS.read,
      (ctx) =>
        Effect.gen(function*() {
          const n = size(ctx.args.u64(2))
          if (n === undefined) return failure(Errno.EINVAL)
          const bytes = new Uint8Array(n)
          for (let i = 0; i < n; i++) bytes[i] = i & 0xff
          const memory = yield* UserMemory
          yield* memory.copyout(ctx.args.u64(1), bytes)
          return success(BigInt(n))
        })
    ],
    [SYS.__nanosleep50, sleepUntilInterrupted],
    [
      SYS.kill,
      (ctx) =>
        Effect.gen(function*() {
          const target = kernel.clientOf(ctx.args.i32(0))
          const sig = ctx.args.i32(1)
          if (target === undefined) return failure(Errno.ESRCH)
          if (sig === 0) return success()
          // Init has no client to deliver to, and may not be signalled.
          if (target === "init") return failure(Errno.EPERM)
          yield* target.raise(sig)
          return success()
        })
    ],
    [
      SYS.reboot,
      (ctx) => Effect.as(kernel.requestHalt(ctx.args.i32(0), ctx.lwp), success())
    ],
    [
      TestSyscalls.raise,
      (ctx) =>
        Effect.gen(function*() {
          const memory = yield* UserMemory
          yield* memory.raise(ctx.args.i32(0))
          return success()
        })
    ],
    [
      TestSyscalls.anonmmap,
      (ctx) =>
        Effect.gen(function*() {
          const memory = yield* UserMemory
          return success(yield* memory.anonmmap(ctx.args.u64(0)))
        })
    ],
    [
      TestSyscalls.copyinstr,
      (ctx) =>
        Effect.gen(function*() {
          const max = size(ctx.args.u64(1))
          if (max === undefined) return failure(Errno.EINVAL)
          const memory = yield* UserMemory
          const bytes = yield* memory.copyinstr(ctx.args.u64(0), max)
          if (bytes.length === 0 || bytes[bytes.length - 1] !== 0) return failure(Errno.ENAMETOOLONG)
          const text = bytes.subarray(0, bytes.length - 1)
          kernel.setLastString(new TextDecoder().decode(text))
          return success(BigInt(text.length))
        })
    ],
    [
      TestSyscalls.echo,
      (ctx) =>
        Effect.gen(function*() {
          const n = size(ctx.args.u64(1))
          if (n === undefined) return failure(Errno.EINVAL)
          const memory = yield* UserMemory
          const bytes = yield* memory.copyin(ctx.args.u64(0), n)
          yield* memory.copyout(ctx.args.u64(2), bytes)
          return success(BigInt(n))
        })
    ],
    [TestSyscalls.block, sleepUntilInterrupted]
  ])
