/**
 * What the installed commands run (plain JavaScript, so npm can link and
 * chmod the bins at install time, before anything is built): a bundled
 * program in some dist/bundle/, compiled through Node's module compile
 * cache so that a second start skips the parse. Effect 4 needs Node >=
 * 22.19; on an older Node (`node bin/x.js` with a shell's system Node) the
 * program is run on the Node the repository pins (the `node` package in
 * node_modules), with signals passed on and its exit status (or the signal
 * that ended it) kept.
 *
 * The bins themselves are shell/JavaScript polyglots (see BIN_PRELUDE):
 * run as commands, /bin/sh execs the pinned Node on them straight away,
 * so an old system Node never starts at all.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import * as Module from "node:module"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"

/**
 * The first lines of every bin: `#!/bin/sh`, then a line that sh reads as
 * `:` (a no-op) followed by an exec of the pinned Node on the bin's real
 * path (the node_modules/.bin link resolved), or of `node` on PATH when
 * there is no pinned one; JavaScript reads the same line as a string and a
 * comment. Kept here so a test can check every bin starts with it.
 */
export const BIN_PRELUDE = [
  "#!/bin/sh",
  `':' //; p=$(readlink -f -- "$0" 2>/dev/null || echo "$0"); n="\${p%/*}/../../../node_modules/.bin/node"; [ -x "$n" ] || n=node; exec "$n" "$p" "$@"`
]

const recentEnough = () => {
  const [major, minor] = process.versions.node.split(".").map(Number)
  return major > 22 || (major === 22 && minor >= 19)
}

/** The `node` package's binary, as Node's resolution finds it from here. */
const pinnedNode = () => {
  try {
    return Module.createRequire(import.meta.url).resolve("node/bin/node")
  } catch {
    return undefined
  }
}

/**
 * Turns on the compile cache (Node's default directory, or
 * NODE_COMPILE_CACHE), and names it in the environment so that programs
 * the command starts (rump_server's daemon) use it too.
 */
const enableCompileCache = () => {
  const result = Module.enableCompileCache?.()
  const dir = result?.directory ?? Module.getCompileCacheDir?.()
  if (dir !== undefined && process.env.NODE_COMPILE_CACHE === undefined) process.env.NODE_COMPILE_CACHE = dir
}

/**
 * Runs the program at `programUrl` (a file: URL, e.g. new URL("../dist/bundle/x.js",
 * import.meta.url)) as the command `name`, with this process's arguments.
 */
export const launch = async (name, programUrl) => {
  const program = fileURLToPath(programUrl)
  if (!existsSync(program)) {
    process.stderr.write(`${name}: not built yet (no ${program}); run npm run build\n`)
    process.exit(1)
  }
  if (recentEnough()) {
    enableCompileCache()
    await import(programUrl.href)
    return
  }
  const node = pinnedNode()
  if (node === undefined) {
    process.stderr.write(`${name}: needs Node 22.19 or later, this is ${process.version}\n`)
    process.exit(1)
  }
  // a process group of its own: a terminal's Ctrl-C reaches it once, through us
  // NODE_COMPILE_CACHE: the child's own compile cache, in Node's default place
  const child = spawn(node, [program, ...process.argv.slice(2)], {
    stdio: "inherit",
    detached: true,
    env: { NODE_COMPILE_CACHE: join(tmpdir(), "node-compile-cache"), ...process.env }
  })
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
