/**
 * `sysproxy sysctl [-anw] name[=value] ...` (rump.sysctl), as NetBSD's
 * sysctl(8) does it: names resolved by the kernel (CTL_QUERY, as
 * sysctlnametomib), `name = value` per leaf, every leaf under a node named
 * (or the whole tree with -a, walked with CTL_QUERY), `name: old -> new`
 * for a write (with -n only the values). What sysctl(8) hands to another
 * program (kern.proc2: ps) or cannot print (structs) is skipped while
 * walking and named when asked for by name; a name that does not resolve,
 * `=` without -w, or a refused write stops the tool with status 1, as
 * sysctl(8) stops.
 */
import {
  type CallError,
  decodeSysctlValue,
  encodeSysctlValue,
  type ResolvedSysctl,
  type SysctlNodeInfo,
  type SysproxyProcess
} from "@sysproxy/client"
import { Errno, errnoMessage, sysctlCtlflag } from "@sysproxy/protocol/netbsd"
import { Effect, Result, type Stdio } from "effect"
import { Argument, Command } from "effect/cli"
import { withClient } from "../Connect.ts"
import { failed } from "../ExitStatus.ts"
import { switchFlag } from "../Flags.ts"
import { errLine, line } from "../Output.ts"

const TOOL = "sysctl"
const RLIM_INFINITY = 0x7fff_ffff_ffff_ffffn

/** sysctl(8)'s handlers of nodes it sends to another program, by name (those this kernel has). */
const OTHER_PROGRAMS: ReadonlyArray<readonly [RegExp, string | undefined]> = [
  [/^kern\.evcnt$/, "vmstat -e"],
  [/^kern\.vnode$/, "pstat"],
  [/^kern\.proc(2|_args)?$/, "ps"],
  [/^kern\.file2?$/, "pstat"],
  [/^kern\.ntptime$/, "ntpdc -c kerninfo"],
  [/^kern\.msgbuf$/, "dmesg"],
  [/^kern\.sysvipc_info$/, "ipcs"],
  [/^hw\.diskstats$/, "iostat"],
  // only when they have no children
  [/^net\.[^.]+$/, undefined],
  [/^debug$/, undefined],
  [/^ddb$/, undefined],
  [/^vendor$/, undefined]
]

/** printother's generic hints, by top-level name. */
const GENERIC_HINTS: Readonly<Record<string, string>> = {
  net: "use 'netstat' to view this information",
  debug: "missing 'options DEBUG' from kernel?",
  ddb: "missing 'options DDB' from kernel?",
  vendor: "no vendor extensions installed"
}

/** The errnos sysctl(8) reports as "the value is not available". */
const SOFT_ERRNOS: ReadonlySet<number> = new Set([
  Errno.ENOENT,
  Errno.ENOPROTOOPT,
  Errno.ENOTDIR,
  Errno.EINVAL,
  Errno.EOPNOTSUPP,
  Errno.EPROTONOSUPPORT
])

interface Run {
  readonly c: SysproxyProcess
  readonly valueOnly: boolean
  /** Diagnostics printed so far (sysctl(8)'s errs: any makes the exit status 1). */
  errs: number
}

type Out = Effect.Effect<void, CallError, Stdio.Stdio>

const complain = (run: Run, text: string): Out => {
  run.errs++
  return errLine(`${TOOL}: ${text}`)
}

const isRlimit = (name: string) => /^proc\.[^.]+\.rlimit\.[^.]+\.[^.]+$/.test(name)

