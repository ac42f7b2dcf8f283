/**
 * Resource limits (struct plimit): a soft and a hard limit per RLIMIT_*,
 * with the defaults the rump kernel's proc0 gets (proc0_init with
 * MAXUSERS 32, then the rump kernel's uvm_init_limits) and the clamps
 * setrlimit applies, and the core file name (pl_corename). A Limits never
 * changes once made: a fork child shares its parent's and setrlimit (or a
 * new core name) gives the process a new one (copy-on-write, as
 * lim_privatise does).
 */
import { limits, rlimit } from "@sysproxy/protocol/netbsd"

export interface RLimit {
  readonly cur: bigint
  readonly max: bigint
}

export const RLIM_INFINITY = rlimit.RLIM_INFINITY
export const RLIM_NLIMITS = rlimit.RLIM_NLIMITS

/** maxfiles: 3 * (NPROC + MAXUSERS) + 80 with MAXUSERS 32 (NPROC = 20 + 16 * MAXUSERS). */
export const MAXFILES = 1772
/** maxproc: NPROC. */
export const MAXPROC = 532
/** maxlwp: MAXLWP. */
export const MAXLWP = 2048
/** amd64 MAXSSIZ (maxsmap) and DFLSSIZ. */
export const MAXSSIZ = 128n * 1024n * 1024n
export const DFLSSIZ = 4n * 1024n * 1024n
/** amd64 MAXDSIZ (maxdmap). */
export const MAXDSIZ = 8n * 1024n * 1024n * 1024n
/** amd64 VM_MAXUSER_ADDRESS, the cap on the memory-sized limits. */
const VM_MAXUSER_ADDRESS = 0x7f8000000000n - 4096n
const PAGE_SIZE = 4096n

/** DEFCORENAME: the core name every process starts with. */
export const DEFCORENAME = "%n.core"

const min = (a: bigint, b: bigint): bigint => (a < b ? a : b)
const limit = (cur: bigint, max: bigint): RLimit => ({ cur, max })

export class Limits {
  private readonly values: ReadonlyArray<RLimit>
  /** The core file name (sysctl proc.<pid>.corename). */
  readonly corename: string

  constructor(values: ReadonlyArray<RLimit>, corename: string = DEFCORENAME) {
    this.values = Object.freeze([...values])
    this.corename = corename
  }

  /** The limit `which` (0 <= which < RLIM_NLIMITS). */
  get(which: number): RLimit {
    return this.values[which] ?? limit(RLIM_INFINITY, RLIM_INFINITY)
  }

  /** A copy with `which` set. */
  with(which: number, value: RLimit): Limits {
    return new Limits(this.values.map((v, i) => (i === which ? value : v)), this.corename)
  }

  /** A copy with another core name (lim_setcorename). */
  withCorename(corename: string): Limits {
    return new Limits(this.values, corename)
  }

  /** Descriptors a process may have open: the RLIMIT_NOFILE soft limit, at most maxfiles. */
  get openFiles(): number {
    return Number(min(this.get(rlimit.RLIMIT_NOFILE).cur, BigInt(MAXFILES)))
  }
}

/** proc0's limits, which every new guest gets; `physmem` in bytes sizes RLIMIT_MEMLOCK. */
export const defaultLimits = (physmem: number): Limits => {
  const values = Array.from({ length: RLIM_NLIMITS }, () => limit(RLIM_INFINITY, RLIM_INFINITY))
  values[rlimit.RLIMIT_NOFILE] = limit(BigInt(limits.NOFILE), BigInt(MAXFILES))
  values[rlimit.RLIMIT_NPROC] = limit(BigInt(limits.CHILD_MAX), BigInt(MAXPROC))
  const mem = min(VM_MAXUSER_ADDRESS, BigInt(physmem))
  values[rlimit.RLIMIT_MEMLOCK] = limit(mem / 3n, mem)
  values[rlimit.RLIMIT_NTHR] = limit(BigInt(limits.CHILD_MAX), BigInt(MAXLWP))
  values[rlimit.RLIMIT_STACK] = limit(DFLSSIZ, MAXSSIZ)
  return new Limits(values)
}

/** What setrlimit stores for an allowed change: dosetrlimit's clamps (DATA, STACK, NOFILE, NPROC, NTHR; the stack limit in whole pages). */
export const clampLimit = (which: number, value: RLimit): RLimit => {
  switch (which) {
    case rlimit.RLIMIT_DATA:
      return limit(min(value.cur, MAXDSIZ), min(value.max, MAXDSIZ))
    case rlimit.RLIMIT_STACK: {
      const cur = min(value.cur, MAXSSIZ)
      return limit((cur + PAGE_SIZE - 1n) / PAGE_SIZE * PAGE_SIZE, min(value.max, MAXSSIZ))
    }
    case rlimit.RLIMIT_NOFILE:
      return limit(min(value.cur, BigInt(MAXFILES)), min(value.max, BigInt(MAXFILES)))
    case rlimit.RLIMIT_NPROC:
      return limit(min(value.cur, BigInt(MAXPROC)), min(value.max, BigInt(MAXPROC)))
    case rlimit.RLIMIT_NTHR:
      return limit(min(value.cur, BigInt(MAXLWP)), min(value.max, BigInt(MAXLWP)))
    default:
      return value
  }
}
