/**
 * `sysproxy trace [--pid N] [--comm GLOB] [--syscall NAME ...]`: the
 * server's syscalls as they happen, one line each in strace's format
 * (`-f -tt -T`, the pid with its program name), until Ctrl-C. It reads the
 * server's live trace (`/trace` on the server's `--metrics` address, named
 * with `--endpoint ADDR` or SYSPROXY_METRICS), filtered there. `--json`
 * prints the records as they come instead.
 *
 * Once the server has taken the request, `tracing URL` goes to stderr (so
 * a script knows from when on calls are seen). A bad filter exits 2 with
 * the server's reason; an endpoint that cannot be reached, or that has no
 * trace, exits 1; the server ending the trace ends the tool (0). A trace
 * is silent whenever no matching call runs, for as long as that lasts:
 * the tool waits without an idle timeout (TraceHttp.ts).
 */
import { formatTraceLine, TraceRecordSchema } from "@sysproxy/hypervisor"
import { Config, Effect, Option, Result, Schema, Stream } from "effect"
import { Command, Flag } from "effect/cli"
import { ExitStatus, failed } from "../ExitStatus.ts"
import { switchFlag } from "../Flags.ts"
import { errLine, line } from "../Output.ts"
import { bodyText, getStreaming } from "../TraceHttp.ts"
import { PROGRAM } from "../Version.ts"

const TOOL = "trace"
const ENDPOINT_ENV = "SYSPROXY_METRICS"

const usage = new ExitStatus({ code: 2 })

/** `http://HOST:PORT/trace` from the server's --metrics form (HOST:PORT, [V6]:PORT, PORT) or an http URL. */
export const traceUrl = (endpoint: string): URL | undefined => {
  const hostPort = /^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(endpoint) || /^[^:[\]/]+:\d{1,5}$/.test(endpoint)
    ? endpoint
    : /^\d{1,5}$/.test(endpoint)
    ? `127.0.0.1:${endpoint}`
    : undefined
  const text = hostPort !== undefined ? `http://${hostPort}/trace` : endpoint
  if (!/^https?:\/\//.test(text)) return undefined
  try {
    const url = new URL(text)
    if (url.pathname === "/" || url.pathname === "/metrics") url.pathname = "/trace"
    return url
  } catch {
    return undefined
  }
}

const decodeRecord = Schema.decodeUnknownResult(TraceRecordSchema)

/** One line of the trace as it is printed. */
const show = (json: boolean) => (text: string) => {
  if (json) return line(text)
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    parsed = undefined
  }
  const record = decodeRecord(parsed)
  return Result.isSuccess(record)
    ? line(formatTraceLine(record.success))
    : errLine(`${PROGRAM} ${TOOL}: a record it cannot read: ${text}`)
}

export const trace = Command.make(
  TOOL,
  {
    pid: Flag.Int("pid").pipe(Flag.withDescription("only this process's calls"), Flag.optional),
    comm: Flag.String("comm").pipe(
      Flag.withMetavar("glob"),
      Flag.withDescription("only calls by programs whose name matches (* ? [...])"),
      Flag.optional
    ),
    syscall: Flag.String("syscall").pipe(
      Flag.atLeast(0),
      Flag.withMetavar("name"),
      Flag.withDescription("only these syscalls (repeat, or name,name; stat means __stat50)")
    ),
    endpoint: Flag.String("endpoint").pipe(
      Flag.withMetavar("addr"),
      Flag.withDescription(`the server's --metrics address: HOST:PORT, [V6]:PORT, PORT or an http URL (default: $${ENDPOINT_ENV})`),
      Flag.optional
    ),
    json: switchFlag("json", undefined, "print the records as JSON lines, as the server sends them")
  },
  (o) =>
    Effect.gen(function*() {
      const fromEnv = yield* Config.option(Config.String(ENDPOINT_ENV)).pipe(Effect.orElseSucceed(() => Option.none()))
      const endpoint = Option.orElse(o.endpoint, () => fromEnv)
      if (Option.isNone(endpoint)) {
        yield* errLine(`${PROGRAM} ${TOOL}: no endpoint: give --endpoint ADDR (the server's --metrics address) or set ${ENDPOINT_ENV}`)
        return yield* usage
      }
      const url = traceUrl(endpoint.value)
      if (url === undefined) {
        yield* errLine(`${PROGRAM} ${TOOL}: bad endpoint ${JSON.stringify(endpoint.value)}: expected HOST:PORT, [V6]:PORT, PORT or an http URL`)
        return yield* usage
      }
      if (Option.isSome(o.pid)) url.searchParams.set("pid", String(o.pid.value))
      if (Option.isSome(o.comm)) url.searchParams.set("comm", o.comm.value)
      if (o.syscall.length > 0) url.searchParams.set("syscall", o.syscall.join(","))
      const where = url.toString()
      yield* Effect.scoped(Effect.gen(function*() {
        const response = yield* getStreaming(url).pipe(
          Effect.catch((e) => Effect.andThen(errLine(`${PROGRAM} ${TOOL}: cannot reach ${where}: ${e.reason}`), Effect.fail(failed)))
        )
        if (response.status === 400) {
          const text = yield* bodyText(response).pipe(Effect.orElseSucceed(() => "bad request"))
          yield* errLine(`${PROGRAM} ${TOOL}: ${text.trim()}`)
          return yield* usage
        }
        if (response.status !== 200) {
          yield* errLine(`${PROGRAM} ${TOOL}: ${where} answered ${response.status}: is it a sysproxy-server --metrics address?`)
          return yield* failed
        }
        yield* errLine(`${PROGRAM} ${TOOL}: tracing ${where}`)
        yield* response.body.pipe(
          Stream.decodeText(),
          Stream.splitLines,
          Stream.filter((l) => l.length > 0),
          Stream.runForEach(show(o.json)),
          Effect.catch((e) => Effect.andThen(errLine(`${PROGRAM} ${TOOL}: the trace broke off: ${e.reason}`), Effect.fail(failed)))
        )
      }))
    })
).pipe(
  Command.withDescription(
    "Print the server's syscalls as they happen, in strace's format (from the server's --metrics address: --endpoint or SYSPROXY_METRICS)."
  )
)
