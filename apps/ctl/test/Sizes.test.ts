/**
 * Sizes as -h prints them: humanize_number(3)'s arithmetic into a 5-byte
 * buffer (HN_AUTOSCALE, HN_DECIMAL | HN_B | HN_NOSPACE), the values from
 * the C function itself.
 */
import { assert, describe, it } from "@effect/vitest"
import { humanSize } from "../src/format/Sizes.ts"

describe("humanSize", () => {
  it("gives what humanize_number gives, at the edges of each unit", () => {
    const cases: ReadonlyArray<readonly [number, string]> = [
      [0, "0B"],
      [999, "999B"],
      [1000, "1.0K"],
      [1023, "1.0K"],
      [1536, "1.5K"],
      [5000, "4.9K"],
      [10188, "9.9K"],
      [10239, "10K"],
      [1022976, "999K"],
      [1047552, "1.0M"],
      [123456789, "118M"],
      [5 * 1024 ** 3, "5.0G"]
    ]
    for (const [bytes, text] of cases) assert.strictEqual(humanSize(bytes), text, String(bytes))
  })
})