/** A value as sysctl(8) displays it: ints signed (unless CTLFLAG_UNSIGNED or _HEX), quads unsigned. */
export const formatValue = (node: SysctlNodeInfo | undefined, name: string, bytes: Uint8Array): string | undefined => {
  const value = decodeSysctlValue(node?.type, bytes)
  const hex = ((node?.flags ?? 0) & sysctlCtlflag.CTLFLAG_HEX) !== 0
  const unsigned = ((node?.flags ?? 0) & sysctlCtlflag.CTLFLAG_UNSIGNED) !== 0
  if (typeof value === "string") return value
  if (typeof value === "boolean") return value ? "1" : "0"
  if (typeof value === "number") {
    if (hex) return value === 0 ? "0" : `0x${(value >>> 0).toString(16)}`
    return String(unsigned ? value >>> 0 : value)
  }
  if (typeof value === "bigint") {
    const u = BigInt.asUintN(64, value)
    if (isRlimit(name) && u === RLIM_INFINITY) return "unlimited"
    return hex ? (u === 0n ? "0" : `0x${u.toString(16)}`) : String(u)
  }
  return undefined
}

/** kern.clockrate: struct clockinfo as sysctl(8) spells it out. */
const clockrate = (bytes: Uint8Array): string | undefined => {
  if (bytes.byteLength !== 20) return undefined
  const v = new DataView(bytes.buffer, bytes.byteOffset, 20)
  const [hz, tick, tickadj, stathz, profhz] = [0, 4, 8, 12, 16].map((o) => v.getInt32(o, true))
  return `tick = ${tick}, tickadj = ${tickadj}, hz = ${hz}, profhz = ${profhz}, stathz = ${stathz}`
}

/** sysctlerror(1): a value that could not be read, said only when the node was asked for. */
const readError = (run: Run, name: string, req: boolean, errno: number): Out => {
  if (!req) return Effect.void
  const why = errnoMessage(errno)
  return complain(run, SOFT_ERRNOS.has(errno) ? `${name}: the value is not available (${why})` : `${name}: ${why}`)
}

const show = (run: Run, name: string, text: string): Out => line(run.valueOnly ? text : `${name} = ${text}`)

/** printother: a node another program shows, or a node with nothing under it. */
const printOther = (run: Run, name: string, hint: string | undefined, req: boolean): Out => {
  if (!req) return Effect.void
  if (hint !== undefined) return complain(run, `${name}: use '${hint}' to view this information`)
  const generic = GENERIC_HINTS[name.split(".")[0]!]
  return generic === undefined ? Effect.void : complain(run, `${name}: ${generic}`)
}

/**
 * print_tree: a node's children in turn (hidden ones skipped), or a
 * leaf's value. `req` is whether it was named (then what cannot be shown
 * is said); what is under a named node is shown as if walked.
 */
const printTree = (
  run: Run,
  mib: ReadonlyArray<number>,
  name: string,
  node: SysctlNodeInfo | undefined,
  req: boolean
): Out =>
  Effect.gen(function*() {
    const type = node === undefined ? "node" : node.type
    const handler = OTHER_PROGRAMS.find(([re]) => re.test(name))
    if (type === "node") {
      const children = yield* run.c.sysctlQuery(mib)
      if (children.length === 0) {
        if (handler !== undefined) return yield* printOther(run, name, handler[1], req)
        if (req) yield* line(`${name}: no children`)
        return
      }
      for (const child of children) {
        if ((child.flags & sysctlCtlflag.CTLFLAG_HIDDEN) !== 0) continue
        yield* printTree(run, [...mib, child.num], name === "" ? child.name : `${name}.${child.name}`, child, false)
      }
      return
    }
    if (handler !== undefined) return yield* printOther(run, name, handler[1], req)
    const read = yield* Effect.result(run.c.sysctlRaw(mib))
    if (Result.isFailure(read)) {
      const e = read.failure
      if (e._tag !== "SyscallError") return yield* e
      return yield* readError(run, name, req, e.errno)
    }
    const bytes = read.success
    if (name === "kern.clockrate") {
      const text = clockrate(bytes)
      if (text !== undefined) return yield* line(run.valueOnly ? text : `${name}: ${text}`)
    }
    if (bytes.byteLength === 0 && type !== "string") {
      if (req) yield* line(`${name}: node contains no data`)
      return
    }
    const text = type === "struct" ? undefined : formatValue(node, name, bytes)
    if (text === undefined) {
      if (req) yield* complain(run, `${name}: this type is unknown to this program`)
      return
    }
    yield* show(run, name, text)
  })

