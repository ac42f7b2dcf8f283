/**
 * Every tool, each its own command: the list `sysproxy` and `sysproxy sh`
 * both offer. A new tool is one import and one entry here.
 */
import { cat } from "./commands/Cat.ts"
import { chmod } from "./commands/Chmod.ts"
import { chown } from "./commands/Chown.ts"
import { cp } from "./commands/Cp.ts"
import { dd } from "./commands/Dd.ts"
import { df } from "./commands/Df.ts"
import { du } from "./commands/Du.ts"
import { find } from "./commands/Find.ts"
import { get } from "./commands/Get.ts"
import { halt } from "./commands/Halt.ts"
import { id } from "./commands/Id.ts"
import { ln } from "./commands/Ln.ts"
import { ls } from "./commands/Ls.ts"
import { mkdir } from "./commands/Mkdir.ts"
import { mv } from "./commands/Mv.ts"
import { ps } from "./commands/Ps.ts"
import { put } from "./commands/Put.ts"
import { rm } from "./commands/Rm.ts"
import { stat } from "./commands/Stat.ts"
import { sysctl } from "./commands/Sysctl.ts"
import { tail } from "./commands/Tail.ts"
import { touch } from "./commands/Touch.ts"

export const tools = [
  halt,
  sysctl,
  ls,
  cat,
  put,
  get,
  cp,
  mv,
  ln,
  mkdir,
  rm,
  chmod,
  chown,
  touch,
  stat,
  ps,
  df,
  du,
  find,
  dd,
  tail,
  id
] as const

export const TOOL_NAMES: ReadonlySet<string> = new Set(tools.map((t) => t.name))
