/**
 * A syscall's failure: the NetBSD errno it returns. Kernel code fails with
 * this and the dispatcher turns it into the syscall result.
 */
import { Data, Effect } from "effect"

export class SysErr extends Data.TaggedError("SysErr")<{ readonly errno: number }> {}

export const sysErr = (errno: number): Effect.Effect<never, SysErr> => Effect.fail(new SysErr({ errno }))
