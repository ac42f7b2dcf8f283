/**
 * `sysproxy ps`: the server kernel's processes from sysctl kern.proc2,
 * oldest first: pid, parent, owner, state (ps(1)'s letters: O running on
 * a CPU, R runnable, S sleeping, T stopped, Z zombie; s a session leader,
 * l more than one lwp) and the program name.
 */
import type { ProcInfo } from "@sysproxy/client"
import { sysctlKinfo } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"
import { Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { line } from "../Output.ts"

const TOOL = "ps"

/** p_stat (an lwp state, sys/lwp.h LS*) as ps(1) prints it. */
const STATE_LETTERS: Readonly<Record<number, string>> = { 1: "I", 2: "R", 3: "S", 4: "T", 5: "Z", 6: "Z", 7: "O", 8: "U" }

export const stateString = (p: ProcInfo): string =>
  (STATE_LETTERS[p.stat] ?? "?") + ((p.eflag & sysctlKinfo.EPROC_SLEADER) !== 0 ? "s" : "") +
  (p.nlwps > 1 ? "l" : "")

export const ps = Command.make(TOOL, {}, () =>
  withClient(TOOL, (c) =>
    Effect.gen(function*() {
      const procs = (yield* c.processes()).sort((a, b) => a.pid - b.pid)
      yield* line(`${"PID".padStart(5)} ${"PPID".padStart(5)} ${"UID".padStart(5)} STAT COMMAND`)
      for (const p of procs) {
        yield* line(
          `${String(p.pid).padStart(5)} ${String(p.ppid).padStart(5)} ${String(p.uid).padStart(5)} ${stateString(p).padEnd(4)} ${p.comm}`
        )
      }
    }))).pipe(Command.withDescription("List the server kernel's processes (from sysctl kern.proc2)."))
