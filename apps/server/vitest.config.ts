import { defineProject } from "vitest/config"

export default defineProject({
  ssr: { resolve: { conditions: ["@sysproxy/source"] } },
  // every test starts the app as a child process (Node on TypeScript sources): seconds each on a busy machine
  test: { name: "server-app", include: ["test/**/*.test.ts"], testTimeout: 120_000 }
})
