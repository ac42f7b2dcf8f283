/**
 * `sysproxy halt` (rump.halt): reboot(2) on the server, which then stops
 * serving. -d asks for a dump (RB_DUMP), -n skips the sync (RB_NOSYNC),
 * --linger stops the kernel but leaves the server process (RB_HALT; -h,
 * rump.halt's letter for it, is --help here).
 */
import { rebootFlags } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { switchFlag } from "../Flags.ts"
import { attempt } from "../Operands.ts"
import { failed } from "../ExitStatus.ts"

const TOOL = "halt"

export const halt = Command.make(
  TOOL,
  {
    dump: switchFlag("dump", "d", "dump core as the kernel stops (RB_DUMP)"),
    noSync: switchFlag("no-sync", "n", "do not sync file systems first (RB_NOSYNC)"),
    linger: switchFlag("linger", undefined, "halt the kernel but leave the server process running (RB_HALT)")
  },
  ({ dump, linger, noSync }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const howto = (dump ? rebootFlags.RB_DUMP : 0) | (noSync ? rebootFlags.RB_NOSYNC : 0) |
          (linger ? rebootFlags.RB_HALT : 0)
        if (!(yield* attempt(TOOL, "reboot", c.reboot(howto)))) return yield* failed
      }))
).pipe(Command.withDescription("Halt the server's kernel (rump.halt): the server stops serving."))
