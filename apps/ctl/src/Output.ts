/**
 * What the tools print: data and lines to stdout, diagnostics to stderr,
 * through the Stdio service (so a test can capture both, and binary data
 * from `cat` goes out unchanged).
 */
import { Effect, Stdio, Stream } from "effect"

const encoder = new TextEncoder()

const write = (which: "stdout" | "stderr", data: string | Uint8Array) =>
  Effect.flatMap(Stdio.Stdio, (stdio) =>
    Stream.run(Stream.succeed(typeof data === "string" ? encoder.encode(data) : data), stdio[which]())).pipe(
      // a closed stdout (`| head`) is not worth a second complaint
      Effect.ignore
    )

/** Bytes to stdout as they are. */
export const out = (data: Uint8Array) => write("stdout", data)

/** One line to stdout. */
export const line = (text: string) => write("stdout", `${text}\n`)

/** One line to stderr. */
export const errLine = (text: string) => write("stderr", `${text}\n`)

/** `tool: what: why` on stderr, the form of warn(3). */
export const warn = (tool: string, what: string, why: string) => errLine(`${tool}: ${what}: ${why}`)

/** Text to stderr as it is (a progress bar redrawn in place). */
export const err = (text: string) => write("stderr", text)
