/**
 * Host calls for tests: node:fs's, each counted by name, and any of them
 * made to fail with a host error code while a test says so.
 */
import { Effect } from "effect"
import { type HostCallsService, nodeHostCalls } from "../../src/vfs/host/HostCalls.ts"
import { hostError } from "../../src/vfs/host/HostError.ts"

export interface CountingCalls {
  readonly calls: HostCallsService
  /** Calls made so far, by name. */
  readonly counts: Map<string, number>
  /** The total of `counts`. */
  readonly total: () => number
  /** While set, every call of that name fails with that host code ("ENOSPC"). */
  readonly failing: Map<string, string>
}

export const countingCalls = (): CountingCalls => {
  const counts = new Map<string, number>()
  const failing = new Map<string, string>()
  const wrapped: Record<string, unknown> = {}
  for (const [name, f] of Object.entries(nodeHostCalls)) {
    wrapped[name] = (...args: ReadonlyArray<unknown>) =>
      Effect.suspend(() => {
        counts.set(name, (counts.get(name) ?? 0) + 1)
        const code = failing.get(name)
        if (code !== undefined) return Effect.fail(hostError(code, name))
        return (f as (...a: ReadonlyArray<unknown>) => Effect.Effect<unknown>)(...args)
      })
  }
  return {
    calls: wrapped as unknown as HostCallsService,
    counts,
    failing,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0)
  }
}
