/**
 * The server's metrics as Effect Metrics in a registry of their own, ready
 * for `PrometheusMetrics.formatUnsafe(metrics.context)`.
 *
 * Most series are pull-style: registered once, they read `server.stats()`
 * (or whatever a caller registers with `gauge`/`counter`) when scraped, so
 * serving costs nothing for them. The per-syscall series (by name and
 * errno, the latency histogram) and the per-kind error series are fed by
 * the ServerObserver the connections call: a map lookup and an increment,
 * with a series registered the first time a key is seen. Label values are
 * bounded: syscall names come from the NetBSD table ("unknown" otherwise),
 * errnos from the errno table ("other" beyond it).
 */
import { type ErrorCodeName } from "@sysproxy/protocol"
import { ELAST, errnoName, SyscallByNumber } from "@sysproxy/protocol/netbsd"
import { Context, Metric } from "effect"
import { PrometheusMetrics } from "effect/observability"
import { type ServerObserver, syscallName } from "./ServerObserver.ts"
import type { ServerStats } from "./SysproxyServer.ts"

export type Labels = Readonly<Record<string, string>>

export interface ServerMetrics {
  /** Give this to the server (ServerOptions.observer). */
  readonly observer: ServerObserver
  /** The context holding this set's registry. */
  readonly context: Context.Context<never>
  /** Registers the series read from a running server's stats. */
  readonly watchServer: (stats: () => ServerStats) => void
  /** A gauge read at scrape time. */
  readonly gauge: (name: string, description: string, labels: Labels, read: () => number) => void
  /** A counter read at scrape time (`read` must only grow). */
  readonly counter: (name: string, description: string, labels: Labels, read: () => number) => void
  /** Everything, as Prometheus text. */
  readonly format: () => string
}

/** Syscall latency buckets in seconds: 10 µs to about 10 s, each 4 times the last. */
export const LATENCY_BOUNDARIES = Metric.exponentialBoundaries({ start: 0.00001, factor: 4, count: 11 })

const ignore = () => {}

export const makeServerMetrics = (): ServerMetrics => {
  const context = Context.make(Metric.MetricRegistry, new Map())

  const gauge: ServerMetrics["gauge"] = (name, description, labels, read) => {
    Metric.registerUnsafe(Metric.gauge(name, { description, attributes: labels }), context, {
      get: () => ({ value: read() }),
      update: ignore,
      modify: ignore
    })
  }
  const counter: ServerMetrics["counter"] = (name, description, labels, read) => {
    Metric.registerUnsafe(Metric.counter(name, { description, attributes: labels }), context, {
      get: () => ({ count: read(), incremental: true }),
      update: ignore,
      modify: ignore
    })
  }

  /** Plain counts by key, each registered as a series the first time its key is seen. */
  const countsBy = <K>(name: string, description: string, labelsOf: (key: K) => Labels) => {
    const counts = new Map<K, { n: number }>()
    return (key: K) => {
      let entry = counts.get(key)
      if (entry === undefined) {
        const fresh = { n: 0 }
        counter(name, description, labelsOf(key), () => fresh.n)
        counts.set(key, fresh)
        entry = fresh
      }
      entry.n++
    }
  }

  const syscalls = countsBy<number>(
    "sysproxy_syscalls_total",
    "syscalls answered, by name and errno (0: success)",
    (key) => {
      const errno = key & 0x7f
      const sysnum = key >> 7
      return {
        syscall: sysnum < 0 ? "unknown" : syscallName(sysnum),
        errno: errno === 0 ? "0" : errno > ELAST ? "other" : (errnoName(errno) ?? String(errno))
      }
    }
  )
  const latency = Metric.histogram("sysproxy_syscall_duration_seconds", {
    description: "time from a worker taking a syscall to its answer being queued",
    boundaries: LATENCY_BOUNDARIES
  })
  const undecodable = countsBy<string>(
    "sysproxy_protocol_errors_total",
    "frames from clients that could not be decoded, by the field the decoder stopped at",
    (field) => ({ kind: field })
  )
  const errorReplies = countsBy<ErrorCodeName>(
    "sysproxy_error_replies_total",
    "ERROR frames sent to clients, by sysproxy error code",
    (code) => ({ code })
  )

  const observer: ServerObserver = {
    syscallAnswered: (sysnum, errno, startedAt) => {
      const known = SyscallByNumber.has(sysnum)
      syscalls(((known ? sysnum : -1) << 7) | (errno > ELAST ? 0x7f : errno))
      latency.updateUnsafe((performance.now() - startedAt) / 1000, context)
    },
    undecodableFrame: (field) => undecodable(field.length <= 32 ? field : "other"),
    errorReplied: errorReplies
  }

  const watchServer = (stats: () => ServerStats) => {
    gauge("sysproxy_clients", "connected clients", {}, () => stats().clients)
    gauge("sysproxy_clients_bound", "connected clients past their handshake", {}, () => stats().bound)
    counter("sysproxy_connections_accepted_total", "connections accepted", {}, () => stats().accepted)
    counter("sysproxy_connections_refused_total", "connections refused (too many clients)", {}, () => stats().refused)
    counter("sysproxy_clients_dropped_total", "clients dropped (did not read, broken frames)", {}, () => stats().dropped)
    for (const kind of ["guest", "fork", "exec", "prefork"] as const) {
      counter("sysproxy_handshakes_total", "handshakes completed, by kind", { kind }, () => stats().handshakes[kind])
    }
    counter("sysproxy_copyin_bytes_total", "bytes copied in from clients' memory", {}, () => stats().copyinBytes)
    counter("sysproxy_copyout_bytes_total", "bytes copied out to clients' memory", {}, () => stats().copyoutBytes)
    gauge("sysproxy_worker_pool_size", "worker fibers", {}, () => stats().pool.workers)
    gauge("sysproxy_worker_pool_busy", "workers running a job", {}, () => stats().pool.busy)
    gauge("sysproxy_worker_pool_queued", "jobs waiting for a worker", {}, () => stats().pool.queued)
    gauge("sysproxy_inflight_jobs", "syscall and exec jobs queued or running", {}, () => stats().inflightJobs)
    gauge("sysproxy_waiters", "copyin/anonmmap requests waiting for a client's answer", {}, () => stats().waiters)
    gauge("sysproxy_prefork_registry_size", "preforked processes not claimed yet", {}, () => stats().preforks)
  }

  return {
    observer,
    context,
    watchServer,
    gauge,
    counter,
    format: () => PrometheusMetrics.formatUnsafe(context)
  }
}
