import { defineProject } from "vitest/config"

export default defineProject({
  ssr: { resolve: { conditions: ["@sysproxy/source"] } },
  test: { name: "ctl", include: ["test/**/*.test.ts"] }
})
