import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as Net from "node:net"
import * as Path from "node:path"
import { readChunks } from "../src/SocketReads.ts"
import { cat, getpidFrame, rawGuest, startServer, tempDir } from "./support.ts"

describe("SocketReads (client sockets read into one reused buffer)", () => {
  it.live("on this Node, every server socket reads into the same buffer, and each chunk arrives whole", () =>
    Effect.gen(function*() {
      const path = Path.join(yield* tempDir, "reads.sock")
      const seen: Array<{ readonly conn: number; readonly lent: boolean; readonly buffer: ArrayBufferLike; readonly bytes: Uint8Array }> = []
      let conns = 0
      const server = Net.createServer({ pauseOnConnect: true }, (socket) => {
        const conn = conns++
        const r = readChunks(socket, (chunk) => seen.push({ conn, lent: r.lent, buffer: chunk.buffer, bytes: new Uint8Array(chunk) }))
      })
      yield* Effect.acquireRelease(
        Effect.callback<void>((resume) => void server.listen(path, () => resume(Effect.void))),
        () => Effect.sync(() => server.close())
      )
      const send = (bytes: Uint8Array) =>
        Effect.callback<void>((resume) => {
          const c = Net.createConnection({ path }, () => c.end(bytes, () => resume(Effect.void)))
        })
      const a = new Uint8Array(200_000).map((_, i) => i % 251)
      const b = new Uint8Array(3000).fill(7)
      yield* send(a)
      yield* send(b)
      const got = (conn: number) => cat(...seen.filter((s) => s.conn === conn).map((s) => s.bytes))
      for (let i = 0; i < 200 && (got(0).byteLength < a.byteLength || got(1).byteLength < b.byteLength); i++) {
        yield* Effect.sleep("10 millis")
      }
      assert.deepStrictEqual(got(0), a)
      assert.deepStrictEqual(got(1), b)
      // the pinned Node has what the shared buffer needs: if an upgrade takes it away, this says so
      assert.isTrue(seen.every((s) => s.lent))
      assert.strictEqual(new Set(seen.map((s) => s.buffer)).size, 1)
      assert.isAbove(seen.filter((s) => s.conn === 0).length, 1)
    }))

  it.live("requests cut at every few bytes, each piece its own read, are all answered", () =>
    Effect.gen(function*() {
      const { url } = yield* startServer()
      const { conn, pid } = yield* rawGuest(url)
      const stream = cat(...Array.from({ length: 60 }, (_, i) => getpidFrame(BigInt(100 + i))))
      // pieces that end inside headers and bodies alike, written one read apart
      for (let at = 0; at < stream.byteLength; at += 7) {
        yield* conn.write(stream.subarray(at, at + 7))
        yield* Effect.sleep("1 millis")
      }
      for (let i = 0; i < 60; i++) {
        const answer = yield* conn.next("SyscallResponse")
        assert.strictEqual(answer.reqno, BigInt(100 + i))
        assert.strictEqual(Number(answer.retval0), pid)
      }
    }))
})
