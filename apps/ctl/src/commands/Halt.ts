/**
 * `sysproxy halt` (rump.halt): reboot(2) on the server, which then stops
 * serving. The flags are reboot(2)'s howto bits and nothing else: -d
 * sends RB_DUMP, -n RB_NOSYNC, --linger RB_HALT (rump.halt's -h, which
 * is --help here). The help says only what is sent: what a server does
 * with RB_HALT (whether its process stays) is the server's to say.
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
    dump: switchFlag("dump", "d", "send RB_DUMP: ask for a crash dump as the kernel stops"),
    noSync: switchFlag("no-sync", "n", "send RB_NOSYNC: do not sync file systems first"),
    linger: switchFlag("linger", undefined, "send RB_HALT: halt rather than reboot (rump.halt -h)")
  },
  ({ dump, linger, noSync }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const howto = (dump ? rebootFlags.RB_DUMP : 0) | (noSync ? rebootFlags.RB_NOSYNC : 0) |
          (linger ? rebootFlags.RB_HALT : 0)
        if (!(yield* attempt(TOOL, "reboot", c.reboot(howto)))) return yield* failed
      }))
).pipe(Command.withDescription("Halt the server's kernel (rump.halt): the server stops serving."))
