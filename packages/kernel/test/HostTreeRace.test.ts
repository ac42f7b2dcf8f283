/**
 * The host walker against a host process that swaps a directory of the tree
 * for a symlink to / while the walker opens a file below it (issue 18):
 * 10,000 opens through the walker, none lands outside the tree. The same
 * race against a plain path open, run alongside, does land outside: proof
 * that the race was on while the walker ran. Then the same race against
 * 10,000 opens by clients of a kernel serving the tree as its root: the
 * symlink is the kernel's to resolve (to its own root), never the host's.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as ChildProcess from "node:child_process"
import * as Fs from "node:fs"
import * as Path from "node:path"
import { SYS } from "@sysproxy/protocol/netbsd"
import { HostCalls } from "../src/vfs/host/HostCalls.ts"
import { HostTree } from "../src/vfs/host/HostTree.ts"
import { boot } from "./support/SyscallHarness.ts"
import { tempTrees } from "./support/TempDirs.ts"

const hostDir = tempTrees("sysproxy-race-")

const OPENS = 10_000

interface Swapper {
  readonly stop: () => Promise<number>
}

/** Starts the C swapper on `a` and `b` and waits for its first swap. */
const startSwapper = (binary: string, a: string, b: string): Promise<Swapper> =>
  new Promise((ready, failed) => {
    const child = ChildProcess.spawn(binary, [a, b], { stdio: ["ignore", "pipe", "inherit"] })
    let out = ""
    let started = false
    child.on("error", failed)
    child.stdout.setEncoding("utf8")
    child.stdout.on("data", (chunk: string) => {
      out += chunk
      if (!started && out.startsWith("ready\n")) {
        started = true
        ready({
          stop: () =>
            new Promise((done) => {
              child.on("close", () => done(Number(out.slice("ready\n".length).trim())))
              child.kill("SIGTERM")
            })
        })
      }
    })
    child.on("exit", (code) => {
      if (!started) failed(new Error(`swapper exited with ${code}`))
    })
  })

type Outcome = "inside" | "outside" | "refused"

/** A tree with a/etc/passwd and the swapper built beside it. */
const raceTree = () => {
  const { base, root } = hostDir()
  const binary = Path.join(base, "swapper")
  ChildProcess.execFileSync("gcc", ["-O2", "-o", binary, Path.join(import.meta.dirname, "support/c/swapper.c")])
  Fs.mkdirSync(Path.join(root, "a", "etc"), { recursive: true })
  Fs.writeFileSync(Path.join(root, "a", "etc", "passwd"), "inside the tree\n")
  return { root, binary }
}

