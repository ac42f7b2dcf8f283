import { assert, describe, it } from "@effect/vitest"
import { LinkedSet } from "../src/kern/LinkedSet.ts"
import { Lwp } from "../src/proc/Lwp.ts"
import type { Proc } from "../src/proc/Proc.ts"

// the set only reads the lwps' own links, so a process is never consulted
const proc = {} as Proc
const lwps = (n: number) => Array.from({ length: n }, (_, i) => new Lwp(proc, i + 1))
const lids = (list: LinkedSet<Lwp>) => [...list].map((l) => l.lid)

describe("LinkedSet (a process's lwps in the kernel, a kqueue's active knotes)", () => {
  it("adds, finds and deletes as a Set does, iterating in the order of arrival", () => {
    const list = new LinkedSet<Lwp>()
    const [a, b, c, d] = lwps(4)
    list.add(a!).add(b!).add(c!)
    list.add(b!) // already there: no second entry
    assert.strictEqual(list.size, 3)
    assert.deepStrictEqual(lids(list), [1, 2, 3])
    assert.strictEqual(list.first(), a)
    assert.isTrue(list.has(b!))
    assert.isFalse(list.has(d!))
    assert.isTrue(list.delete(b!))
    assert.isFalse(list.delete(b!))
    assert.isFalse(list.has(b!))
    assert.deepStrictEqual(lids(list), [1, 3])
    list.delete(a!)
    assert.deepStrictEqual(lids(list), [3])
    list.add(d!).add(a!)
    assert.deepStrictEqual(lids(list), [3, 4, 1])
    list.delete(a!)
    list.delete(c!)
    list.delete(d!)
    assert.strictEqual(list.size, 0)
    assert.deepStrictEqual(lids(list), [])
    assert.isUndefined(list.first())
  })

  it("a member of one set is not in another, and a deleted one can come back", () => {
    const one = new LinkedSet<Lwp>()
    const other = new LinkedSet<Lwp>()
    const [a] = lwps(1)
    one.add(a!)
    assert.isFalse(other.has(a!))
    assert.isFalse(other.delete(a!))
    assert.strictEqual(one.size, 1)
    one.delete(a!)
    other.add(a!)
    assert.isTrue(other.has(a!))
    assert.isFalse(one.has(a!))
  })

  it("visits every lwp present when the loop began, whatever the loop deletes", () => {
    const list = new LinkedSet<Lwp>()
    const all = lwps(4)
    for (const l of all) list.add(l)
    // ordering an lwp out may end its call, which takes it (or another) off the list at once
    const seen: Array<number> = []
    for (const l of list) {
      seen.push(l.lid)
      list.delete(l)
      if (l.lid === 1) list.delete(all[2]!)
    }
    assert.deepStrictEqual(seen, [1, 2, 3, 4])
    assert.strictEqual(list.size, 0)
  })
})
