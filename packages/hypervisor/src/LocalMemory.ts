/**
 * An in-process client address space backed by byte arrays.
 *
 * Used as the UserMemory service by in-process kernel users and tests, and
 * by a client library that simulates the client side of the protocol. Each
 * allocation is its own region; regions sit on page boundaries with at least
 * one unmapped page between them, so an access running past the end of a
 * region faults instead of silently touching a neighbour.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { Effect, Layer } from "effect"
import { MemoryFault } from "./Errors.ts"
import { UserMemory, type UserMemoryService } from "./UserMemory.ts"

export interface LocalMemoryOptions {
  /** Address of the first region (default 0x10000000); keep it non-zero so NULL stays unmapped. */
  readonly base?: bigint
  /** Most bytes anonmmap may hold mapped at once (default 16 MiB). */
  readonly anonmmapLimit?: bigint
}

export interface LocalMemory {
  /** Maps a new region holding a copy of `bytes`, or `size` zero bytes; returns its address. */
  readonly alloc: (bytesOrSize: Uint8Array | number) => bigint
  /** Maps a new region holding `s` as UTF-8 followed by a NUL. */
  readonly allocString: (s: string) => bigint
  /** Unmaps the region starting exactly at `addr`; false if there is none. */
  readonly free: (addr: bigint) => boolean
  /** A copy of `len` bytes at `addr`, or undefined unless all of them lie in one region. */
  readonly read: (addr: bigint, len: number) => Uint8Array | undefined
  /** Stores `data` at `addr`; false (and nothing written) unless it fits in one region. */
  readonly write: (addr: bigint, data: Uint8Array) => boolean
  /**
   * The string at `addr` up to its NUL, or its first `max` bytes when there
   * is no NUL among them; undefined when the region ends before either.
   */
  readonly readString: (addr: bigint, max: number) => string | undefined
  /** Regions currently mapped (alloc and anonmmap alike). */
  readonly regionCount: number
  /** Bytes currently mapped. */
  readonly mappedBytes: number
  /** Signals raised through the service so far, oldest first. */
  readonly signals: ReadonlyArray<number>
  /** Why the service's `disconnect` was called, once it was (copies fail with EFAULT from then on). */
  readonly disconnected: string | undefined
  /** Calls `listener` on every later raise; returns a function that unsubscribes. */
  readonly onRaise: (listener: (signo: number) => void) => () => void
  /** This address space as the UserMemory service. */
  readonly service: UserMemoryService
}

const PAGE = 4096n
const DEFAULT_BASE = 0x1000_0000n
const DEFAULT_ANON_LIMIT = 16n * 1024n * 1024n
/** One region is one Uint8Array: refuse what the engine could not allocate, whatever the limit. */
const MAX_ANON_REGION = 1n << 30n

interface Region {
  readonly start: bigint
  readonly bytes: Uint8Array
  readonly anon: boolean
}

const roundUp = (n: bigint): bigint => ((n + PAGE - 1n) / PAGE) * PAGE

