import { defineProject } from "vitest/config"

export default defineProject({
  ssr: { resolve: { conditions: ["@sysproxy/source"] } },
  test: { name: "interop", include: ["test/**/*.test.ts"], testTimeout: 30_000, hookTimeout: 30_000 }
})
