/**
 * The Unix way with operands: each is tried in turn; one the kernel
 * refuses is reported as `tool: operand: strerror` and the rest go on;
 * the tool then exits 1. A failure of the connection itself stops the
 * tool at once (Connect.ts reports it).
 */
import type { CallError, Stat, SyscallError, SysproxyProcess } from "@sysproxy/client"
import { Effect, type Stdio } from "effect"
import { failed } from "./ExitStatus.ts"
import { warn } from "./Output.ts"

/** Runs `work`; false (after the warning) if the kernel refused it with an errno. */
export const attempt = <R>(
  tool: string,
  operand: string,
  work: Effect.Effect<unknown, CallError, R>,
  describe: (e: SyscallError) => string = (e) => e.description
): Effect.Effect<boolean, CallError, R | Stdio.Stdio> =>
  work.pipe(
    Effect.as(true),
    Effect.catchTag("SyscallError", (e) => Effect.as(warn(tool, operand, describe(e)), false))
  )

/** `attempt` over every operand in order; fails with exit 1 if any failed. */
export const eachOperand = <R>(
  operands: ReadonlyArray<string>,
  work: (operand: string) => Effect.Effect<boolean, CallError, R>
) =>
  Effect.gen(function*() {
    let ok = true
    for (const operand of operands) ok = (yield* work(operand)) && ok
    if (!ok) return yield* failed
  })

/** stat(2) of an operand, or undefined after the warning when the kernel refuses it. */
export const attemptStat = (c: SysproxyProcess, tool: string, path: string) =>
  c.stat(path).pipe(
    Effect.map((st): Stat | undefined => st),
    Effect.catchTag("SyscallError", (e) => Effect.as(warn(tool, path, e.description), undefined))
  )
