/**
 * A tool's client process: connected to the server from --server, else
 * RUMP_SERVER, as `sysproxy-<tool>` (what ps shows), closed when the tool
 * ends. A failure that is not about one operand (no server, a lost
 * connection) is reported as `sysproxy: why` and ends the tool with 1.
 */
import { type CallError, makeClient, type SysproxyProcess } from "@sysproxy/client"
import { Effect, Option } from "effect"
import { ExitStatus, failed } from "./ExitStatus.ts"
import { errLine } from "./Output.ts"
import { root } from "./Root.ts"
import { PROGRAM } from "./Version.ts"

export const withClient = <A, R>(
  tool: string,
  use: (client: SysproxyProcess) => Effect.Effect<A, CallError | ExitStatus, R>
) =>
  Effect.gen(function*() {
    const { server } = yield* root
    return yield* Effect.scoped(
      Effect.flatMap(makeClient({ url: Option.getOrUndefined(server), comm: `${PROGRAM}-${tool}` }), use)
    )
  }).pipe(
    Effect.catch((e) => e._tag === "ExitStatus" ? Effect.fail(e) : Effect.andThen(errLine(`${PROGRAM}: ${e.message}`), Effect.fail(failed)))
  )
