/**
 * `sysproxy mv [-fq] source ... target` (mv(1)): rename(2) within the
 * kernel; where rename cannot (EXDEV: another mount), or between the host
 * (host:PATH) and the kernel, a copy that keeps mode, owner and times,
 * then the source removed; a file whose copy fails is not left half
 * copied (the target is unlinked, the source kept), as NetBSD's mv does.
 * A refused rename is `mv: rename a to b: why`.
 */
import { Effect } from "effect"
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { copyEntry, type Endpoint, placeCopies } from "../copy/CopyTree.ts"
import { endpointOf } from "../copy/Run.ts"
import { failed } from "../ExitStatus.ts"
import { quietFlag, switchFlag } from "../Flags.ts"
import { errLine, warn } from "../Output.ts"
import type { SysproxyProcess } from "@sysproxy/client"

const TOOL = "mv"

/** Copies then removes the source (what mv does where rename(2) cannot go). */
const copyThenRemove = (from: Endpoint, to: Endpoint, quiet: boolean) =>
  Effect.gen(function*() {
    const copied = yield* copyEntry(from, to, { tool: TOOL, recursive: true, preserve: true, force: true, quiet, removePartial: true })
    if (!copied) return false
    return yield* from.side.removeTree(from.path).pipe(
      Effect.as(true),
      Effect.catchTag("OpFailed", (f) => Effect.as(warn(TOOL, f.path, f.why), false))
    )
  })

const move = (c: SysproxyProcess, from: Endpoint, to: Endpoint, quiet: boolean) =>
  from.side.where === "kernel" && to.side.where === "kernel"
    ? c.rename(from.path, to.path).pipe(
      Effect.as(true),
      Effect.catchTag("SyscallError", (e) =>
        e.code === "EXDEV"
          ? copyThenRemove(from, to, quiet)
          : Effect.as(errLine(`${TOOL}: rename ${from.path} to ${to.path}: ${e.description}`), false))
    )
    : copyThenRemove(from, to, quiet)

export const mv = Command.make(
  TOOL,
  {
    force: switchFlag("force", "f", "do not ask before overwriting (the default here: nothing asks)"),
    quiet: quietFlag,
    operands: Argument.String("source ... target").pipe(Argument.variadic({ min: 2 }))
  },
  ({ operands, quiet }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const ends = operands.map((o) => endpointOf(c, o))
        const pairs = yield* placeCopies(TOOL, ends.slice(0, -1), ends[ends.length - 1]!)
        if (pairs === undefined) return yield* failed
        let ok = true
        for (const [from, to] of pairs) ok = (yield* move(c, from, to, quiet)) && ok
        if (!ok) return yield* failed
      }))
).pipe(Command.withDescription("Move or rename files on the server (across mounts, and to or from host:PATH, by copying)."))
