import { defineProject } from "vitest/config"

export default defineProject({
  ssr: { resolve: { conditions: ["@sysproxy/source"] } },
  test: { name: "server-app", include: ["test/**/*.test.ts"] }
})
