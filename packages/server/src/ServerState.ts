/**
 * What the whole server shares between its connections: the kernel, the
 * pool, the prefork registry, the options, and live counters for tests,
 * metrics and the halt sequence.
 */
import type { HypervisorService } from "@sysproxy/hypervisor"
import type { ResolvedOptions } from "./ServerOptions.ts"
import type { PreforkRegistry } from "./PreforkRegistry.ts"
import type { WorkerPool } from "./WorkerPool.ts"

/** The live figures of one connection, read by `stats`. */
export interface ConnectionFigures {
  /** Server requests waiting for this client's answer. */
  waiterCount(): number
  /** Syscall and exec jobs queued or running. */
  jobCount(): number
  /** Past its handshake. */
  isBound(): boolean
}

export interface ServerState {
  readonly hyp: HypervisorService
  readonly options: ResolvedOptions
  readonly pool: WorkerPool
  readonly preforks: PreforkRegistry
  readonly banner: Uint8Array
  /** Live connections (from accept until their cleanup has finished). */
  readonly connections: Set<ConnectionFigures>
  /** Shutting down after a drain: a closing connection interrupts its syscalls without a grace period. */
  stopping: boolean
  readonly counters: {
    accepted: number
    refused: number
    handshakes: { guest: number; fork: number; exec: number; prefork: number }
    syscalls: number
    protocolErrors: number
    copyinBytes: number
    copyoutBytes: number
    dropped: number
  }
}
