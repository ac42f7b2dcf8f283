/**
 * `sysproxy inject RULE ...`, `sysproxy inject --clear [RULE ...]`,
 * `sysproxy inject --list`: the server's fault rules, changed while it runs
 * through its sysctl node `sysproxy.inject` (rules as one line, `rule; rule`; see
 * sysproxy-server --inject). RULEs are added after the rules in force;
 * --clear removes those first, so a RULE given with it counts afresh even
 * if the same rule was in force; --list prints those in force. A rule is
 * checked here first, so a bad one says why and exits 2 without touching
 * the server; a server without fault injection, or a client that is not
 * root in the kernel, exits 1 saying so.
 */
import { type CallError, type SysproxyProcess } from "@sysproxy/client"
import { checkFaultRule, formatRuleList, parseRuleList } from "@sysproxy/hypervisor"
import { Errno, errnoMessage } from "@sysproxy/protocol/netbsd"
import { Effect, type Stdio } from "effect"
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { ExitStatus, failed } from "../ExitStatus.ts"
import { switchFlag } from "../Flags.ts"
import { errLine, line } from "../Output.ts"
import { PROGRAM } from "../Version.ts"

const TOOL = "inject"
const NODE = "sysproxy.inject"

const usage = new ExitStatus({ code: 2 })
const say = (text: string) => errLine(`${PROGRAM} ${TOOL}: ${text}`)


/** The refusals a user can act on, said plainly; anything else goes on to Connect's report. */
const explain = (e: CallError): Effect.Effect<never, CallError | ExitStatus, Stdio.Stdio> => {
  if (e._tag === "ConnectionClosed") return Effect.fail(e)
  if (e.errno === Errno.ENOENT) {
    return Effect.andThen(say(`the server has no fault injection (start it with --inject; --inject '' for no rule yet)`), Effect.fail(failed))
  }
  if (e.errno === Errno.EPERM) return Effect.andThen(say(`${NODE}: ${errnoMessage(Errno.EPERM)} (only root in the kernel may set rules)`), Effect.fail(failed))
  if (e.errno === Errno.EINVAL) return Effect.andThen(say(`the server refused the rules (${errnoMessage(Errno.EINVAL)})`), Effect.fail(failed))
  return Effect.fail(e)
}

const current = (c: SysproxyProcess) => Effect.map(c.sysctl(NODE), (v) => parseRuleList(String(v)))

export const inject = Command.make(
  TOOL,
  {
    clear: switchFlag("clear", undefined, "remove the rules in force (then add the RULEs given, if any)"),
    list: switchFlag("list", undefined, "print the rules in force, one a line"),
    rules: Argument.String("rule").pipe(
      Argument.withDescription("a fault rule, e.g. write:path=/tmp/log*:nth=3:errno=ENOSPC"),
      Argument.variadic()
    )
  },
  ({ clear, list, rules }) =>
    Effect.gen(function*() {
      if (list && (clear || rules.length > 0)) {
        yield* say("--list goes alone")
        return yield* usage
      }
      if (!list && !clear && rules.length === 0) {
        yield* say("give a RULE, --clear or --list")
        return yield* usage
      }
      for (const rule of rules) {
        const bad = checkFaultRule(rule)
        if (bad !== undefined) {
          yield* say(`bad rule ${JSON.stringify(rule)}: ${bad.message}`)
          return yield* usage
        }
      }
      yield* withClient(TOOL, (c) =>
        Effect.gen(function*() {
          const inForce = yield* current(c)
          if (list) {
            for (const rule of inForce) yield* line(rule)
            return
          }
          const write = (set: ReadonlyArray<string>) => c.sysctlWrite(NODE, formatRuleList(set))
          if (!clear) return yield* write([...inForce, ...rules])
          // removed first, so a rule given again starts counting afresh (a rule kept in a new set keeps its count)
          if (inForce.length > 0) yield* write([])
          if (rules.length > 0) yield* write(rules)
        }).pipe(Effect.catch(explain)))
    })
).pipe(
  Command.withDescription(
    "Add fault rules to the server's (sysctl sysproxy.inject), remove them with --clear, or list them with --list."
  )
)
