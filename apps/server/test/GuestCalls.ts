/**
 * Syscalls the app tests make as a guest through the library client, with
 * their arguments laid out by hand: sysctl reads and reading a file.
 */
import { assert } from "@effect/vitest"
import type { ClientConnection } from "@sysproxy/client"
import { openFlags, SYS } from "@sysproxy/protocol/netbsd"
import { Effect } from "effect"

/** Reads the sysctl node `mib`: its value's bytes. */
export const sysctl = (client: ClientConnection, mib: ReadonlyArray<number>) =>
  Effect.gen(function*() {
    const name = new Uint8Array(4 * mib.length)
    mib.forEach((n, i) => new DataView(name.buffer).setInt32(4 * i, n, true))
    const old = client.space.alloc(256)
    const oldlen = client.space.alloc(8)
    client.space.write(oldlen, new Uint8Array(new BigUint64Array([256n]).buffer))
    const r = yield* client.syscall(SYS.__sysctl, [client.space.alloc(name), mib.length, old, oldlen, 0, 0])
    assert.strictEqual(r.error, 0, `sysctl ${mib.join(".")}`)
    const len = new DataView(client.space.read(oldlen, 8)!.buffer.slice(0)).getBigUint64(0, true)
    return client.space.read(old, Number(len))!
  })

export const sysctlString = (client: ClientConnection, mib: ReadonlyArray<number>) =>
  Effect.map(sysctl(client, mib), (bytes) => new TextDecoder().decode(bytes).replace(/\0.*$/, ""))

/** An int (4 bytes) or quad (8 bytes) node. */
export const sysctlNumber = (client: ClientConnection, mib: ReadonlyArray<number>) =>
  Effect.map(sysctl(client, mib), (bytes) => {
    const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    return bytes.byteLength === 8 ? Number(v.getBigInt64(0, true)) : v.getInt32(0, true)
  })

/** open(2), then up to `max` bytes read from the start. */
export const readGuestFile = (client: ClientConnection, path: string, max = 4096) =>
  Effect.gen(function*() {
    const fd = yield* client.syscall(SYS.open, [client.space.allocString(path), openFlags.O_RDONLY, 0])
    assert.strictEqual(fd.error, 0, `open ${path}`)
    const buf = client.space.alloc(max)
    const r = yield* client.syscall(SYS.read, [fd.retval0, buf, max])
    assert.strictEqual(r.error, 0, `read ${path}`)
    yield* client.syscall(SYS.close, [fd.retval0])
    return client.space.read(buf, Number(r.retval0))!
  })
