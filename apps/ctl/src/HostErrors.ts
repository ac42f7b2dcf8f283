/**
 * The host side's errors in the server's words: a host error as its
 * strerror text (the same wording the server's errors have).
 */
import { errnoOfNodeError } from "@sysproxy/client"
import { errnoMessage } from "@sysproxy/protocol/netbsd"
import type { PlatformError } from "effect"

/** "No such file or directory" for a missing file, as strerror says it. */
export const describeLocal = (e: PlatformError.PlatformError): string =>
  e.reason._tag === "BadArgument" ? e.message : errnoMessage(errnoOfNodeError(e.reason.cause))
