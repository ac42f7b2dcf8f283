/**
 * Why the program stops with a failure, and the exit code each one means:
 * 2 for a usage error (bad or missing URL), 1 for a server that could not
 * start. Each carries the one line printed for it; the line is printed by
 * `reportFailure`, so the runtime does not report it a second time.
 */
import { Data, Runtime } from "effect"

/** The command line (or the environment) asks for something impossible. */
export class UsageError extends Data.TaggedError("UsageError")<{
  readonly message: string
}> {
  override readonly [Runtime.errorExitCode] = 2
  override readonly [Runtime.errorReported] = false
}

/** The server could not start (address in use, no permission, ...). */
export class StartupError extends Data.TaggedError("StartupError")<{
  readonly message: string
}> {
  override readonly [Runtime.errorExitCode] = 1
  override readonly [Runtime.errorReported] = false
}

export type AppError = UsageError | StartupError
