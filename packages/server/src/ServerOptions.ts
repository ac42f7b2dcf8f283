/**
 * Everything a server can be told, with the seeds' defaults where the seeds
 * have one.
 */
import { Duration } from "effect"
import { DEFAULT_MAX_FRAME_LENGTH, MAX_COPY_CHUNK } from "@sysproxy/protocol"
import type { ServerObserver } from "./ServerObserver.ts"

export interface ServerOptions {
  /** Where to listen: unix://path, tcp://addr:port, tcp6://[addr]:port. */
  readonly url: string
  /** Connected clients at most; beyond, accept and close at once (C: MAXCLI 256). */
  readonly maxClients?: number | undefined
  /** Worker fibers at most (C: MAXWORKER 128). A syscall blocked in the kernel holds one. */
  readonly maxWorkers?: number | undefined
  /** Idle workers kept (C: IDLEWORKER 16). */
  readonly idleWorkers?: number | undefined
  /** Jobs waiting for a worker at most; beyond, ERROR TRYAGAIN. */
  readonly maxQueuedJobs?: number | undefined
  /** An unclaimed prefork is released after this long (the C server keeps it forever). */
  readonly preforkExpiry?: Duration.Input | undefined
  /** A connection with no valid handshake by then is closed. */
  readonly handshakeTimeout?: Duration.Input | undefined
  /** Largest frame accepted from a client. */
  readonly maxFrameLength?: number | undefined
  /** Bytes queued towards one client at most; beyond, that client is dropped. */
  readonly maxUnsentBytes?: number | undefined
  /** A copyout waits for the client to read once this much is queued. */
  readonly writeHighWater?: number | undefined
  /** How long a copyout may wait for a client that does not read before it is dropped. */
  readonly writeStallTimeout?: Duration.Input | undefined
  /** After a disconnect, in-flight syscalls get this long to leave the kernel before they are interrupted. */
  readonly disconnectGrace?: Duration.Input | undefined
  /** Permissions of a unix socket file. */
  readonly unixSocketMode?: number | undefined
  /**
   * Syscalls of one connection in the server at once (queued or in the
   * kernel) at most; beyond, that request gets ERROR TRYAGAIN. Default 1024:
   * a client with one thread per syscall must fit (the classic exec test
   * runs 315 threads), and librumpclient reports TRYAGAIN as EAGAIN.
   */
  readonly maxInflightSyscalls?: number | undefined
  /**
   * Server requests awaiting one client's answer (copyin, copyinstr,
   * anonmmap) at most; beyond, the copy fails with EFAULT in the syscall
   * that asked for it and a warning is logged. Default 1024.
   */
  readonly maxOutstandingRequests?: number | undefined
  /** Told about every answered syscall and every protocol error (metrics; see ServerMetrics.ts). */
  readonly observer?: ServerObserver | undefined
  /** Runs each syscall in a span "syscall <name>" (default false). */
  readonly traceSyscalls?: boolean | undefined
}

export interface ResolvedOptions {
  readonly url: string
  readonly maxClients: number
  readonly maxWorkers: number
  readonly idleWorkers: number
  readonly maxQueuedJobs: number
  readonly preforkExpiry: Duration.Duration
  readonly handshakeTimeout: Duration.Duration
  readonly maxFrameLength: number
  readonly maxUnsentBytes: number
  readonly writeHighWater: number
  readonly writeStallTimeout: Duration.Duration
  readonly disconnectGrace: Duration.Duration
  readonly unixSocketMode: number
  readonly maxInflightSyscalls: number
  readonly maxOutstandingRequests: number
  readonly observer: ServerObserver | undefined
  readonly traceSyscalls: boolean
}

export const resolveOptions = (o: ServerOptions): ResolvedOptions => ({
  url: o.url,
  maxClients: o.maxClients ?? 256,
  maxWorkers: o.maxWorkers ?? 128,
  idleWorkers: o.idleWorkers ?? 16,
  maxQueuedJobs: o.maxQueuedJobs ?? 65536,
  preforkExpiry: Duration.fromInputUnsafe(o.preforkExpiry ?? "60 seconds"),
  handshakeTimeout: Duration.fromInputUnsafe(o.handshakeTimeout ?? "10 seconds"),
  maxFrameLength: o.maxFrameLength ?? DEFAULT_MAX_FRAME_LENGTH,
  maxUnsentBytes: o.maxUnsentBytes ?? 16 * MAX_COPY_CHUNK,
  writeHighWater: o.writeHighWater ?? 2 * MAX_COPY_CHUNK,
  writeStallTimeout: Duration.fromInputUnsafe(o.writeStallTimeout ?? "30 seconds"),
  disconnectGrace: Duration.fromInputUnsafe(o.disconnectGrace ?? "2 seconds"),
  unixSocketMode: o.unixSocketMode ?? 0o600,
  maxInflightSyscalls: o.maxInflightSyscalls ?? 1024,
  maxOutstandingRequests: o.maxOutstandingRequests ?? 1024,
  observer: o.observer,
  traceSyscalls: o.traceSyscalls ?? false
})
