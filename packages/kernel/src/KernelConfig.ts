/**
 * What a kernel is told when it boots.
 */
import type { SysctlExtraNode } from "./sysctl/Extra.ts"
import type { HostCallsService } from "./vfs/host/HostCalls.ts"
import type { HostMountSpec } from "./vfs/host/HostTrees.ts"
import type { HostFileMapping } from "./vfs/HostFileNode.ts"

export interface KernelConfig {
  /** kern.hostname at boot (default `rump-<server pid>.<host name>`). */
  readonly hostname?: string | undefined
  /** hw.ncpu (default 1). */
  readonly ncpu?: number | undefined
  /** hw.physmem64 in bytes, also the cap on tmpfs data (default 256 MiB). */
  readonly physmem?: number | undefined
  /** Where console writes go (default: the Effect logger at Info). */
  readonly console?: ((pid: number, bytes: Uint8Array) => void) | undefined
  /**
   * Host directories served as file systems of the kernel, so that what clients write survives a
   * restart (vfs/host/: a host file system, looked up on demand): mounted in order, each at its
   * `at` (one at "/" is the root file system, with /dev a tmpfs of its own), read-only with
   * `readOnly`. None: everything is in memory.
   */
  readonly mounts?: ReadonlyArray<HostMountSpec> | undefined
  /** Vnodes each host mount keeps that nobody uses (default 8192; each holds a host descriptor). */
  readonly vnodeCacheSize?: number | undefined
  /** The host calls of the host file systems (default node:fs on libuv's pool; tests make them fail). */
  readonly hostCalls?: HostCallsService | undefined
  /**
   * Windows of host files named in the kernel's tree (rump_server -d; see
   * vfs/HostFile.ts): opened by the caller, who closes them after the kernel.
   */
  readonly hostFiles?: ReadonlyArray<HostFileMapping> | undefined
  /**
   * The credentials every new guest starts with: uid and gid as its real,
   * effective and saved ids, no supplementary groups (default 0 and 0: root,
   * as NetBSD's server gives every guest).
   */
  readonly guest?: { readonly uid: number; readonly gid: number } | undefined
  /**
   * sysctl nodes of the booting code's own, added to the kernel's tree at
   * boot (sysctl/Extra.ts): e.g. a node at CTL_SYSPROXY with string leaves
   * the superuser may set. None: the tree is exactly a rump kernel's.
   */
  readonly sysctl?: ReadonlyArray<SysctlExtraNode> | undefined
  /**
   * EVFILT_TIMER knotes the kernel keeps at once, beyond which adding one is
   * ENOMEM (NetBSD's kq_calloutmax, 4096, the default).
   */
  readonly maxKqueueTimers?: number | undefined
}

export const OSTYPE = "NetBSD"
export const OSRELEASE = "7.99.34"
export const MACHINE = "amd64"