export const makeLocalMemory = (options?: LocalMemoryOptions): LocalMemory => {
  const regions = new Map<bigint, Region>()
  const signals: Array<number> = []
  const listeners = new Set<(signo: number) => void>()
  const anonLimit = options?.anonmmapLimit ?? DEFAULT_ANON_LIMIT
  let next = roundUp(options?.base ?? DEFAULT_BASE)
  let anonBytes = 0n
  let disconnected: string | undefined

  const map = (bytes: Uint8Array, anon: boolean): bigint => {
    const start = next
    // Addresses are never reused, and a guard page always follows a region.
    next = start + roundUp(BigInt(bytes.length)) + PAGE
    regions.set(start, { start, bytes, anon })
    return start
  }

  /** The region holding [addr, addr + len), and the offset of addr in it. */
  const locate = (addr: bigint, len: number): { readonly region: Region; readonly offset: number } | undefined => {
    for (const region of regions.values()) {
      const end = region.start + BigInt(region.bytes.length)
      if (addr >= region.start && addr < end && addr + BigInt(len) <= end) {
        return { region, offset: Number(addr - region.start) }
      }
    }
    return undefined
  }

  const read = (addr: bigint, len: number): Uint8Array | undefined => {
    if (!Number.isSafeInteger(len) || len < 0) return undefined
    if (len === 0) return new Uint8Array(0)
    const hit = locate(addr, len)
    return hit === undefined ? undefined : hit.region.bytes.slice(hit.offset, hit.offset + len)
  }

  const write = (addr: bigint, data: Uint8Array): boolean => {
    if (data.length === 0) return true
    const hit = locate(addr, data.length)
    if (hit === undefined) return false
    hit.region.bytes.set(data, hit.offset)
    return true
  }

  /** copyinstr's rule: through the NUL, else `max` bytes, else undefined (ran off the region). */
  const readStringBytes = (addr: bigint, max: number): Uint8Array | undefined => {
    if (!Number.isSafeInteger(max) || max < 0) return undefined
    if (max === 0) return new Uint8Array(0)
    const hit = locate(addr, 1)
    if (hit === undefined) return undefined
    const available = hit.region.bytes.subarray(hit.offset, hit.offset + max)
    const nul = available.indexOf(0)
    if (nul >= 0) return available.slice(0, nul + 1)
    return available.length === max ? available.slice() : undefined
  }

  const fault = (op: MemoryFault["op"], addr: bigint, len: number) =>
    new MemoryFault({
      op,
      errno: Errno.EFAULT,
      message: disconnected !== undefined
        ? `${op}: connection closed`
        : `${op}: ${len} bytes at 0x${addr.toString(16)} are not mapped`
    })

  const store = (op: "copyout" | "copyoutstr") => (addr: bigint, data: Uint8Array) =>
    Effect.suspend(() =>
      disconnected === undefined && write(addr, data) ? Effect.void : Effect.fail(fault(op, addr, data.length))
    )

  const service: UserMemoryService = {
    copyin: (addr, len) =>
      Effect.suspend(() => {
        const bytes = disconnected === undefined ? read(addr, len) : undefined
        return bytes === undefined ? Effect.fail(fault("copyin", addr, len)) : Effect.succeed(bytes)
      }),
    copyinstr: (addr, maxLen) =>
      Effect.suspend(() => {
        const bytes = disconnected === undefined ? readStringBytes(addr, maxLen) : undefined
        return bytes === undefined ? Effect.fail(fault("copyinstr", addr, maxLen)) : Effect.succeed(bytes)
      }),
    copyout: store("copyout"),
    copyoutstr: store("copyoutstr"),
    anonmmap: (size) =>
      Effect.suspend(() => {
        // A zero-length mapping is meaningless (mmap says EINVAL); past the limit is ENOMEM.
        if (size <= 0n) {
          return Effect.fail(new MemoryFault({ op: "anonmmap", errno: Errno.EINVAL, message: `anonmmap: size ${size}` }))
        }
        if (anonBytes + size > anonLimit || size > MAX_ANON_REGION) {
          return Effect.fail(
            new MemoryFault({
              op: "anonmmap",
              errno: Errno.ENOMEM,
              message: `anonmmap: ${size} bytes would exceed the limit of ${anonLimit} (${anonBytes} mapped)`
            })
          )
        }
        anonBytes += size
        return Effect.succeed(map(new Uint8Array(Number(size)), true))
      }),
    raise: (signo) =>
      Effect.sync(() => {
        signals.push(signo)
        for (const listener of [...listeners]) listener(signo)
      }),
    disconnect: (reason) =>
      Effect.sync(() => {
        disconnected ??= reason
      })
  }

  return {
    alloc: (bytesOrSize) =>
      map(typeof bytesOrSize === "number" ? new Uint8Array(bytesOrSize) : bytesOrSize.slice(), false),
    allocString: (s) => {
      const utf8 = new TextEncoder().encode(s)
      const bytes = new Uint8Array(utf8.length + 1)
      bytes.set(utf8)
      return map(bytes, false)
    },
    free: (addr) => {
      const region = regions.get(addr)
      if (region === undefined) return false
      if (region.anon) anonBytes -= BigInt(region.bytes.length)
      regions.delete(addr)
      return true
    },
    read,
    write,
    readString: (addr, max) => {
      const bytes = readStringBytes(addr, max)
      if (bytes === undefined) return undefined
      const end = bytes.indexOf(0)
      return new TextDecoder().decode(end >= 0 ? bytes.subarray(0, end) : bytes)
    },
    get regionCount() {
      return regions.size
    },
    get mappedBytes() {
      let total = 0
      for (const region of regions.values()) total += region.bytes.length
      return total
    },
    get signals() {
      return signals.slice()
    },
    get disconnected() {
      return disconnected
    },
    onRaise: (listener) => {
      // Wrapped so the same function may be subscribed twice and removed once each.
      const entry = (signo: number) => listener(signo)
      listeners.add(entry)
      return () => {
        listeners.delete(entry)
      }
    },
    service
  }
}

/** A layer providing `memory` as the UserMemory service. */
export const localMemoryLayer = (memory: LocalMemory): Layer.Layer<UserMemory> =>
  Layer.succeed(UserMemory, memory.service)

/** Provides `memory` as the UserMemory service to one effect. */
export const provideLocalMemory =
  (memory: LocalMemory) => <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, Exclude<R, UserMemory>> =>
    Effect.provideService(self, UserMemory, memory.service)

export const LocalMemory = {
  make: makeLocalMemory,
  layer: localMemoryLayer,
  provide: provideLocalMemory
} as const
