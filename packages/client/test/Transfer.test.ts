/**
 * Whole-file transfers over a real server: the bytes arrive whole and in
 * order however they are cut, several requests are in flight at once on a
 * regular file, a pipe goes one request at a time, and the chunks of a
 * write are the caller's own memory (no copy answers the kernel's COPYIN).
 */
import { assert, describe, it } from "@effect/vitest"
import { openFlags } from "@sysproxy/protocol/netbsd"
import { Effect, Stream } from "effect"
import { AddressSpace, makeClient, readStream, type Syscalls, TRANSFER_CHUNK, TRANSFER_IN_FLIGHT, writeStream } from "../src/index.ts"
import { startServer } from "./support/World.ts"

const pattern = (n: number, seed = 7) => new Uint8Array(n).map((_, i) => (i * 31 + seed) % 251)

const concat = (chunks: ReadonlyArray<Uint8Array>) => new Uint8Array(Buffer.concat(chunks))

/** `sys` with its pread and pwrite counted: how many at once at most. */
const counting = (sys: Syscalls) => {
  let now = 0
  const peak = { pread: 0, pwrite: 0, write: 0 }
  const track = <A, E>(which: keyof typeof peak, effect: Effect.Effect<A, E>) =>
    Effect.suspend(() => {
      now++
      peak[which] = Math.max(peak[which], now)
      return effect.pipe(Effect.ensuring(Effect.sync(() => void now--)))
    })
  const counted: Syscalls = {
    ...sys,
    pread: (fd, length, offset) => track("pread", sys.pread(fd, length, offset)),
    pwrite: (fd, data, offset) => track("pwrite", sys.pwrite(fd, data, offset)),
    write: (fd, data) => track("write", sys.write(fd, data))
  }
  return { counted, peak }
}

describe("transfers", () => {
  it.live("a file of several chunks written and read back whole, with requests in flight at once", () =>
    Effect.gen(function*() {
      const c = yield* makeClient(yield* startServer())
      const data = pattern(3 * TRANSFER_CHUNK + 12345)
      // cut unevenly: chunk boundaries need not be the transfer's
      const pieces = [data.subarray(0, 1000), data.subarray(1000, 2 * TRANSFER_CHUNK), data.subarray(2 * TRANSFER_CHUNK)]
      const { counted, peak } = counting(c)
      const out = yield* c.open("/big", openFlags.O_WRONLY | openFlags.O_CREAT | openFlags.O_TRUNC, 0o644)
      assert.strictEqual(yield* writeStream(counted, out, Stream.fromIterable(pieces)), data.byteLength)
      yield* c.close(out)
      assert.strictEqual((yield* c.stat("/big")).size, data.byteLength)
      assert.strictEqual(peak.pwrite, pieces.length, "every piece was in flight at once")

      const fd = yield* c.open("/big")
      const chunks = yield* Stream.runCollect(readStream(counted, fd))
      assert.deepStrictEqual(concat(chunks), data)
      assert.isTrue(chunks.every((ch) => ch.byteLength <= TRANSFER_CHUNK))
      assert.strictEqual(peak.pread, TRANSFER_IN_FLIGHT)
      // small chunks and one request at a time give the same bytes
      const slow = yield* Stream.runCollect(readStream(c, fd, { chunkSize: 4096, inFlight: 1 }))
      assert.deepStrictEqual(concat(slow), data)
      yield* c.close(fd)
    }))

  it.live("an empty file gives no chunk; a pipe is read and written one request at a time", () =>
    Effect.gen(function*() {
      const c = yield* makeClient(yield* startServer())
      yield* c.writeFile("/empty", "")
      const fd = yield* c.open("/empty")
      assert.deepStrictEqual(yield* Stream.runCollect(readStream(c, fd)), [])
      const [r, w] = yield* c.pipe()
      const { counted, peak } = counting(c)
      const data = pattern(10_000, 3)
      const pieces = [data.subarray(0, 4000), data.subarray(4000)]
      assert.strictEqual(yield* writeStream(counted, w, Stream.fromIterable(pieces)), data.byteLength)
      assert.strictEqual(peak.write, 1)
      assert.strictEqual(peak.pwrite, 0, "no pwrite on a pipe")
      yield* c.close(w)
      assert.deepStrictEqual(concat(yield* Stream.runCollect(readStream(counted, r))), data)
      assert.strictEqual(peak.pread, 0)
    }))
})

describe("mapping without copies", () => {
  it("adopt maps the bytes themselves; view reads them in place", () => {
    const space = new AddressSpace()
    const bytes = pattern(10_000)
    const addr = space.adopt(bytes)
    const seen = space.view(addr + 100n, 50)!
    bytes[100] = 99
    assert.strictEqual(seen[0], 99, "the view is the caller's memory")
    assert.isTrue(space.write(addr, new Uint8Array([1, 2])))
    assert.deepStrictEqual([...bytes.subarray(0, 2)], [1, 2], "a copyout lands in it")
    assert.isUndefined(space.view(addr + 9_990n, 20), "past the end is a fault")
    assert.isTrue(space.free(addr))
    assert.isUndefined(space.view(addr, 1))
    // borrowed for a write(2): readable, never written
    const borrowed = space.adopt(bytes, { readOnly: true })
    assert.strictEqual(space.view(borrowed, 1)![0], 1)
    assert.isFalse(space.write(borrowed, new Uint8Array([7])))
    assert.strictEqual(bytes[0], 1)
  })

  it("a copyout handed over for a whole untouched region becomes its memory; write copies", () => {
    const space = new AddressSpace()
    const owned = space.alloc(4)
    const data = new Uint8Array([1, 2, 3, 4])
    assert.isTrue(space.writeOwned(owned, data))
    assert.strictEqual(space.view(owned, 4)!.buffer, data.buffer)
    const copied = space.alloc(4)
    assert.isTrue(space.write(copied, data))
    data[0] = 9
    assert.strictEqual(space.view(copied, 1)![0], 1, "the caller's buffer stays the caller's")
  })
})
