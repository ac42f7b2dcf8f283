/**
 * How a tool ends when it did not succeed, after it has said why on
 * stderr: the exit status its Unix namesake would have (1 for "some
 * operand failed", as ls, cat, rm ... exit; 128 + the signal's number
 * for a tool a signal stopped, as a shell reports a killed command). The
 * message is already printed, so the runtime does not report it again.
 */
import { Cause, Data, Exit, Runtime } from "effect"
import { CliError } from "effect/cli"
import * as Os from "node:os"

export class ExitStatus extends Data.TaggedError("ExitStatus")<{
  readonly code: number
}> {
  override readonly [Runtime.errorReported] = false
}

/** A failed operand (or a server that cannot be reached): exit 1. */
export const failed = new ExitStatus({ code: 1 })

/** A command line the tool will not run (after saying why): exit 2, as a usage error. */
export const usage = new ExitStatus({ code: 2 })

/** The signals NodeRuntime.runMain turns into an interruption of the program. */
const STOPPING = ["SIGINT", "SIGTERM"] as const

export type StopSignal = (typeof STOPPING)[number]

/**
 * Starts noting which signal stops the program (runMain only interrupts
 * it, the same way for either); the function gives the first one seen.
 */
export const watchStopSignals = (): (() => StopSignal | undefined) => {
  let seen: StopSignal | undefined
  for (const signal of STOPPING) process.once(signal, () => (seen ??= signal))
  return () => seen
}

/**
 * The process exit code of the program's outcome: 0 when it finished,
 * 128 + n when signal n stopped it (130 for SIGINT, 143 for SIGTERM), 1
 * for an interruption with no signal behind it, 2 for a bad command line
 * (effect/cli has printed the usage), the ExitStatus's code, else 1.
 */
export const exitCode = (exit: Exit.Exit<unknown, unknown>, signal?: StopSignal): number => {
  if (Exit.isSuccess(exit)) return 0
  if (Cause.hasInterruptsOnly(exit.cause)) return signal === undefined ? 1 : 128 + Os.constants.signals[signal]
  const error = Cause.squash(exit.cause)
  if (CliError.isCliError(error)) return 2
  return error instanceof ExitStatus ? error.code : 1
}

/** For `NodeRuntime.runMain`, with `signal` from watchStopSignals. */
export const teardown = (signal: () => StopSignal | undefined): Runtime.Teardown => (exit, onExit) =>
  onExit(exitCode(exit, signal()))