/** write_number / write_string: the new value set, `name: old -> new` printed (only the new with -n). */
const write = (run: Run, node: ResolvedSysctl, value: string): Effect.Effect<boolean, CallError, Stdio.Stdio> =>
  Effect.gen(function*() {
    if (node.type === "node" || node.type === "struct" || node.type === undefined) {
      // sysctl(8)'s old behaviour: print it
      yield* printTree(run, node.mib, node.name, node.node, true)
      return true
    }
    const given = node.type === "quad" && isRlimit(node.name) && value === "unlimited" ? RLIM_INFINITY : value
    const encoded = encodeSysctlValue(node.type, given)
    if (Result.isFailure(encoded)) {
      yield* complain(run, `${node.name}: ${encoded.failure}`)
      return false
    }
    const old = yield* Effect.result(run.c.sysctlRaw(node.mib, encoded.success))
    if (Result.isFailure(old)) {
      const e = old.failure
      if (e._tag !== "SyscallError") return yield* e
      yield* complain(run, `${node.name}: ${errnoMessage(e.errno)}`)
      return false
    }
    const now = formatValue(node.node, node.name, encoded.success) ?? value
    const before = formatValue(node.node, node.name, old.success) ?? ""
    yield* line(run.valueOnly ? now : `${node.name}: ${before} -> ${now}`)
    return true
  })

/** parse(): one operand; false when sysctl(8) would exit there. */
const operand = (run: Run, text: string, writing: boolean): Effect.Effect<boolean, CallError, Stdio.Stdio> =>
  Effect.gen(function*() {
    const eq = text.indexOf("=")
    const key = eq === -1 ? text : text.slice(0, eq)
    const resolved = yield* Effect.result(run.c.sysctlResolve(key))
    if (Result.isFailure(resolved)) {
      const e = resolved.failure
      if (e._tag !== "ClientError" || e.reason !== "BadRequest") return yield* e
      yield* complain(run, e.message)
      return false
    }
    const node = resolved.success
    if (eq === -1) {
      yield* printTree(run, node.mib, node.name, node.node, true)
      return true
    }
    if (!writing) {
      yield* complain(run, "Must specify -w to set variables")
      return false
    }
    return yield* write(run, node, text.slice(eq + 1))
  })

export const sysctl = Command.make(
  TOOL,
  {
    all: switchFlag("all", "a", "list every node"),
    valueOnly: switchFlag("values", "n", "print only the values"),
    write: switchFlag("write", "w", "set the nodes given as name=value"),
    names: Argument.String("name[=value]").pipe(Argument.variadic())
  },
  ({ all, names, valueOnly, write: writing }) =>
    withClient(TOOL, (c) =>
      Effect.gen(function*() {
        const run: Run = { c, valueOnly, errs: 0 }
        if (all) {
          yield* printTree(run, [], "", undefined, false)
        } else {
          if (names.length === 0) {
            yield* errLine("usage: sysproxy sysctl [-anw] name[=value] ...")
            return yield* failed
          }
          for (const name of names) if (!(yield* operand(run, name, writing))) break
        }
        if (run.errs > 0) return yield* failed
      }))
).pipe(
  Command.withDescription("Read or set the server kernel's sysctl nodes (rump.sysctl)."),
  Command.withExamples([
    { command: "sysproxy sysctl kern.hostname", description: "print one node" },
    { command: "sysproxy sysctl -w kern.hostname=guest", description: "set it" },
    { command: "sysproxy sysctl hw", description: "every readable node under hw" },
    { command: "sysproxy sysctl -a", description: "the whole tree" }
  ])
)
