import { expect, it } from "vitest"

// npm scripts must run on the pinned Node 24 (Effect 4 needs >= 22.19); a
// fall-back to the system Node 20 would otherwise go unnoticed.
it("runs on the pinned Node 24", () => {
  expect(process.versions.node.split(".")[0]).toBe("24")
})
