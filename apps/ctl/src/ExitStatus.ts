/**
 * How a tool ends when it did not succeed, after it has said why on
 * stderr: the exit status its Unix namesake would have (1 for "some
 * operand failed", as ls, cat, rm ... exit). The message is already
 * printed, so the runtime does not report it again.
 */
import { Cause, Data, Exit, Runtime } from "effect"
import { CliError } from "effect/cli"

export class ExitStatus extends Data.TaggedError("ExitStatus")<{
  readonly code: number
}> {
  override readonly [Runtime.errorReported] = false
}

/** A failed operand (or a server that cannot be reached): exit 1. */
export const failed = new ExitStatus({ code: 1 })

/**
 * The process exit code of the program's outcome: 0 when it finished (or
 * a signal stopped it), 2 for a bad command line (effect/cli has printed
 * the usage), the ExitStatus's code, else 1.
 */
export const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return 0
  const error = Cause.squash(exit.cause)
  if (CliError.isCliError(error)) return 2
  return error instanceof ExitStatus ? error.code : 1
}

/** For `NodeRuntime.runMain`. */
export const teardown: Runtime.Teardown = (exit, onExit) => onExit(exitCode(exit))
