/**
 * A server as a process of its own, for tests that kill it: the kernel
 * and a SysproxyServer on the unix socket path given as the argument;
 * prints "ready" once it listens, then serves until it is killed.
 */
import { Effect } from "effect"
import { serve } from "./World.ts"

const path = process.argv[2]
if (path === undefined) throw new Error("usage: serverMain.ts SOCKET_PATH")

Effect.runFork(
  Effect.scoped(
    Effect.gen(function*() {
      yield* serve(path)
      process.stdout.write("ready\n")
      return yield* Effect.never
    })
  )
)
