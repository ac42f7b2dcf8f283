/**
 * The client's simulated address space: what the server's COPYIN, COPYOUT
 * and ANONMMAP requests act on. A real client hands the server raw
 * pointers into its own memory; here the memory is a set of regions at
 * distinct 64-bit addresses, with unmapped gaps between them so that a
 * server reading or writing past a buffer is caught instead of silently
 * landing in the neighbour.
 */

/** Where the first region goes: high in the canonical amd64 user range, like a real mmap area. */
export const ADDRESS_SPACE_BASE = 0x7f0000000000n

/** Regions start on page boundaries. */
export const PAGE_SIZE = 4096n

/** The largest single region; also the ANONMMAP limit (larger sizes are absurd for a test client). */
export const MAX_REGION_SIZE = 1024 * 1024 * 1024

/** Unmapped bytes kept after every region, so an overrun always faults. */
const GUARD_GAP = PAGE_SIZE

const MAX_U64 = 0xffffffffffffffffn

interface Region {
  readonly start: bigint
  readonly size: number
  /** Allocated on the first write: untouched (anonymous) memory reads as zeros. */
  data: Uint8Array | undefined
  /** Borrowed bytes the server may read but not write (adopt's readOnly). */
  readonly readOnly?: boolean
}

const roundUpToPage = (n: bigint): bigint => ((n + PAGE_SIZE - 1n) / PAGE_SIZE) * PAGE_SIZE

const toBigInt = (n: bigint | number): bigint | undefined =>
  typeof n === "bigint" ? n : Number.isSafeInteger(n) ? BigInt(n) : undefined

const utf8Encoder = new TextEncoder()
const utf8Decoder = new TextDecoder("utf-8")

export class AddressSpace {
  // sorted by start: allocation only moves upwards, so appends keep the order
  private readonly regions: Array<Region> = []
  private next = ADDRESS_SPACE_BASE
  private mapped = 0

  /** Number of live regions. */
  get regionCount(): number {
    return this.regions.length
  }

  /** Total size of the live regions. */
  get mappedBytes(): number {
    return this.mapped
  }

  /**
   * Maps a fresh region holding a copy of `bytes`, or `size` zero bytes.
   * Returns its address, or 0n (like a failed mmap) when the size is not an
   * integer in [0, MAX_REGION_SIZE] or the address space is exhausted.
   */
  alloc(init: Uint8Array | bigint | number): bigint {
    const size = init instanceof Uint8Array ? init.byteLength : toBigInt(init)
    if (size === undefined || size < 0 || size > MAX_REGION_SIZE) return 0n
    const length = Number(size)
    const start = this.next
    const end = roundUpToPage(start + BigInt(length)) + GUARD_GAP
    if (end > MAX_U64) return 0n
    this.next = end
    let data: Uint8Array | undefined = undefined
    if (init instanceof Uint8Array) {
      data = new Uint8Array(length)
      data.set(init)
    }
    this.regions.push({ start, size: length, data })
    this.mapped += length
    return start
  }

  /**
   * Maps `bytes` themselves (no copy) as a region: COPYIN answers from
   * them, and COPYOUT writes into them unless `readOnly` (then it faults,
   * and the caller's bytes stay as they were). Returns its address, or 0n
   * as alloc.
   */
  adopt(bytes: Uint8Array, options: { readonly readOnly?: boolean } = {}): bigint {
    if (bytes.byteLength > MAX_REGION_SIZE) return 0n
    const start = this.next
    const end = roundUpToPage(start + BigInt(bytes.byteLength)) + GUARD_GAP
    if (end > MAX_U64) return 0n
    this.next = end
    this.regions.push({ start, size: bytes.byteLength, data: bytes, readOnly: options.readOnly === true })
    this.mapped += bytes.byteLength
    return start
  }

  /** Maps `s` as a NUL-terminated UTF-8 string; returns its address. */
  allocString(s: string): bigint {
    const encoded = utf8Encoder.encode(s)
    const bytes = new Uint8Array(encoded.byteLength + 1)
    bytes.set(encoded)
    return this.alloc(bytes)
  }

  /** Unmaps the region starting at `addr`; false if no region starts there. */
  free(addr: bigint): boolean {
    const index = this.indexOf(addr)
    const region = index === -1 ? undefined : this.regions[index]
    if (region === undefined || region.start !== addr) return false
    this.regions.splice(index, 1)
    this.mapped -= region.size
    return true
  }

  /** Whether [addr, addr + len) lies inside one region. */
  isMapped(addr: bigint, len: bigint | number): boolean {
    return this.locate(addr, len) !== undefined
  }

