/**
 * The caller's memory as one intercepted syscall uses it: every request
 * goes on to the real UserMemory, and on the way the proxy counts the bytes
 * copied in and out, notes where each copy started (a trace shows a
 * buffer's size), keeps the strings copyinstr brought in (a trace shows
 * paths without asking the client twice), and answers the kernel's own
 * copyinstr of a string middleware already read (a path rule reads it once
 * per call, and the kernel does not make the client send it again).
 *
 * One per intercepted call, made only when middleware needs it.
 */
import { Effect } from "effect"
import type { MemoryFault } from "../Errors.ts"
import type { UserMemoryService } from "../UserMemory.ts"

/** One copy: where it started, how many bytes, which way. */
export interface CopyRecord {
  readonly addr: bigint
  readonly bytes: number
  readonly out: boolean
}

export class CallMemory implements UserMemoryService {
  readonly inner: UserMemoryService
  copyinBytes = 0
  copyoutBytes = 0
  /** Copies in order (copyin, copyinstr, copyout, copyoutstr). */
  readonly copies: Array<CopyRecord> = []
  /** Strings brought in by copyinstr, by address (the bytes through the NUL, if any). */
  readonly strings = new Map<bigint, Uint8Array>()
  readonly disconnect: UserMemoryService["disconnect"]

  constructor(inner: UserMemoryService) {
    this.inner = inner
    // bound to `inner`: a memory that is a class instance (the server's RemoteMemory) reads its own fields in it
    const disconnect = inner.disconnect
    this.disconnect = disconnect === undefined ? undefined : (reason) => disconnect.call(inner, reason)
  }

  private noteIn(addr: bigint, bytes: number): void {
    this.copyinBytes += bytes
    this.copies.push({ addr, bytes, out: false })
  }

  copyin(addr: bigint, len: number): Effect.Effect<Uint8Array, MemoryFault> {
    return Effect.map(this.inner.copyin(addr, len), (data) => {
      this.noteIn(addr, data.byteLength)
      return data
    })
  }

  /**
   * A string already brought in at `addr` answers a later copyinstr when it
   * gives exactly what the client would: the whole string when its NUL is
   * within `maxLen`, else its first `maxLen` bytes.
   */
  copyinstr(addr: bigint, maxLen: number): Effect.Effect<Uint8Array, MemoryFault> {
    const known = this.strings.get(addr)
    if (known !== undefined) {
      const whole = known.byteLength > 0 && known[known.byteLength - 1] === 0
      if (maxLen < known.byteLength) return Effect.succeed(known.slice(0, maxLen))
      if (whole) return Effect.succeed(known.slice())
    }
    return Effect.map(this.inner.copyinstr(addr, maxLen), (data) => {
      this.noteIn(addr, data.byteLength)
      this.strings.set(addr, data)
      return data
    })
  }

  copyout(addr: bigint, data: Uint8Array): Effect.Effect<void, MemoryFault> {
    return Effect.map(this.inner.copyout(addr, data), () => this.noteOut(addr, data.byteLength))
  }

  copyoutstr(addr: bigint, data: Uint8Array): Effect.Effect<void, MemoryFault> {
    return Effect.map(this.inner.copyoutstr(addr, data), () => this.noteOut(addr, data.byteLength))
  }

  private noteOut(addr: bigint, bytes: number): void {
    this.copyoutBytes += bytes
    this.copies.push({ addr, bytes, out: true })
  }

  anonmmap(size: bigint): Effect.Effect<bigint, MemoryFault> {
    return this.inner.anonmmap(size)
  }

  raise(signo: number): Effect.Effect<void> {
    return this.inner.raise(signo)
  }

  /** Bytes copied either way in copies that started at `addr`. */
  bytesAt(addr: bigint): number | undefined {
    let total: number | undefined
    for (const c of this.copies) if (c.addr === addr) total = (total ?? 0) + c.bytes
    return total
  }
}
