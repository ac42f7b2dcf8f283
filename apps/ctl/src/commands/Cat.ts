/**
 * `sysproxy cat file ...` (rump.cat): each file's bytes to stdout, as
 * they are read (64 KiB at a time); a file that cannot be read is
 * reported and the others still go out.
 */
import { IO_CHUNK } from "@sysproxy/client"
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { attempt, eachOperand } from "../Operands.ts"
import { out } from "../Output.ts"

const TOOL = "cat"

export const cat = Command.make(
  TOOL,
  { files: Argument.String("file").pipe(Argument.variadic({ min: 1 })) },
  ({ files }) =>
    withClient(TOOL, (c) =>
      eachOperand(files, (file) =>
        attempt(
          TOOL,
          file,
          Effect.acquireUseRelease(
            c.open(file),
            (fd) =>
              Effect.gen(function*() {
                for (;;) {
                  const chunk = yield* c.read(fd, IO_CHUNK)
                  if (chunk.byteLength === 0) return
                  yield* out(chunk)
                }
              }),
            (fd) => Effect.ignore(c.close(fd))
          )
        ))
    )
).pipe(Command.withDescription("Print files from the server (rump.cat)."))
