/**
 * The root command, `sysproxy`, and the flag every tool shares: which
 * server to talk to. Tools read it with `yield* root`.
 */
import { Flag, Command } from "effect/cli"

export const root = Command.make("sysproxy").pipe(
  Command.withSharedFlags({
    server: Flag.String("server").pipe(
      Flag.withMetavar("URL"),
      Flag.withDescription("the server: unix:///path, tcp://host:port or tcp6://[addr]:port (default: $RUMP_SERVER)"),
      Flag.optional
    )
  }),
  Command.withDescription(
    "The rump.* tools for a sysproxy server: each runs as a process in the server's kernel (RUMP_SERVER or --server)."
  )
)
