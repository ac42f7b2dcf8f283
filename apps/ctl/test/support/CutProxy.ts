/**
 * A relay between the tools and a real server that drops both sides of a
 * connection when the tool sends a given syscall: the server dying at an
 * exact point of a tool's work, with no timing involved.
 */
import { FrameDecoder } from "@sysproxy/protocol"
import { Effect, Result, type Scope } from "effect"
import * as Net from "node:net"
import * as Path from "node:path"
import { hostDir } from "./Harness.ts"

/** A unix:// URL that relays to `serverUrl` (a unix:// URL) until a request for syscall `sysnum`. */
export const cutAt = (serverUrl: string, sysnum: number): Effect.Effect<string, unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const path = Path.join(yield* hostDir, "cut.sock")
    const upstreamPath = new URL(serverUrl).pathname
    const server = Net.createServer((client) => {
      const upstream = Net.createConnection({ path: upstreamPath })
      const decoder = new FrameDecoder()
      const cut = () => {
        client.destroy()
        upstream.destroy()
      }
      client.on("error", cut)
      upstream.on("error", cut)
      client.on("close", cut)
      upstream.on("close", cut)
      upstream.pipe(client)
      client.on("data", (chunk: Buffer) => {
        // the client sends whole frames and no banner: decode before passing a chunk on
        const frames = decoder.push(chunk)
        if (frames.some((f) => Result.isSuccess(f) && f.success._tag === "SyscallRequest" && f.success.sysnum === sysnum)) {
          return cut()
        }
        upstream.write(chunk)
      })
    })
    yield* Effect.acquireRelease(
      Effect.callback<void>((resume) => void server.listen(path, () => resume(Effect.void))),
      () => Effect.callback<void>((resume) => void server.close(() => resume(Effect.void)))
    )
    return `unix://${path}`
  })
