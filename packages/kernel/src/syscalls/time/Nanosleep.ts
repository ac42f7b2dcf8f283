/**
 * Sleeping for a time (NetBSD's nanosleep1): until a deadline on the
 * monotonic clock (relative) or on the named clock (TIMER_ABSTIME), woken
 * early only by lwpExit, which makes it EINTR with the time left.
 */
import { Duration, Effect } from "effect"
import { Errno } from "@sysproxy/protocol/netbsd"
import { NS_PER_SEC, type RawTimespec, timespecNs, validNsec } from "../../abi/Timespec.ts"
import { sleepFor } from "../../proc/Sleep.ts"
import { sysErr, type SysErr } from "../../kern/SysErr.ts"
import type { SyscallContext } from "../../kern/SyscallContext.ts"
import { monotonicNs } from "../../kern/Clocks.ts"

/** setTimeout's longest delay; longer sleeps take several timers. */
const MAX_TIMER_MS = 2 ** 31 - 1
const NS_PER_MS = 1_000_000n

export interface SleepOutcome {
  /** 0, or EINTR when the lwp was ordered out of the kernel. */
  readonly errno: number
  /** Nanoseconds still to go (0 unless interrupted). */
  readonly remainingNs: bigint
}

const done: SleepOutcome = { errno: 0, remainingNs: 0n }

const sleepUntil: (ctx: SyscallContext, deadline: bigint, now: () => bigint) => Effect.Effect<SleepOutcome> = Effect.fnUntraced(
  function*(ctx, deadline, now) {
    // a timer may fire a little early: go on until the clock has passed the deadline
    for (;;) {
      const left = deadline - now()
      if (left <= 0n) return done
      const ms = (left + NS_PER_MS - 1n) / NS_PER_MS
      const reason = yield* sleepFor(ctx.lwp, Duration.millis(ms > BigInt(MAX_TIMER_MS) ? MAX_TIMER_MS : Number(ms)))
      if (reason === "interrupted") {
        const rest = deadline - now()
        return { errno: Errno.EINTR, remainingNs: rest > 0n ? rest : 0n }
      }
    }
  })

/**
 * Sleeps as `rqt` asks: EINVAL for tv_nsec outside [0, 1e9) or a negative
 * relative time; a zero time or an absolute time already past returns at
 * once. `now` reads the clock an absolute time is on.
 */
export const nanosleep = (
  ctx: SyscallContext,
  rqt: RawTimespec,
  absolute: boolean,
  now: () => bigint
): Effect.Effect<SleepOutcome, SysErr> => {
  if (!validNsec(rqt)) return sysErr(Errno.EINVAL)
  if (absolute) return sleepUntil(ctx, timespecNs(rqt), now)
  if (rqt.sec < 0n) return sysErr(Errno.EINVAL)
  if (rqt.sec === 0n && rqt.nsec === 0n) return Effect.succeed(done)
  return sleepUntil(ctx, monotonicNs() + rqt.sec * NS_PER_SEC + rqt.nsec, monotonicNs)
}
