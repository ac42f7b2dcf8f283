#!/usr/bin/env node
// The `sysproxy` command: runs the built app (dist/, from `npm run build`).
// It lives outside dist/ so that npm links the bin at install time, before
// the build. Effect 4 needs Node 22.19 or later; under an older `node` on
// PATH it re-runs itself on the Node the workspace pins (the `node` package).
import { spawnSync } from "node:child_process"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

const [major = 0, minor = 0] = process.versions.node.split(".").map(Number)
if (major > 22 || (major === 22 && minor >= 19)) {
  await import("../dist/main.js")
} else {
  let pinned
  try {
    pinned = createRequire(import.meta.url).resolve("node/bin/node")
  } catch {
    process.stderr.write(`sysproxy: needs Node 22.19 or later (this is ${process.version})\n`)
    process.exit(1)
  }
  const run = spawnSync(pinned, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: "inherit" })
  process.exit(run.status ?? 1)
}
