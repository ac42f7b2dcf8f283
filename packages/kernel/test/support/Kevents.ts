/**
 * kqueue and kevent for in-process tests: struct kevent arrays in guest
 * memory, and kevent calls that return what came back decoded.
 */
import { assert } from "@effect/vitest"
import { Effect } from "effect"
import { SYS } from "@sysproxy/protocol/netbsd"
import { decodeKevent, encodeKevents, type Kevent, KEVENT_SIZE } from "../../src/abi/Kevent.ts"
import { type Guest, peek, timespec } from "./SyscallHarness.ts"

export type { Kevent }

/** EV_SET */
export const kev = (
  ident: bigint | number,
  filter: number,
  flags: number,
  fflags = 0,
  data: bigint | number = 0n,
  udata: bigint | number = 0n
): Kevent => ({ ident: BigInt(ident), filter, flags, fflags: fflags >>> 0, data: BigInt(data), udata: BigInt(udata) })

export interface KeventResult {
  readonly error: number
  /** The count returned (changes that failed, or events). */
  readonly n: number
  /** The first n entries of the event list. */
  readonly events: ReadonlyArray<Kevent>
}

/** A new kqueue: its descriptor. */
export const kqueue = (g: Guest) =>
  Effect.gen(function*() {
    const r = yield* g.call(SYS.kqueue)
    assert.strictEqual(r.error, 0, "kqueue")
    return Number(r.retval0)
  })

/**
 * kevent(kq, changes, nevents, timeout): timeout undefined waits for ever,
 * [sec, nsec] as given; the event list is fresh memory of nevents entries.
 */
export const kevent = (
  g: Guest,
  kq: number,
  changes: ReadonlyArray<Kevent>,
  nevents: number,
  timeout?: readonly [bigint | number, bigint | number],
  lwp?: Parameters<Guest["callIn"]>[0]
): Effect.Effect<KeventResult> =>
  Effect.gen(function*() {
    const list = changes.length === 0 ? 0n : g.mem.alloc(encodeKevents(changes))
    const out = nevents === 0 ? 0n : g.mem.alloc(nevents * KEVENT_SIZE)
    const tsp = timeout === undefined ? 0n : g.mem.alloc(timespec(timeout[0], timeout[1]))
    const args = [kq, list, changes.length, out, nevents, tsp] as const
    const r = lwp === undefined ? yield* g.call(SYS.__kevent50, ...args) : yield* g.callIn(lwp, SYS.__kevent50, ...args)
    const n = r.error === 0 ? Number(r.retval0) : 0
    const bytes = n === 0 ? new Uint8Array(0) : peek(g, out, n * KEVENT_SIZE)
    return { error: r.error, n, events: Array.from({ length: n }, (_, i) => decodeKevent(bytes, i)) }
  })

/** Registers changes (no events asked for): the errno. */
export const change = (g: Guest, kq: number, ...changes: ReadonlyArray<Kevent>) =>
  Effect.map(kevent(g, kq, changes, 0, [0, 0]), (r) => r.error)

/** Collects what is ready now (a zero timeout). */
export const poll = (g: Guest, kq: number, nevents = 16) => kevent(g, kq, [], nevents, [0, 0])
