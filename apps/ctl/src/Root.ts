/**
 * The root command, `sysproxy`, and the flags every tool shares: which
 * server to talk to, and which user to run as there. Tools read them with
 * `yield* root` (Connect.ts does).
 */
import { Command, Flag } from "effect/cli"

/** uid_t and gid_t are 32 bits; (uid_t)-1 is "unchanged" to set*id, never an id. */
export const MAX_ID = 0xffff_fffe

const id = (name: string, description: string) =>
  Flag.Int(name).pipe(
    Flag.filter(
      (n) => n >= 0 && n <= MAX_ID,
      () => `an id from 0 to ${MAX_ID}`
    ),
    Flag.withMetavar("N"),
    Flag.withDescription(description),
    Flag.optional
  )

export const root = Command.make("sysproxy").pipe(
  Command.withSharedFlags({
    server: Flag.String("server").pipe(
      Flag.withMetavar("URL"),
      Flag.withDescription("the server: unix:///path, tcp://host:port or tcp6://[addr]:port (default: $RUMP_SERVER)"),
      Flag.optional
    ),
    uid: id("uid", "run as this user id (setuid after connecting; the server's guests start as root)"),
    gid: id("gid", "run as this group id, the only group (setgid and setgroups before setuid)")
  }),
  Command.withDescription(
    "The rump.* tools for a sysproxy server: each runs as a process in the server's kernel (RUMP_SERVER or --server)."
  )
)
