/**
 * `sysproxy sysctl [-anw] name[=value] ...` (rump.sysctl): names such as
 * kern.hostname resolved to MIBs on the client; prints `name = value` as
 * sysctl(8) does, `name: old -> new` for a write (with -n only the value,
 * or the new value), and every readable node under a node name (or
 * everything with -a); a node whose children it cannot name is an error.
 */
import {
  type CallError,
  decodeTimespec,
  resolveSysctlName,
  type ResolvedSysctl,
  sysctlChildren,
  type SysctlValue,
  type SysproxyProcess
} from "@sysproxy/client"
import { sysctlKern, sysctlTop } from "@sysproxy/protocol/netbsd"
import { Effect, Result, type Stdio } from "effect"
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { switchFlag } from "../Flags.ts"
import { failed } from "../ExitStatus.ts"
import { ctimeString } from "../format/Dates.ts"
import { attempt, eachOperand } from "../Operands.ts"
import { errLine, line } from "../Output.ts"

const TOOL = "sysctl"

const isBoottime = (node: ResolvedSysctl) =>
  node.mib.length === 2 && node.mib[0] === sysctlTop.CTL_KERN && node.mib[1] === sysctlKern.KERN_BOOTTIME

/** A value as sysctl(8) prints it; structs it has no format for as hex. */
export const formatValue = (node: ResolvedSysctl, value: SysctlValue): string => {
  if (value instanceof Uint8Array) {
    if (isBoottime(node) && value.byteLength >= 16) return ctimeString(decodeTimespec(value))
    return `0x${Buffer.from(value).toString("hex")}`
  }
  if (typeof value === "boolean") return value ? "1" : "0"
  return String(value)
}

const show = (node: ResolvedSysctl, value: SysctlValue, valueOnly: boolean) =>
  line(valueOnly ? formatValue(node, value) : `${node.name} = ${formatValue(node, value)}`)

/**
 * Every named leaf under `node` (the whole table for undefined), read and
 * printed; unreadable ones and nodes of unknown children skipped, as
 * sysctl(8) passes over what it cannot show when listing.
 */
const listAll = (
  c: SysproxyProcess,
  node: ResolvedSysctl | undefined,
  valueOnly: boolean
): Effect.Effect<void, CallError, Stdio.Stdio> =>
  Effect.forEach(sysctlChildren(node) ?? [], (child) =>
    child.type === "node"
      ? listAll(c, child, valueOnly)
      : c.sysctl(child.name).pipe(
        Effect.flatMap((v) => show(child, v, valueOnly)),
        Effect.catchTag("SyscallError", () => Effect.void)
      ), { discard: true })

/** The tables sysctl(8) sends to another program, by MIB: kern.proc, kern.proc2, kern.proc_args. */
const SHOWN_BY: ReadonlyMap<string, string> = new Map([
  [`${sysctlTop.CTL_KERN}.${sysctlKern.KERN_PROC}`, "ps"],
  [`${sysctlTop.CTL_KERN}.${sysctlKern.KERN_PROC2}`, "ps"],
  [`${sysctlTop.CTL_KERN}.${sysctlKern.KERN_PROC_ARGS}`, "ps"]
])

/**
 * A node named as an operand: its readable children, or (children not
 * known here, so nothing to print) sysctl(8)'s complaint about a node it
 * cannot show, and a failed operand.
 */
const showNode = (c: SysproxyProcess, node: ResolvedSysctl, valueOnly: boolean) => {
  if (sysctlChildren(node) !== undefined) return Effect.as(listAll(c, node, valueOnly), true)
  const tool = SHOWN_BY.get(node.mib.join("."))
  const why = tool === undefined ? "the nodes under it are unknown to this program" : `use '${tool}' to view this information`
  return Effect.as(errLine(`${TOOL}: ${node.name}: ${why}`), false)
}

export const sysctl = Command.make(
  TOOL,
  {
    all: switchFlag("all", "a", "list every node"),
    valueOnly: switchFlag("values", "n", "print only the values"),
    write: switchFlag("write", "w", "set the nodes given as name=value"),
    names: Argument.String("name[=value]").pipe(Argument.variadic())
  },
  ({ all, names, valueOnly, write }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        if (all) return yield* listAll(c, undefined, valueOnly)
        if (names.length === 0) {
          yield* errLine("usage: sysproxy sysctl [-anw] name[=value] ...")
          return yield* failed
        }
        return yield* eachOperand(names, (operand) => {
          const eq = operand.indexOf("=")
          const name = eq === -1 ? operand : operand.slice(0, eq)
          const resolved = resolveSysctlName(name)
          if (Result.isFailure(resolved)) return Effect.as(errLine(`${TOOL}: ${resolved.failure}`), false)
          const node = resolved.success
          if (eq !== -1 && !write) return Effect.as(errLine(`${TOOL}: Must specify -w to set variables`), false)
          if (eq !== -1) {
            // a value that does not fit the node is refused before anything is sent
            return attempt(
              TOOL,
              name,
              Effect.gen(function*() {
                const old = yield* c.sysctlWrite(name, operand.slice(eq + 1))
                const now = formatValue(node, yield* c.sysctl(name))
                // sysctl(8) -n prints the new value alone: neither the name nor the old value
                yield* line(valueOnly ? now : `${name}: ${formatValue(node, old)} -> ${now}`)
              })
            ).pipe(
              Effect.catchTag("ClientError", (e) =>
                e.reason === "BadRequest" ? Effect.as(errLine(`${TOOL}: ${e.message}`), false) : Effect.fail(e))
            )
          }
          if (node.type === "node") return showNode(c, node, valueOnly)
          return attempt(TOOL, name, Effect.flatMap(c.sysctl(name), (v) => show(node, v, valueOnly)))
        })
      }))
).pipe(
  Command.withDescription("Read or set the server kernel's sysctl nodes (rump.sysctl)."),
  Command.withExamples([
    { command: "sysproxy sysctl kern.hostname", description: "print one node" },
    { command: "sysproxy sysctl -w kern.hostname=guest", description: "set it" },
    { command: "sysproxy sysctl hw", description: "every readable node under hw" }
  ])
)
