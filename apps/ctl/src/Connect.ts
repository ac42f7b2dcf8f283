/**
 * A tool's client process: connected to the server from --server, else
 * RUMP_SERVER, as `sysproxy-<tool>` (what ps shows), closed when the tool
 * ends; with --uid/--gid it becomes that user first (setgid, setgroups,
 * setuid, as su(1) does), so the tool meets the kernel's permission checks
 * as that user would. Inside `sysproxy sh` the shell's own process is used
 * instead (Session.ts). A failure that is not about one operand (no
 * server, a lost connection, credentials the kernel would not change) is
 * reported as `sysproxy: why` and ends the tool with 1.
 */
import { type CallError, makeClient, type SysproxyProcess } from "@sysproxy/client"
import { Effect, Option } from "effect"
import { setgid, setgroups, setuid } from "./Calls.ts"
import { ExitStatus, failed, usage } from "./ExitStatus.ts"
import { errLine } from "./Output.ts"
import { root } from "./Root.ts"
import { ShellProcess } from "./Session.ts"
import { PROGRAM } from "./Version.ts"

/** Credentials to take on: the group (the only one) first, then the user, whose change drops root. */
export const becomeUser = (c: SysproxyProcess, uid: Option.Option<number>, gid: Option.Option<number>) =>
  Effect.gen(function*() {
    if (Option.isSome(gid)) {
      yield* setgid(c, gid.value)
      yield* setgroups(c, [gid.value])
    }
    if (Option.isSome(uid)) yield* setuid(c, uid.value)
  })

export const withClient = <A, R>(
  tool: string,
  use: (client: SysproxyProcess) => Effect.Effect<A, CallError | ExitStatus, R>
) =>
  Effect.gen(function*() {
    const shell = yield* ShellProcess
    const { gid, server, uid } = yield* root
    if (shell !== undefined) {
      // the shell's process is connected and credentialed once, for the whole session
      if (Option.isSome(server) || Option.isSome(uid) || Option.isSome(gid)) {
        yield* errLine(`${tool}: --server, --uid and --gid go before sh (sysproxy --uid N sh), not on a command inside it`)
        return yield* usage
      }
      return yield* use(shell)
    }
    return yield* Effect.scoped(
      Effect.gen(function*() {
        const c = yield* makeClient({ url: Option.getOrUndefined(server), comm: `${PROGRAM}-${tool}` })
        yield* becomeUser(c, uid, gid).pipe(
          Effect.catchTag("SyscallError", (e) =>
            Effect.andThen(errLine(`${PROGRAM}: cannot run as the user asked: ${e.syscall}: ${e.description}`), failed))
        )
        return yield* use(c)
      })
    )
  }).pipe(
    Effect.catch((e) => e._tag === "ExitStatus" ? Effect.fail(e) : Effect.andThen(errLine(`${PROGRAM}: ${e.message}`), Effect.fail(failed)))
  )
