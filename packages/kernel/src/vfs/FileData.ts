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

export class FileData {
  size = 0
  private readonly pages = new Map<number, Uint8Array>()

  private readonly space: Space

  constructor(space: Space) {
    this.space = space
  }

  /** Pages holding data (st_blocks is this times 8). */
  get pageCount(): number {
    return this.pages.size
  }

  /** Up to `len` bytes at `offset`, fewer at the end of the file. */
  read(offset: number, len: number): Uint8Array {
    const n = Math.max(0, Math.min(len, this.size - offset))
    const out = new Uint8Array(n)
    let done = 0
    while (done < n) {
      const pos = offset + done
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
    for (let i = first; i <= last; i++) if (!this.pages.has(i)) missing++
    if (missing > 0 && !this.space.take(missing)) return false
    let done = 0
    while (done < data.length) {
      const pos = offset + done
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
      if (freed > 0) this.space.give(freed)
      // a later growth must read zeros where the old bytes were
      const tail = this.pages.get(keep - 1)
      const within = size - (keep - 1) * PAGE_SIZE
      if (tail !== undefined && within < PAGE_SIZE) tail.fill(0, within)
    }
    this.size = size
  }

  /** Gives every page back (the file is gone). */
  clear(): void {
    this.space.give(this.pages.size)
    this.pages.clear()
    this.size = 0
  }
}
