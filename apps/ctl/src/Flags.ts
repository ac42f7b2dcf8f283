/** The flags the tools share the shape of. */
import { Flag } from "effect/cli"

/** An on/off flag, off unless given, with its one-letter alias when it has one. */
export const switchFlag = (name: string, alias: string | undefined, description: string) => {
  const flag = Flag.Boolean(name).pipe(Flag.withDescription(description), Flag.withDefault(false))
  return alias === undefined ? flag : flag.pipe(Flag.withAlias(alias))
}

/** -q: no progress bar (one is drawn on a terminal for copies of a few MB). */
export const quietFlag = switchFlag("quiet", "q", "no progress bar on stderr")
