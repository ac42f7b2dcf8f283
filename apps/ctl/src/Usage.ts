/**
 * How a bad command line is answered: as a Unix tool answers one, with
 * what is wrong and a one-line usage on stderr (`sysproxy cp: Missing
 * required argument: ...`, `usage: sysproxy cp [flags] <source ...
 * target...>`; `--help` gives the rest), never the whole help on stdout, where a pipeline would
 * take it for data. The exit status stays 2. `--help` and `--version` are
 * effect/cli's own.
 */
import { Console, Effect, Layer } from "effect"
import { CliOutput } from "effect/cli"

/** The lines for an invalid invocation of `commandPath` (sysproxy, then the tool's name). */
export const usageLines = (event: CliOutput.Presenter.InvalidInvocation): Array<string> => {
  const who = event.commandPath.join(" ")
  const problems = event.errors.flatMap((e) => e.message.split("\n").filter((l) => l.trim() !== "").slice(0, 1))
  return [...problems.map((p) => `${who}: ${p}`), `usage: ${event.helpDoc.usage}`]
}

const presenter: CliOutput.Presenter = {
  present: (event) =>
    event._tag === "InvalidInvocation"
      ? Console.error(usageLines(event).join("\n"))
      : CliOutput.defaultPresenter.present(event)
}

/** The presenter every `sysproxy` command line is parsed with. */
export const usagePresenter: Layer.Layer<never> = CliOutput.layerPresenter(presenter)

/** `effect` provided with the presenter. */
export const withUsage = <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> => Effect.provide(effect, usagePresenter)
