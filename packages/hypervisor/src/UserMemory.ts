/**
 * The calling client's memory, as a syscall sees it. The server provides one
 * per syscall (the seeds' rumpuser_sp_copyin/copyout/anonmmap/raise with the
 * connection as `arg`); an in-process kernel user provides one backed by
 * byte arrays (see LocalMemory.ts).
 *
 * Sizes are plain numbers: a single copy is bounded by the kernel, which
 * never asks for more than it can hold. Addresses are client pointers,
 * opaque 64-bit values.
 */
import { Context, type Effect } from "effect"
import type { MemoryFault } from "./Errors.ts"

export interface UserMemoryService {
  /** Exactly `len` bytes at `addr`. */
  readonly copyin: (addr: bigint, len: number) => Effect.Effect<Uint8Array, MemoryFault>
  /**
   * A NUL-terminated string at `addr`: the bytes up to and including the
   * NUL, or `maxLen` bytes without one when the string is that long (the
   * caller decides between truncation and ENAMETOOLONG).
   */
  readonly copyinstr: (addr: bigint, maxLen: number) => Effect.Effect<Uint8Array, MemoryFault>
  /**
   * Stores `data` at `addr`. The caller hands `data` over: it must not
   * change it afterwards (a remote client's copy may still be on its way,
   * sent from these very bytes).
   */
  readonly copyout: (addr: bigint, data: Uint8Array) => Effect.Effect<void, MemoryFault>
  /** Stores a string (with its NUL, as given) at `addr`; `data` is handed over as for copyout. */
  readonly copyoutstr: (addr: bigint, data: Uint8Array) => Effect.Effect<void, MemoryFault>
  /** A fresh anonymous read/write mapping of `size` bytes; fails with ENOMEM when refused. */
  readonly anonmmap: (size: bigint) => Effect.Effect<bigint, MemoryFault>
  /** Delivers a signal (NetBSD numbering) to the client itself. */
  readonly raise: (signo: number) => Effect.Effect<void>
  /**
   * Ends the client's connection at once, as if the client had vanished
   * (the server then cleans up as after any disconnect). Optional: a memory
   * with no connection behind it has none. Used by fault injection's drop.
   */
  readonly disconnect?: ((reason: string) => Effect.Effect<void>) | undefined
}

export class UserMemory extends Context.Service<UserMemory, UserMemoryService>()("@sysproxy/hypervisor/UserMemory") {}