describe("host walker: a directory swapped for a symlink to / meanwhile", () => {
  it.live("10,000 opens through the walker never land outside the tree", () =>
    Effect.gen(function*() {
      const { root, binary } = raceTree()
      Fs.symlinkSync("/", Path.join(root, "x"))
      const inside = Fs.statSync(Path.join(root, "a", "etc", "passwd"), { bigint: true })
      const outside = Fs.statSync("/etc/passwd", { bigint: true })
      const where = (st: Fs.BigIntStats): Outcome =>
        st.dev === inside.dev && st.ino === inside.ino ? "inside" : "outside"

      const tree = yield* HostTree.open(root)
      const viaWalker: Effect.Effect<Outcome> = Effect.scoped(
        Effect.gen(function*() {
          const etc = yield* tree.walk(["a", "etc"])
          const node = yield* tree.lookup(etc, "passwd")
          const file = yield* tree.reopen(node, Fs.constants.O_RDONLY)
          return where(yield* tree.fstat(file))
        })
      ).pipe(Effect.catchTag("HostError", () => Effect.succeed<Outcome>("refused")))
      // what a server that checks, then opens a path, would do
      const viaPath: Effect.Effect<Outcome> = Effect.promise(async () => {
        try {
          const fh = await Fs.promises.open(Path.join(root, "a", "etc", "passwd"), Fs.constants.O_RDONLY | Fs.constants.O_NOFOLLOW)
          try {
            return where(await fh.stat({ bigint: true }))
          } finally {
            await fh.close()
          }
        } catch {
          return "refused" as const
        }
      })

      const swapper = yield* Effect.promise(() => startSwapper(binary, Path.join(root, "a"), Path.join(root, "x")))
      const tally = { walker: { inside: 0, outside: 0, refused: 0 }, path: { inside: 0, outside: 0, refused: 0 } }
      const run = yield* Effect.exit(Effect.forEach(
        Array.from({ length: OPENS }, (_, i) => i),
        (i) =>
          Effect.gen(function*() {
            tally.walker[yield* viaWalker]++
            // one plain open per ten walker opens, in the same stretch of time
            if (i % 10 === 0) tally.path[yield* viaPath]++
          }),
        { concurrency: 16, discard: true }
      ))
      const swaps = yield* Effect.promise(() => swapper.stop())
      assert.isTrue(Exit.isSuccess(run), String(run))

      assert.strictEqual(tally.walker.outside, 0, `walker opens outside the tree: ${JSON.stringify(tally)}`)
      assert.strictEqual(tally.walker.inside + tally.walker.refused, OPENS)
      // both states were met: the walker opened the file, and was refused the symlink
      assert.isAbove(tally.walker.inside, 0, JSON.stringify(tally))
      assert.isAbove(tally.walker.refused, 0, JSON.stringify(tally))
      assert.isAbove(swaps, 1000, `swaps: ${swaps}`)
      // the race was real: the path open followed the symlink to the host's /etc/passwd
      assert.isAbove(tally.path.outside, 0, `plain opens never raced: ${JSON.stringify(tally)}`)
      assert.isTrue(outside.ino !== inside.ino || outside.dev !== inside.dev)
      // the swapper left the directory where it was
      assert.isTrue(Fs.lstatSync(Path.join(root, "a")).isDirectory())
    }).pipe(Effect.provide(HostCalls.layer)), 120_000)

  it.live("10,000 client opens through a kernel serving the tree never reach outside it", () =>
    Effect.gen(function*() {
      const { root, binary } = raceTree()
      // what the symlink to / leads to in the kernel: the tree's own root
      Fs.mkdirSync(Path.join(root, "etc"))
      Fs.writeFileSync(Path.join(root, "etc", "passwd"), "the tree's root\n")
      Fs.symlinkSync("/", Path.join(root, "x"))
      const k = yield* boot({ mounts: [{ hostPath: root, at: "/" }] })
      const guests = yield* Effect.forEach(Array.from({ length: 4 }), () => k.guest())
      const tally = { inside: 0, root: 0, outside: 0, refused: 0 }
      const clientOpen = (g: (typeof guests)[number]) =>
        Effect.gen(function*() {
          const path = g.mem.allocString("/a/etc/passwd")
          const r = yield* g.call(SYS.open, path, 0, 0)
          if (r.error !== 0) return "refused" as const
          const buf = g.mem.alloc(64)
          const n = yield* g.call(SYS.read, r.retval0, buf, 64)
          yield* g.call(SYS.close, r.retval0)
          const text = new TextDecoder().decode(g.mem.read(buf, Number(n.retval0)))
          return text === "inside the tree\n" ? "inside" as const : text === "the tree's root\n" ? "root" as const : "outside" as const
        })
      const swapper = yield* Effect.promise(() => startSwapper(binary, Path.join(root, "a"), Path.join(root, "x")))
      const run = yield* Effect.exit(Effect.forEach(
        Array.from({ length: OPENS }, (_, i) => i),
        (i) => Effect.map(clientOpen(guests[i % guests.length]!), (o) => void tally[o]++),
        { concurrency: 16, discard: true }
      ))
      const swaps = yield* Effect.promise(() => swapper.stop())
      assert.isTrue(Exit.isSuccess(run), String(run))
      assert.strictEqual(tally.outside, 0, `client opens outside the tree: ${JSON.stringify(tally)}`)
      assert.strictEqual(tally.inside + tally.root + tally.refused, OPENS)
      // the client met the directory and the symlink both (a symlink to / leads to the kernel's root)
      assert.isAbove(tally.inside, 0, JSON.stringify(tally))
      assert.isAbove(tally.root + tally.refused, 0, JSON.stringify(tally))
      assert.isAbove(swaps, 100, `swaps: ${swaps}`)
    }), 180_000)
})
