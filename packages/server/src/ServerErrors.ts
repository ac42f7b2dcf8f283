/**
 * Why a server could not start.
 */
import { Data } from "effect"

export class ServerStartError extends Data.TaggedError("ServerStartError")<{
  readonly url: string
  readonly reason: "BadUrl" | "AddressInUse" | "ListenFailed"
  readonly message: string
}> {}
