/**
 * The kernel under random syscalls (issue 9, Fuzzing): every number in the
 * syscall table (and some that are not) with random slot values — small
 * integers, descriptors, flags, pointers into the guest's LocalMemory, at
 * its edges and far outside it — thousands of calls from several guests at
 * once, in-process. No defect escapes (the kernel would turn one into EIO
 * and log "syscall defect": none may be logged), and every result is
 * success or an errno in 1..96 (ELAST).
 *
 * Reproducible: a failure prints its seed; FUZZ_SEED=<seed> replays it,
 * FUZZ_RUNS=<n> makes n times as many calls.
 */
import { assert, describe, it } from "@effect/vitest"
import type { HypervisorService, SyscallResult } from "@sysproxy/hypervisor"
import { makeLocalMemory, provideLocalMemory } from "@sysproxy/hypervisor"
import { SYS } from "@sysproxy/protocol/netbsd"
import { Cause, Effect, Exit, Logger, Option, Result } from "effect"
import { packArgs } from "../src/abi/Args.ts"
import { syscallTable } from "../src/syscalls/Table.ts"
import { boot } from "./support/SyscallHarness.ts"
import { Rng } from "@sysproxy/hypervisor/testing"

const ELAST = 96


/** A guest's address space with strings and buffers to point at. */
const makeSpace = (r: Rng) => {
  const mem = makeLocalMemory()
  const regions: Array<{ readonly start: bigint; readonly len: number }> = []
  const strings = ["/", ".", "..", "/tmp", "/dev/null", "/fz", "fz", "a/b/c", "/tmp/fz.txt", "", "x".repeat(1100)]
  for (const s of strings) regions.push({ start: mem.allocString(s), len: new TextEncoder().encode(s).byteLength + 1 })
  for (const n of [4, 8, 16, 24, 64, 256, 1024, 4096]) regions.push({ start: mem.alloc(n), len: n })
  const noise = new Uint8Array(512)
  for (let i = 0; i < noise.length; i++) noise[i] = r.next() & 0xff
  regions.push({ start: mem.alloc(noise), len: noise.length })
  return { mem, regions }
}

type Space = ReturnType<typeof makeSpace>

/** One slot value. */
const randomSlot = (r: Rng, space: Space): bigint => {
  switch (r.int(10)) {
    case 0:
      return BigInt(r.int(9))
    case 1:
      return BigInt(r.int(24)) // a descriptor, maybe open
    case 2:
      return BigInt.asUintN(64, BigInt(-1 - r.int(3)))
    case 3:
      return BigInt(r.next()) // flags, modes, sizes
    case 4:
    case 5: {
      const region = r.pick(space.regions)
      return region.start + BigInt(r.int(region.len))
    }
    case 6: {
      // an edge: just before, at or just past the end
      const region = r.pick(space.regions)
      return region.start + BigInt(region.len) + BigInt(r.int(3)) - 1n
    }
    case 7:
      return r.pick([0n, 8n, 0x1000n, 0x0fff_fff0n, 0xdead_beef_000n, 1n << 63n, 0xffff_ffff_ffff_f000n])
    case 8:
      return BigInt(r.int(1 << 16))
    default:
      return (BigInt(r.next()) << 32n) | BigInt(r.next())
  }
}

/** Numbers not to call: reboot halts the kernel for everyone, by design. */
const EXCLUDED = new Set<number>([SYS.reboot])

const FUZZ_RUNS = Math.max(1, Number(process.env["FUZZ_RUNS"] ?? 1) || 1)
const GUESTS = 4
const CALLS_PER_GUEST = 1500 * FUZZ_RUNS

