/**
 * What the tools know of the terminal: whether stdout and stderr are one
 * (ls prints columns, copies draw a progress bar) and how wide it is. A
 * Reference read from the process by default, so a test can say "a
 * terminal" without one.
 */
import { Context } from "effect"

export interface TerminalInfo {
  /** Columns of the terminal stdout is, or undefined when stdout is not a terminal. */
  readonly stdoutColumns: number | undefined
  /** Whether stderr is a terminal (and how wide, for a progress bar). */
  readonly stderrColumns: number | undefined
}

export const Terminal = Context.Reference<TerminalInfo>("@sysproxy/ctl/Terminal", {
  defaultValue: () => ({
    stdoutColumns: process.stdout.isTTY ? process.stdout.columns || 80 : undefined,
    stderrColumns: process.stderr.isTTY ? process.stderr.columns || 80 : undefined
  })
})
