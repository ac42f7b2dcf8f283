/**
 * Registering a change with a kqueue (kern_event.c's kqueue_register) and
 * the filters there are (sys_kfilters):
 * - EVFILT_READ, EVFILT_WRITE, EVFILT_VNODE watch a descriptor (ident; EBADF
 *   when it is not open) through its file's kqfilter;
 * - EVFILT_PROC a process, EVFILT_TIMER a timer of its own;
 * - EVFILT_SIGNAL is a rump kernel's: its attach answers EOPNOTSUPP, as
 *   the signals of a rump kernel's clients are theirs;
 * - EVFILT_AIO and anything from EVFILT_SYSCOUNT up (EVFILT_USER of later
 *   NetBSDs included) are no filter: EINVAL.
 *
 * EV_ADD adds the knote, or updates the fflags, data and udata of the one
 * there is (a fired event is not reset by that), and checks its event at
 * once; without EV_ADD a missing knote is ENOENT, and EV_DELETE removes it.
 * EV_DISABLE and EV_ENABLE then apply. A knote's flags are those it was
 * added with, which every event it reports carries.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { evFlags, evfilt, type Kevent } from "../abi/Kevent.ts"
import type { File } from "../fd/File.ts"
import type { KernelState } from "../KernelState.ts"
import type { Proc } from "../proc/Proc.ts"
import { procAttach } from "./filters/ProcFilter.ts"
import { timerAttach } from "./filters/TimerFilter.ts"
import { KN_DISABLED, Knote } from "./Knote.ts"
import type { KQueue } from "./KQueue.ts"

/** Who registers: the kernel and the calling process (whose descriptors an fd filter names). */
export interface Registrar {
  readonly kernel: KernelState
  readonly proc: Proc
}

interface Filter {
  /** f_isfd: ident is a descriptor. */
  readonly isFd: boolean
  /** f_attach: an errno, or 0 with the knote attached to what it watches. */
  readonly attach: (r: Registrar, kn: Knote) => number
}

/** filt_fileattach: the file's own kqfilter (fnullop_kqfilter, EOPNOTSUPP, for a file without one). */
const fileFilter: Filter = {
  isFd: true,
  attach: (_r, kn) => {
    const file = kn.file as File
    return file.ops.kqfilter === undefined ? Errno.EOPNOTSUPP : file.ops.kqfilter(file, kn)
  }
}

const filters: ReadonlyArray<Filter | undefined> = [
  fileFilter,
  fileFilter,
  undefined,
  fileFilter,
  { isFd: false, attach: (r, kn) => procAttach(r.kernel, r.proc, kn) },
  { isFd: false, attach: () => Errno.EOPNOTSUPP },
  { isFd: false, attach: (r, kn) => timerAttach(r.kernel.callouts, kn) }
]

/** kqueue_register: 0, or the errno the change fails with. */
export const register = (r: Registrar, kq: KQueue, kev: Kevent): number => {
  const filter = kev.filter < evfilt.EVFILT_SYSCOUNT ? filters[kev.filter] : undefined
  if (filter === undefined) return Errno.EINVAL

  let kn: Knote | undefined
  let file: File | undefined
  // fd_getfile takes the ident as an int
  const fd = filter.isFd ? Number(BigInt.asIntN(32, kev.ident)) : -1
  if (filter.isFd) {
    file = r.proc.fds.get(fd)?.file
    if (file === undefined) return Errno.EBADF
    kn = kq.find(kev.filter, BigInt(fd))
  } else {
    kn = kq.find(kev.filter, kev.ident)
  }

  if ((kev.flags & evFlags.EV_ADD) !== 0) {
    if (kn === undefined) {
      kn = new Knote(kq, kev.ident, kev.filter, kev.flags, kev.udata, kev.fflags, kev.data, file, fd)
      // what a failed add reports back: the change with its fflags and data cleared
      kev.fflags = 0
      kev.data = 0n
      kq.insert(kn)
      const error = filter.attach(r, kn)
      if (error !== 0) {
        kq.drop(kn, false)
        return error
      }
    } else {
      kn.sfflags = kev.fflags
      kn.sdata = kev.data
      kn.udata = kev.udata
    }
    if (kn.fop.event(kn, 0)) kq.activate(kn)
  } else {
    if (kn === undefined) return Errno.ENOENT
    if ((kev.flags & evFlags.EV_DELETE) !== 0) {
      kq.drop(kn, true)
      return 0
    }
  }
  if ((kev.flags & evFlags.EV_DISABLE) !== 0) kn.status |= KN_DISABLED
  if ((kev.flags & evFlags.EV_ENABLE) !== 0) kq.enable(kn)
  return 0
}
