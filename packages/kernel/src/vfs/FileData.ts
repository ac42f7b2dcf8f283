/**
 * A regular file's bytes, kept sparse: a map of 4 KiB pages (NetBSD's page
 * size, so st_blocks counts what a tmpfs would), allocated only where data
 * was written. A hole reads as zeros and costs nothing, so a write at
 * offset 1 GiB takes one page.
 */

export const PAGE_SIZE = 4096

/** Largest file size: offsets stay exact as JS numbers well below 2^53. */
export const MAX_FILE_SIZE = 2 ** 50

/** Where pages come from: the file system's (and the machine's) allowance. */
export interface Space {
  /** Takes `pages` more pages; false (nothing taken) when they are not there. */
  readonly take: (pages: number) => boolean
  readonly give: (pages: number) => void
}

/** Pages in an extent: 64 KiB, stored as one buffer once all of them are written. */
const EXTENT_PAGES = 16
const EXTENT_SIZE = EXTENT_PAGES * PAGE_SIZE

/**
 * Pages are single 4 KiB buffers where a file is sparse or written in small
 * pieces, and 64 KiB extents where a write covers 16 aligned pages whole (a
 * file copied in). Every buffer is an ArrayBuffer with a backing store of
 * its own that V8 counts as external memory and sweeps at every full
 * collection: a 1 GiB file as 262,144 pages made a copy of it run a
 * mark-compact every 100-200 ms, as 16,384 extents it does not. An extent
 * is made only when all its pages are written, so a file still takes
 * exactly the pages it holds.
 */
export class FileData {
  size = 0
  private readonly pages = new Map<number, Uint8Array>()
  private readonly extents = new Map<number, Uint8Array>()

  private readonly space: Space

  constructor(space: Space) {
    this.space = space
  }

  /** Pages holding data (st_blocks is this times 8). */
  get pageCount(): number {
    return this.pages.size + this.extents.size * EXTENT_PAGES
  }

  private has(index: number): boolean {
    return this.pages.has(index) || this.extents.has(Math.floor(index / EXTENT_PAGES))
  }

  /** The bytes of page `index`: a view of its extent, its own buffer, or undefined for a hole. */
  private page(index: number): Uint8Array | undefined {
    const extent = this.extents.get(Math.floor(index / EXTENT_PAGES))
    if (extent === undefined) return this.pages.get(index)
    const at = (index % EXTENT_PAGES) * PAGE_SIZE
    return extent.subarray(at, at + PAGE_SIZE)
  }

  /** Up to `len` bytes at `offset`, fewer at the end of the file. */
  read(offset: number, len: number): Uint8Array {
    const n = Math.max(0, Math.min(len, this.size - offset))
    const out = new Uint8Array(n)
    let done = 0
    while (done < n) {
      const pos = offset + done
      const e = Math.floor(pos / EXTENT_SIZE)
      const extent = this.extents.get(e)
      if (extent !== undefined) {
        const within = pos - e * EXTENT_SIZE
        const count = Math.min(EXTENT_SIZE - within, n - done)
        out.set(extent.subarray(within, within + count), done)
        done += count
        continue
      }
      const index = Math.floor(pos / PAGE_SIZE)
      const within = pos - index * PAGE_SIZE
      const count = Math.min(PAGE_SIZE - within, n - done)
      const page = this.pages.get(index)
      if (page !== undefined) out.set(page.subarray(within, within + count), done)
      done += count
    }
    return out
  }

  /** Stores `data` at `offset`, growing the file; false (nothing written) when pages run out. */
  write(offset: number, data: Uint8Array): boolean {
    if (data.length === 0) return true
    const first = Math.floor(offset / PAGE_SIZE)
    const last = Math.floor((offset + data.length - 1) / PAGE_SIZE)
    let missing = 0
    for (let i = first; i <= last; i++) if (!this.has(i)) missing++
    if (missing > 0 && !this.space.take(missing)) return false
    let done = 0
    while (done < data.length) {
      const pos = offset + done
      const e = Math.floor(pos / EXTENT_SIZE)
      let extent = this.extents.get(e)
      if (extent === undefined && pos === e * EXTENT_SIZE && data.length - done >= EXTENT_SIZE) {
        // the write covers the extent whole: its pages (counted already) become one buffer
        extent = new Uint8Array(EXTENT_SIZE)
        for (let i = e * EXTENT_PAGES; i < (e + 1) * EXTENT_PAGES; i++) this.pages.delete(i)
        this.extents.set(e, extent)
      }
      if (extent !== undefined) {
        const within = pos - e * EXTENT_SIZE
        const count = Math.min(EXTENT_SIZE - within, data.length - done)
        extent.set(data.subarray(done, done + count), within)
        done += count
        continue
      }
      const index = Math.floor(pos / PAGE_SIZE)
      const within = pos - index * PAGE_SIZE
      const count = Math.min(PAGE_SIZE - within, data.length - done)
      let page = this.pages.get(index)
      if (page === undefined) {
        page = new Uint8Array(PAGE_SIZE)
        this.pages.set(index, page)
      }
      page.set(data.subarray(done, done + count), within)
      done += count
    }
    this.size = Math.max(this.size, offset + data.length)
    return true
  }

  /** Sets the size. Growing adds a hole; shrinking frees the pages past the end and zeros the rest of the last one. */
  resize(size: number): void {
    if (size < this.size) {
      const keep = Math.ceil(size / PAGE_SIZE)
      let freed = 0
      for (const index of [...this.pages.keys()]) {
        if (index >= keep) {
          this.pages.delete(index)
          freed++
        }
      }
      for (const [e, extent] of [...this.extents]) {
        const base = e * EXTENT_PAGES
        if (base + EXTENT_PAGES <= keep) continue
        // an extent the new end cuts: what stays before it goes back to single pages
        this.extents.delete(e)
        for (let i = base; i < keep; i++) this.pages.set(i, extent.slice((i - base) * PAGE_SIZE, (i - base + 1) * PAGE_SIZE))
        freed += base + EXTENT_PAGES - Math.max(base, keep)
      }
      if (freed > 0) this.space.give(freed)
      // a later growth must read zeros where the old bytes were
      const tail = keep > 0 ? this.page(keep - 1) : undefined
      const within = size - (keep - 1) * PAGE_SIZE
      if (tail !== undefined && within < PAGE_SIZE) tail.fill(0, within)
    }
    this.size = size
  }

  /** Gives every page back (the file is gone). */
  clear(): void {
    this.space.give(this.pageCount)
    this.pages.clear()
    this.extents.clear()
    this.size = 0
  }
}
