/**
 * A syscall trace: middleware that writes one record per syscall (time,
 * pid, comm, lwp, name, decoded arguments with the strings the kernel read
 * and the bytes copied at each pointer, result or errno, duration, copyin
 * and copyout byte counts) to a sink, while the sink is enabled.
 *
 * ```ts
 * const kernel = kernelLayer().pipe(withFaults(rules), withTrace(sink))
 * ```
 *
 * Outside the faults (as above) it records what clients saw. While the
 * sink is not enabled (a live trace nobody reads) no call is traced: each
 * costs one `enabled()` call.
 */
import { errnoName } from "@sysproxy/protocol/netbsd"
import { Effect, Exit, type Layer } from "effect"
import type { Hypervisor, SyscallResult } from "../Hypervisor.ts"
import { UserMemory } from "../UserMemory.ts"
import { CallMemory } from "../middleware/CallMemory.ts"
import { type InterceptedCall, type Middleware, middlewareLayer, withMiddleware } from "../middleware/Middleware.ts"
import { readSlot, syscallLabel } from "../middleware/SyscallShape.ts"
import type { TraceArg, TraceRecord } from "./TraceRecord.ts"

/** Where records go. */
export interface TraceSink {
  /** Whether anything takes records now; while false, calls are not traced. */
  readonly enabled: () => boolean
  /** Takes one record; must not block or fail (a sink that cannot keep up drops, and says so itself). */
  readonly write: (record: TraceRecord) => void
}

/** Every record to each sink that is enabled. */
export const teeSinks = (sinks: ReadonlyArray<TraceSink>): TraceSink => ({
  enabled: () => sinks.some((s) => s.enabled()),
  write: (record) => {
    for (const s of sinks) if (s.enabled()) s.write(record)
  }
})

const decoder = new TextDecoder()

const asNumber = (v: bigint): number | string => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString())

const hex = (v: bigint) => `0x${v.toString(16)}`

const decodeArgs = (call: InterceptedCall, memory: CallMemory): Array<TraceArg> => {
  const shape = call.shape
  if (shape === undefined) {
    // off the table: the raw slots
    const out: Array<TraceArg> = []
    const view = new DataView(call.args.buffer, call.args.byteOffset, call.args.byteLength)
    for (let i = 0; i + 8 <= call.args.byteLength; i += 8) {
      out.push({ name: `arg${i / 8}`, value: asNumber(view.getBigUint64(i, true)) })
    }
    return out
  }
  return shape.args.map((a): TraceArg => {
    const v = readSlot(call.args, a.slot, a.arg)
    switch (a.kind) {
      case "string": {
        const bytes = memory.strings.get(v)
        if (bytes === undefined) return { name: a.name, addr: hex(v) }
        const nul = bytes.indexOf(0)
        return { name: a.name, string: decoder.decode(nul === -1 ? bytes : bytes.subarray(0, nul)) }
      }
      case "pointer": {
        const bytes = memory.bytesAt(v)
        return bytes === undefined ? { name: a.name, addr: hex(v) } : { name: a.name, addr: hex(v), bytes }
      }
      case "mode":
        return { name: a.name, value: asNumber(v), mode: true }
      default:
        return { name: a.name, value: asNumber(v) }
    }
  })
}

/** Microseconds since the epoch, from the monotonic clock's origin. */
const nowMicros = () => Math.round((performance.timeOrigin + performance.now()) * 1000)

const isoMicros = (us: number) => {
  const iso = new Date(Math.floor(us / 1000)).toISOString()
  return `${iso.slice(0, 19)}.${String(us % 1_000_000).padStart(6, "0")}Z`
}

const record = (
  call: InterceptedCall,
  startedUs: number,
  startedAt: number,
  memory: CallMemory,
  exit: Exit.Exit<SyscallResult>
): TraceRecord => {
  const base = {
    time: isoMicros(startedUs),
    pid: call.pid,
    comm: call.comm ?? null,
    lwp: call.lwp.lid,
    syscall: syscallLabel(call.number),
    number: call.number,
    args: decodeArgs(call, memory),
    // seconds to the microsecond, as the time is: the rest is the clock's float noise
    duration: Math.round((performance.now() - startedAt) * 1000) / 1e6,
    copyin: memory.copyinBytes,
    copyout: memory.copyoutBytes
  }
  if (Exit.isFailure(exit)) return { ...base, retval: null, errno: null, interrupted: true }
  const { error, retval0 } = exit.value
  return { ...base, retval: asNumber(retval0), errno: error === 0 ? null : errnoName(error) ?? String(error) }
}

/** The trace as middleware, writing to `sink`. */
export const traceMiddleware = (sink: TraceSink): Middleware => ({
  wants: () => sink.enabled(),
  around: (call, proceed) =>
    Effect.flatMap(Effect.service(UserMemory), (memory) => {
      const callMemory = new CallMemory(memory)
      const startedUs = nowMicros()
      const startedAt = performance.now()
      return proceed(call.args).pipe(
        Effect.provideService(UserMemory, callMemory),
        Effect.onExit((exit) => Effect.sync(() => sink.write(record(call, startedUs, startedAt, callMemory, exit))))
      )
    })
})

export const SyscallTrace = {
  /** Takes the Hypervisor it is given and provides it again, traced to `sink`. */
  layer: (sink: TraceSink): Layer.Layer<Hypervisor, never, Hypervisor> =>
    middlewareLayer(Effect.succeed(traceMiddleware(sink)))
} as const

/** `kernel.pipe(withTrace(sink))`: the kernel layer with its syscalls traced. */
export const withTrace = (sink: TraceSink) => withMiddleware(SyscallTrace.layer(sink))
