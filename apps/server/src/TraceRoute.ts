/**
 * `GET /trace`: the server's syscalls as they happen, one JSON record a line
 * (application/x-ndjson; the record's fields are in @sysproxy/hypervisor's
 * TraceRecord), for as long as the client reads. Query parameters narrow
 * it: `pid=N`, `comm=GLOB`, `syscall=NAME[,NAME...]` (table names, or base
 * names: stat for __stat50). A bad parameter is 400 with one line saying
 * which. The headers go out at once, so a reader knows it is subscribed
 * before the first record. HEAD gives the headers alone (nobody
 * subscribed); another method is 405 with `Allow: GET, HEAD`.
 */
import { compileGlob, type LiveTrace, syscallNumberOf, type TraceFilter } from "@sysproxy/hypervisor"
import { SyscallByNumber } from "@sysproxy/protocol/netbsd"
import { Effect, Stream } from "effect"
import { HttpServerRequest, HttpServerResponse } from "effect/http"

const encoder = new TextEncoder()

/** The filter a query asks for, or what is wrong with it. */
export const parseTraceQuery = (query: URLSearchParams): TraceFilter | string => {
  for (const key of query.keys()) {
    if (key !== "pid" && key !== "comm" && key !== "syscall") return `unknown parameter ${JSON.stringify(key)} (known: pid, comm, syscall)`
  }
  let filter: TraceFilter = {}
  const pid = query.get("pid")
  if (pid !== null) {
    if (!/^\d+$/.test(pid) || Number(pid) < 1) return `pid: expected a process id, got ${JSON.stringify(pid)}`
    filter = { ...filter, pid: Number(pid) }
  }
  const comm = query.get("comm")
  if (comm !== null) {
    const glob = compileGlob(comm)
    if ("_tag" in glob) return `comm: bad glob ${JSON.stringify(comm)}: ${glob.message}`
    filter = { ...filter, comm: glob }
  }
  const syscall = query.get("syscall")
  if (syscall !== null) {
    const names = new Set<string>()
    for (const name of syscall.split(",")) {
      const number = syscallNumberOf(name)
      const info = number === undefined ? undefined : SyscallByNumber.get(number)
      if (info === undefined) return `syscall: unknown syscall ${JSON.stringify(name)}`
      names.add(info.name)
    }
    filter = { ...filter, syscalls: names }
  }
  return filter
}

/** `closing` completes when the server stops: every trace response then ends cleanly (its last chunk sent). */
export const traceRoute = (trace: LiveTrace, closing: Effect.Effect<void>) =>
  Effect.map(Effect.service(HttpServerRequest.HttpServerRequest), (request) => {
    if (request.method === "HEAD") return HttpServerResponse.text("", { headers: { "content-type": "application/x-ndjson" } })
    if (request.method !== "GET") {
      return HttpServerResponse.text("method not allowed; try GET /trace\n", { status: 405, headers: { allow: "GET, HEAD" } })
    }
    const query = new URL(request.url, "http://localhost").searchParams
    const filter = parseTraceQuery(query)
    if (typeof filter === "string") return HttpServerResponse.text(`${filter}\n`, { status: 400 })
    const lines = trace.records(filter).pipe(
      Stream.map((r) => encoder.encode(`${JSON.stringify(r)}\n`)),
      Stream.interruptWhen(closing)
    )
    // an empty first chunk sends the headers now
    return HttpServerResponse.stream(Stream.concat(Stream.make(new Uint8Array(0)), lines), {
      contentType: "application/x-ndjson"
    })
  })
