/**
 * The syscall table: every family's implementations by syscall number.
 * A number missing here answers ENOSYS (and is counted).
 */
import { family as aio } from "./aio.ts"
import { family as chroot } from "./chroot.ts"
import { family as compat } from "./compat.ts"
import { family as credentials } from "./credentials.ts"
import { family as descriptors } from "./descriptors.ts"
import { family as directories } from "./directories.ts"
import { family as files } from "./files.ts"
import { family as handles } from "./handles.ts"
import { family as kqueue } from "./kqueue.ts"
import { family as ktrace } from "./ktrace.ts"
import { family as limits } from "./limits.ts"
import { family as modules } from "./modules.ts"
import { family as mounts } from "./mounts.ts"
import { family as pipes } from "./pipes.ts"
import { family as poll } from "./poll.ts"
import { family as process } from "./process.ts"
import { family as quota } from "./quota.ts"
import { family as semaphores } from "./semaphores.ts"
import { family as sessions } from "./sessions.ts"
import { family as signals } from "./signals.ts"
import { family as sockets } from "./sockets.ts"
import { family as special } from "./special.ts"
import type { SyscallImpl } from "./SyscallImpl.ts"
import { family as sysctl } from "./sysctl.ts"
import { family as time } from "./time.ts"
import { family as timers } from "./timers.ts"
import { family as xattrs } from "./xattrs.ts"

export const syscallTable: ReadonlyMap<number, SyscallImpl> = new Map([
  ...descriptors,
  ...files,
  ...directories,
  ...mounts,
  ...handles,
  ...quota,
  ...modules,
  ...semaphores,
  ...aio,
  ...ktrace,
  ...special,
  ...pipes,
  ...poll,
  ...process,
  ...credentials,
  ...sessions,
  ...limits,
  ...chroot,
  ...sysctl,
  ...time,
  ...timers,
  ...kqueue,
  ...signals,
  ...sockets,
  ...xattrs,
  ...compat
])
