/**
 * The process exit code of the program's outcome: 0 when it finished or was
 * stopped by a signal, 2 for a usage error (bad flags, bad or missing URL),
 * else the error's own code (1 for a server that could not start).
 */
import { Cause, Exit, Runtime } from "effect"
import { CliError } from "effect/cli"

export const exitCode = (exit: Exit.Exit<unknown, unknown>): number => {
  if (Exit.isSuccess(exit) || Cause.hasInterruptsOnly(exit.cause)) return 0
  const error = Cause.squash(exit.cause)
  return CliError.isCliError(error) ? 2 : Runtime.getErrorExitCode(error)
}

/** For `NodeRuntime.runMain`: a signal is a normal way to stop, so it exits 0 (the default says 130). */
export const teardown: Runtime.Teardown = (exit, onExit) => onExit(exitCode(exit))
