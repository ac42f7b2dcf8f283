/** `sysproxy <tool> ...`: the root command with every tool under it. */
import { Command } from "effect/cli"
import { cat } from "./commands/Cat.ts"
import { get } from "./commands/Get.ts"
import { halt } from "./commands/Halt.ts"
import { inject } from "./commands/Inject.ts"
import { ls } from "./commands/Ls.ts"
import { mkdir } from "./commands/Mkdir.ts"
import { ps } from "./commands/Ps.ts"
import { put } from "./commands/Put.ts"
import { rm } from "./commands/Rm.ts"
import { stat } from "./commands/Stat.ts"
import { sysctl } from "./commands/Sysctl.ts"
import { trace } from "./commands/Trace.ts"
import { root } from "./Root.ts"

export const command = root.pipe(
  Command.withSubcommands([halt, sysctl, ls, cat, put, get, mkdir, rm, stat, ps, trace, inject]),
  Command.withExamples([
    { command: "RUMP_SERVER=unix:///tmp/rump.sock sysproxy ls -l /", description: "list the server's root" },
    { command: "sysproxy --server unix:///tmp/rump.sock sysctl kern.hostname", description: "name the server explicitly" },
    { command: "sysproxy put ./notes.txt /tmp/", description: "copy a host file to the server" },
    { command: "sysproxy halt", description: "stop the server" }
  ])
)
