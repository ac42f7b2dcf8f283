/**
 * A small seeded PRNG (xorshift32) for fuzz tests: the same seed gives the
 * same sequence, so a failing case replays from its seed.
 */
export class Rng {
  private s: number
  constructor(seed: number) {
    this.s = (seed >>> 0) || 0x9e3779b9
  }
  next(): number {
    let x = this.s
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    this.s = x
    return x
  }
  int(n: number): number {
    return this.next() % n
  }
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p
  }
  pick<A>(xs: ReadonlyArray<A>): A {
    return xs[this.int(xs.length)]!
  }
  bytes(n: number): Uint8Array {
    const b = new Uint8Array(n)
    for (let i = 0; i < n; i++) b[i] = this.next() & 0xff
    return b
  }
  u64(): bigint {
    switch (this.int(4)) {
      case 0:
        return BigInt(this.int(16))
      case 1:
        return BigInt(this.int(1 << 20))
      case 2:
        return (BigInt(this.next()) << 32n) | BigInt(this.next())
      default:
        return 0xffff_ffff_ffff_ffffn - BigInt(this.int(4))
    }
  }
}
