/**
 * A socket's receive buffer: a byte stream (stream sockets) or a queue of
 * records, each with the address it came from (datagram sockets).
 */
import type { SockAddr } from "./Address.ts"

export class ByteQueue {
  private chunks: Array<Uint8Array> = []
  count = 0

  put(data: Uint8Array): void {
    if (data.length === 0) return
    this.chunks.push(data.slice())
    this.count += data.length
  }

  /** Copies out up to `len` bytes; `consume` drops them (false: MSG_PEEK). */
  take(len: number, consume = true): Uint8Array {
    const n = Math.min(len, this.count)
    const out = new Uint8Array(n)
    let at = 0
    let i = 0
    while (at < n) {
      const c = this.chunks[i] as Uint8Array
      const k = Math.min(c.length, n - at)
      out.set(c.subarray(0, k), at)
      at += k
      if (consume) {
        if (k === c.length) this.chunks.shift()
        else this.chunks[0] = c.subarray(k)
      } else {
        i++
      }
    }
    if (consume) this.count -= n
    return out
  }

  clear(): void {
    this.chunks = []
    this.count = 0
  }
}

export interface Datagram {
  readonly data: Uint8Array
  readonly from: SockAddr | undefined
}

export class DatagramQueue {
  readonly records: Array<Datagram> = []
  /** Bytes queued (what counts against the receive buffer). */
  count = 0

  put(d: Datagram): void {
    this.records.push(d)
    this.count += d.data.length
  }

  shift(consume = true): Datagram | undefined {
    const d = consume ? this.records.shift() : this.records[0]
    if (d !== undefined && consume) this.count -= d.data.length
    return d
  }

  clear(): void {
    this.records.length = 0
    this.count = 0
  }
}
