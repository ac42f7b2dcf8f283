/**
 * The client process a tool works in when it is not to connect its own:
 * `sysproxy sh` runs every command of its session in one process (one
 * connection, one cwd), and says so here.
 */
import type { SysproxyProcess } from "@sysproxy/client"
import { Context } from "effect"

export const ShellProcess = Context.Reference<SysproxyProcess | undefined>("@sysproxy/ctl/ShellProcess", {
  defaultValue: () => undefined
})
