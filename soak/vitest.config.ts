import { defineProject } from "vitest/config"

export default defineProject({
  ssr: { resolve: { conditions: ["@sysproxy/source"] } },
  test: { name: "soak", include: ["test/**/*.test.ts"], testTimeout: 120_000, hookTimeout: 60_000 }
})
