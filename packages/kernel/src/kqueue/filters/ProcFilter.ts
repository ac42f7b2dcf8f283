/**
 * EVFILT_PROC (kern_event.c's filt_procattach, filt_proc): a knote on a
 * process, by pid. The process tells its knotes NOTE_FORK (with the new
 * pid in the low bits), NOTE_EXEC and NOTE_EXIT (proc/Proc.ts, Kernel.ts).
 * - attach: ESRCH for no such live process; EACCES unless the caller is
 *   root or has the process's uid (KAUTH_PROCESS_KEVENT_FILTER); EV_CLEAR
 *   is set.
 * - an event the knote asked for (fflags) is recorded; NOTE_EXIT always
 *   activates it, with data the exit status (0: a process here only ever
 *   goes with its client), EV_EOF and EV_ONESHOT, and detaches it from the
 *   process, which is gone.
 * - NOTE_TRACK: following a fork would attach a knote to the child, but a
 *   fork here is a prefork the client binds later to a new process, so the
 *   child cannot be tracked: NOTE_TRACKERR is reported with NOTE_FORK.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { evFlags, notes } from "../../abi/Kevent.ts"
import { isRoot } from "../../kauth/Cred.ts"
import type { KernelState } from "../../KernelState.ts"
import type { Proc } from "../../proc/Proc.ts"
import { KN_DETACHED, type Knote } from "../Knote.ts"

/** The exit status NOTE_EXIT reports (p_xstat, never set in a rump kernel). */
const EXIT_STATUS = 0n

const event = (p: Proc) => (k: Knote, hint: number): boolean => {
  const ev = (hint & notes.NOTE_PCTRLMASK) >>> 0
  const fflag = (k.sfflags & ev) !== 0 ? ev : 0
  if (ev === notes.NOTE_EXIT) {
    k.data = EXIT_STATUS
    p.knotes.remove(k)
    k.status |= KN_DETACHED
    k.flags |= evFlags.EV_EOF | evFlags.EV_ONESHOT
    k.fflags |= fflag
    return true
  }
  if (ev === notes.NOTE_FORK && (k.sfflags & notes.NOTE_TRACK) !== 0) k.fflags |= notes.NOTE_TRACKERR
  k.fflags |= fflag
  return k.fflags !== 0
}

export const procAttach = (kernel: KernelState, caller: Proc, kn: Knote): number => {
  const p = kernel.procs.get(Number(BigInt.asIntN(32, kn.ident)))
  if (p === undefined || p.released) return Errno.ESRCH
  // kqueue_listener_cb: root, or the same real uid on a process that has not changed ids
  if (!isRoot(caller) && (p.cred.uid !== caller.cred.uid || p.sugid)) return Errno.EACCES
  kn.flags |= evFlags.EV_CLEAR
  kn.fop = {
    event: event(p),
    detach: (k) => {
      if ((k.status & KN_DETACHED) === 0) p.knotes.remove(k)
    }
  }
  p.knotes.add(kn)
  return 0
}
