/**
 * The clocks clock_gettime reads (NetBSD's clock_gettime1), in nanoseconds.
 */
import { Effect } from "effect"
import { clockIds, Errno } from "@sysproxy/protocol/netbsd"
import * as NodeProcess from "node:process"
import { sysErr, type SysErr } from "./SysErr.ts"
import type { SyscallContext } from "./SyscallContext.ts"

const NS_PER_MS = 1_000_000n
const MAX_STEP = 1_000_000_000n

/**
 * CLOCK_REALTIME with nanosecond resolution: the wall clock at an anchor
 * plus the monotonic time since. When the wall clock has stepped more than
 * a second away from that, the anchor moves, so settimeofday on the host
 * shows through.
 */
let anchorWall = BigInt(Date.now()) * NS_PER_MS
let anchorMono = NodeProcess.hrtime.bigint()

export const realtimeNs = (): bigint => {
  const now = anchorWall + (NodeProcess.hrtime.bigint() - anchorMono)
  const wall = BigInt(Date.now()) * NS_PER_MS
  if (now - wall > MAX_STEP || wall - now > MAX_STEP) {
    anchorWall = wall
    anchorMono = NodeProcess.hrtime.bigint()
    return wall
  }
  return now
}

/** CLOCK_MONOTONIC: the host's monotonic clock. */
export const monotonicNs = (): bigint => NodeProcess.hrtime.bigint()

/**
 * The CPU-time clocks. The kernel does not account CPU per process or lwp,
 * so both report the server's own CPU time: it only moves forward, and it
 * does not move while the whole server sleeps.
 */
const cpuNs = (): bigint => {
  const u = NodeProcess.cpuUsage()
  return BigInt(u.user + u.system) * 1000n
}

/** The pid or lid or-ed into a CPU-time clock id (CPUCLOCK_ID_MASK); 0 is the caller. */
const CPUCLOCK_ID_MASK = ~(clockIds.CLOCK_THREAD_CPUTIME_ID | clockIds.CLOCK_PROCESS_CPUTIME_ID)

/** clock_gettime1: EINVAL for an unknown clock, ESRCH for a CPU clock of no such process or lwp. */
export const clockNow = (ctx: SyscallContext, id: number): Effect.Effect<bigint, SysErr> => {
  if ((id & clockIds.CLOCK_PROCESS_CPUTIME_ID) !== 0) {
    const pid = id & CPUCLOCK_ID_MASK
    const p = pid === 0 ? ctx.proc : ctx.kernel.procs.get(pid)
    return p === undefined || p.released ? sysErr(Errno.ESRCH) : Effect.sync(cpuNs)
  }
  if ((id & clockIds.CLOCK_THREAD_CPUTIME_ID) !== 0) {
    const lid = id & CPUCLOCK_ID_MASK
    const found = lid === 0 || [...ctx.proc.lwps].some((l) => l.lid === lid)
    return found ? Effect.sync(cpuNs) : sysErr(Errno.ESRCH)
  }
  switch (id) {
    case clockIds.CLOCK_REALTIME:
      return Effect.sync(realtimeNs)
    case clockIds.CLOCK_MONOTONIC:
      return Effect.sync(monotonicNs)
    default:
      return sysErr(Errno.EINVAL)
  }
}
