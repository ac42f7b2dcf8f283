/**
 * What the installed commands run (plain JavaScript, so npm can link and
 * chmod the bins at install time, before anything is built): a compiled
 * program in some dist/. Effect 4 needs Node >= 22.19; on an older Node (a
 * shell's system Node) the program is run on the Node the repository pins
 * (the `node` package in node_modules), with signals passed on and its
 * exit status (or the signal that ended it) kept.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { fileURLToPath } from "node:url"

const recentEnough = () => {
  const [major, minor] = process.versions.node.split(".").map(Number)
  return major > 22 || (major === 22 && minor >= 19)
}

/** The `node` package's binary, as Node's resolution finds it from here. */
const pinnedNode = () => {
  try {
    return createRequire(import.meta.url).resolve("node/bin/node")
  } catch {
    return undefined
  }
}

/**
 * Runs the program at `programUrl` (a file: URL, e.g. new URL("../dist/main.js",
 * import.meta.url)) as the command `name`, with this process's arguments.
 */
export const launch = async (name, programUrl) => {
  const program = fileURLToPath(programUrl)
  if (!existsSync(program)) {
    process.stderr.write(`${name}: not built yet (no ${program}); run npm run build\n`)
    process.exit(1)
  }
  if (recentEnough()) {
    await import(programUrl.href)
    return
  }
  const node = pinnedNode()
  if (node === undefined) {
    process.stderr.write(`${name}: needs Node 22.19 or later, this is ${process.version}\n`)
    process.exit(1)
  }
  // a process group of its own: a terminal's Ctrl-C reaches it once, through us
  const child = spawn(node, [program, ...process.argv.slice(2)], { stdio: "inherit", detached: true })
  child.on("error", (e) => {
    process.stderr.write(`${name}: cannot run ${node}: ${e.message}\n`)
    process.exit(1)
  })
  const signals = ["SIGINT", "SIGTERM", "SIGHUP", "SIGQUIT"]
  const forward = (signal) => child.kill(signal)
  for (const s of signals) process.on(s, forward)
  child.on("exit", (code, signal) => {
    for (const s of signals) process.off(s, forward)
    if (signal !== null) process.kill(process.pid, signal)
    else process.exit(code ?? 1)
  })
}
