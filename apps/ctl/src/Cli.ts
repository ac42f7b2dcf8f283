/** `sysproxy <tool> ...`: the root command with every tool (Tools.ts), the shell, and the server-side tools (trace, inject) under it. */
import { Command } from "effect/cli"
import { inject } from "./commands/Inject.ts"
import { sh } from "./commands/Sh.ts"
import { trace } from "./commands/Trace.ts"
import { root } from "./Root.ts"
import { tools } from "./Tools.ts"

export const command = root.pipe(
  Command.withSubcommands([...tools, sh, trace, inject]),
  Command.withExamples([
    { command: "RUMP_SERVER=unix:///tmp/rump.sock sysproxy ls -l /", description: "list the server's root" },
    { command: "sysproxy --server unix:///tmp/rump.sock sysctl kern.hostname", description: "name the server explicitly" },
    { command: "sysproxy cp host:./notes.txt /tmp/", description: "copy a host file to the server" },
    { command: "sysproxy sh -c 'cd /tmp; ls -l'", description: "several commands in one process" },
    { command: "sysproxy halt", description: "stop the server" }
  ])
)