  /**
   * A copy of the `len` bytes at `addr`, or undefined when any of them is
   * unmapped (a fault). Zero bytes never fault, as in the kernel's copyin.
   */
  read(addr: bigint, len: bigint | number): Uint8Array | undefined {
    const at = this.locate(addr, len)
    if (at === undefined) return undefined
    const out = new Uint8Array(at.length)
    if (at.region?.data !== undefined) out.set(at.region.data.subarray(at.offset, at.offset + at.length))
    return out
  }

  /**
   * The `len` bytes at `addr` as a view of the region's memory (no copy:
   * later writes show through), or undefined on a fault.
   */
  view(addr: bigint, len: bigint | number): Uint8Array | undefined {
    const at = this.locate(addr, len)
    if (at === undefined) return undefined
    const region = at.region
    if (region === undefined) return new Uint8Array(0)
    region.data ??= new Uint8Array(region.size)
    return region.data.subarray(at.offset, at.offset + at.length)
  }

  /**
   * The NUL-terminated string at `addr` as bytes, NUL included, cut at
   * `maxLen` bytes (what COPYINSTR answers). Undefined when the string runs
   * into unmapped memory before its NUL or `maxLen`.
   */
  readCString(addr: bigint, maxLen: bigint | number): Uint8Array | undefined {
    const max = toBigInt(maxLen)
    if (max === undefined || max < 0n) return undefined
    if (max === 0n) return new Uint8Array(0)
    const at = this.locate(addr, 1)
    const region = at?.region
    if (at === undefined || region === undefined) return undefined
    const available = Math.min(region.size - at.offset, Number(max > BigInt(MAX_REGION_SIZE) ? MAX_REGION_SIZE : max))
    // untouched memory is zeros: the string is empty
    if (region.data === undefined) return new Uint8Array(1)
    const window = region.data.subarray(at.offset, at.offset + available)
    const nul = window.indexOf(0)
    if (nul !== -1) return window.slice(0, nul + 1)
    // no NUL: fine if the limit cut it, a fault if the region ended first
    return BigInt(available) === max ? window.slice() : undefined
  }

  /** The NUL-terminated UTF-8 string at `addr` (without the NUL), or undefined on a fault. */
  readString(addr: bigint, maxLen: bigint | number = MAX_REGION_SIZE): string | undefined {
    const bytes = this.readCString(addr, maxLen)
    if (bytes === undefined) return undefined
    const end = bytes.byteLength > 0 && bytes[bytes.byteLength - 1] === 0 ? bytes.byteLength - 1 : bytes.byteLength
    return utf8Decoder.decode(bytes.subarray(0, end))
  }

  /** Writes a copy of `data` at `addr`; false (and nothing written) if any byte would be unmapped. */
  write(addr: bigint, data: Uint8Array): boolean {
    return this.store(addr, data, false)
  }

  /**
   * As write, but `data` is handed over: when it covers the whole of a
   * region not written yet, it becomes that region's memory instead of
   * being copied (a decoded COPYOUT, which nothing else holds).
   */
  writeOwned(addr: bigint, data: Uint8Array): boolean {
    return this.store(addr, data, true)
  }

  private store(addr: bigint, data: Uint8Array, owned: boolean): boolean {
    const at = this.locate(addr, data.byteLength)
    if (at === undefined) return false
    const region = at.region
    if (region === undefined || data.byteLength === 0) return true
    if (region.readOnly === true) return false
    if (owned && region.data === undefined && data.byteLength === region.size) {
      region.data = data
      return true
    }
    if (region.data === undefined) region.data = new Uint8Array(region.size)
    region.data.set(data, at.offset)
    return true
  }

  /** Index of the last region starting at or below `addr`, or -1. */
  private indexOf(addr: bigint): number {
    let lo = 0
    let hi = this.regions.length - 1
    let found = -1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const region = this.regions[mid]!
      if (region.start <= addr) {
        found = mid
        lo = mid + 1
      } else {
        hi = mid - 1
      }
    }
    return found
  }

  /**
   * Where [addr, addr + len) lies. `region` is undefined only for an empty
   * range, which is always accessible.
   */
  private locate(
    addr: bigint,
    len: bigint | number
  ): { readonly region: Region | undefined; readonly offset: number; readonly length: number } | undefined {
    const n = toBigInt(len)
    if (n === undefined || n < 0n) return undefined
    if (n === 0n) return { region: undefined, offset: 0, length: 0 }
    const region = this.regions[this.indexOf(addr)]
    if (region === undefined) return undefined
    const offset = addr - region.start
    if (offset + n > BigInt(region.size)) return undefined
    return { region, offset: Number(offset), length: Number(n) }
  }
}
