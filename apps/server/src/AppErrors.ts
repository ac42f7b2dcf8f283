/**
 * Why the program stops with a failure, and the exit code each one means:
 * 2 for a usage error (bad or missing URL), 1 for a server that could not
 * start or a kernel that panicked. Each carries the one line printed for it; the line is printed by
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

/** A client halted the kernel with RB_DUMP: the program ends as after a panic. */
export class KernelPanic extends Data.TaggedError("KernelPanic")<{
  readonly message: string
}> {
  override readonly [Runtime.errorExitCode] = 1
  override readonly [Runtime.errorReported] = false
}

export type AppError = UsageError | StartupError | KernelPanic