describe("syscall fuzz", () => {
  it.live(`${GUESTS * CALLS_PER_GUEST} random syscalls: no defect, every result an errno`, () => {
    const seed = Number(process.env["FUZZ_SEED"] ?? ((Date.now() ^ (Math.random() * 0x1_0000_0000)) >>> 0))
    const defects: Array<string> = []
    const collector = Logger.make((o) => {
      const text = Array.isArray(o.message) ? o.message.map(String).join(" ") : String(o.message)
      if (o.logLevel === "Error" || o.logLevel === "Fatal" || text.includes("defect")) defects.push(`${o.logLevel}: ${text}`)
    })
    const numbers = [...syscallTable.keys()].filter((n) => !EXCLUDED.has(n))
    const bad: Array<string> = []
    let calls = 0
    let timedOut = 0
    let succeeded = 0

    return Effect.gen(function*() {
      // the collector sees what the kernel logs from the calling fiber
      yield* Effect.logError("probe: syscall defect")
      assert.strictEqual(defects.length, 1, "the log collector works")
      defects.length = 0
      const { hypervisor } = yield* boot()
      const master = new Rng(seed)

      const runGuest = (gseed: number) =>
        Effect.gen(function*() {
          const r = new Rng(gseed)
          let space = makeSpace(r)
          const fork = (h: HypervisorService, s: Space) => h.rfork({ client: s.mem.service, mode: "clear", comm: "fuzz" })
          let proc = yield* fork(hypervisor, space).pipe(Effect.orDie)
          for (let i = 0; i < CALLS_PER_GUEST; i++) {
            const number = r.int(20) === 0 ? r.int(600) : r.pick(numbers)
            if (EXCLUDED.has(number)) continue
            const args = Array.from({ length: r.int(8) }, () => randomSlot(r, space))
            const lwp = yield* Effect.result(hypervisor.newLwp(proc.pid))
            if (Result.isFailure(lwp)) {
              // the guest is gone (a kill that hit it): a new one
              space = makeSpace(r)
              proc = yield* fork(hypervisor, space).pipe(Effect.orDie)
              continue
            }
            calls++
            const exit = yield* Effect.exit(
              hypervisor.syscall(lwp.success, number, packArgs(...args)).pipe(
                provideLocalMemory(space.mem),
                // a call that sleeps (nanosleep, a read on an empty pipe, poll) is cut short
                Effect.timeoutOption("15 millis"),
                Effect.ensuring(hypervisor.releaseLwp(lwp.success))
              )
            )
            const what = `syscall ${number}(${args.map((a) => `0x${a.toString(16)}`).join(", ")})`
            if (Exit.isFailure(exit)) {
              bad.push(`${what} escaped: ${Cause.pretty(exit.cause).slice(0, 500)}`)
              continue
            }
            const result: Option.Option<SyscallResult> = exit.value
            if (Option.isNone(result)) {
              timedOut++
              continue
            }
            const e = result.value.error
            if (!Number.isInteger(e) || e < 0 || e > ELAST) bad.push(`${what} returned error ${e}`)
            if (e === 0) succeeded++
          }
          yield* hypervisor.releaseProcess(proc)
        })

      const seeds = Array.from({ length: GUESTS }, () => master.next())
      yield* Effect.forEach(seeds, runGuest, { concurrency: "unbounded", discard: true })

      if (process.env["FUZZ_VERBOSE"]) console.log({ seed, calls, succeeded, timedOut })
      assert.deepStrictEqual(bad.slice(0, 10), [], `seed ${seed}: ${bad.length} bad results`)
      assert.deepStrictEqual(defects.slice(0, 10), [], `seed ${seed}: ${defects.length} defects logged`)
      assert.isAbove(calls, GUESTS * CALLS_PER_GUEST * 0.9)
      assert.isAbove(succeeded, 0, "some calls succeeded")
      assert.isBelow(timedOut, calls / 4, `${timedOut} of ${calls} calls slept`)
    }).pipe(
      Effect.provide(Logger.layer([collector])),
      Effect.onError((cause) =>
        Effect.sync(() =>
          console.error(`syscall fuzz failure with seed ${seed}: rerun with FUZZ_SEED=${seed}\n${Cause.pretty(cause).slice(0, 3000)}`)
        )
      )
    )
  }, 60_000)
})
