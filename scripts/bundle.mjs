#!/usr/bin/env node
// The installed commands as one minified ES module each, built from the
// TypeScript sources (the @sysproxy/source condition) by rolldown:
//
//   apps/ctl/dist/bundle/sysproxy.js            (apps/ctl/src/main.ts)
//   apps/server/dist/bundle/sysproxy-server.js  (apps/server/src/main.ts)
//   apps/server/dist/bundle/rump_server.js      (apps/server/src/rump_server.ts)
//
// One file per command, no shared chunks: Node then reads and compiles one
// module (from its compile cache, which @sysproxy/launch enables) instead
// of the hundreds of files `effect` ships as, which is most of the time a
// command takes to start. Why rolldown and not esbuild: measured on
// `sysproxy ls /` (BENCHMARKS.md, cli section), rolldown's tree-shaking
// gives a bundle half the size that starts about a third faster.
//
// Usage: node scripts/bundle.mjs (part of `npm run build`)

import { rmSync } from "node:fs"
import { dirname, join, resolve } from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "rolldown"

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..")

/** Each command: its entry point and where its bundle goes. */
export const BUNDLES = [
  { name: "sysproxy", entry: "apps/ctl/src/main.ts", dir: "apps/ctl/dist/bundle" },
  { name: "sysproxy-server", entry: "apps/server/src/main.ts", dir: "apps/server/dist/bundle" },
  { name: "rump_server", entry: "apps/server/src/rump_server.ts", dir: "apps/server/dist/bundle" }
]

for (const dir of new Set(BUNDLES.map((b) => b.dir))) rmSync(join(root, dir), { recursive: true, force: true })

for (const { dir, entry, name } of BUNDLES) {
  await build({
    cwd: root,
    input: { [name]: join(root, entry) },
    platform: "node",
    logLevel: "warn",
    // a node: builtin imported only by code that is dropped is not loaded either (Node loads http2, tls, zlib ... eagerly)
    treeshake: { moduleSideEffects: (_id, external) => (external ? false : undefined) },
    resolve: { conditionNames: ["@sysproxy/source", "node", "import", "default"] },
    output: {
      dir: join(root, dir),
      format: "esm",
      minify: true,
      // one file: a dynamic import stays in it rather than becoming a chunk to read at run time
      codeSplitting: false
    }
  })
}
