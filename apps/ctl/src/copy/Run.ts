/** Running copies from a tool's operands: place them, copy each, exit 1 if any failed. */
import type { SysproxyProcess } from "@sysproxy/client"
import { Effect } from "effect"
import { failed } from "../ExitStatus.ts"
import { sidePath } from "../HostPath.ts"
import { type CopyOptions, copyEntry, type Endpoint, placeCopies } from "./CopyTree.ts"
import { hostSide, kernelSide } from "./Sides.ts"

/** An operand as an endpoint: `host:path` on the host (shown with its prefix), anything else in the kernel. */
export const endpointOf = (c: SysproxyProcess, operand: string): Endpoint => {
  const p = sidePath(operand)
  return p.where === "host" ? { side: hostSide("host:"), path: p.path } : { side: kernelSide(c), path: p.path }
}

/** Copies every source to (or into) the target; fails with exit 1 when anything was not copied. */
export const copyAll = (sources: ReadonlyArray<Endpoint>, target: Endpoint, options: CopyOptions) =>
  Effect.gen(function*() {
    const pairs = yield* placeCopies(options.tool, sources, target)
    if (pairs === undefined) return yield* failed
    let ok = true
    for (const [from, to] of pairs) ok = (yield* copyEntry(from, to, options)) && ok
    if (!ok) return yield* failed
  })
