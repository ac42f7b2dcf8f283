/**
 * Knotes on files of the file system (genfs_kqfilter, as tmpfs uses it):
 * - EVFILT_READ: data is the bytes from the file offset to the end (size
 *   minus offset, so negative past the end); active when that is not 0.
 * - EVFILT_VNODE: records each event the vnode reports (VnodeEvents.ts)
 *   when the knote asked for any bit of it, and is active while it has
 *   recorded something; NOTE_REVOKE also sets EV_EOF.
 * - anything else (EVFILT_WRITE included) is EINVAL.
 * NOTE_REVOKE makes a read knote EV_EOF and EV_ONESHOT.
 *
 * Devices that take any knote (seltrue_kqfilter, /dev/null and /dev/zero)
 * are always readable and writable with data 0, EINVAL for other filters.
 */
import { Errno } from "@sysproxy/protocol/netbsd"
import { evFlags, evfilt, notes } from "../../abi/Kevent.ts"
import type { File } from "../../fd/File.ts"
import { sizeOf } from "../../vfs/Attributes.ts"
import type { Knote } from "../Knote.ts"

export const vnodeKqfilter = (file: File, kn: Knote): number => {
  const node = file.vnode
  if (node === undefined) return Errno.EOPNOTSUPP
  const detach = (k: Knote) => node.knotes.remove(k)
  switch (kn.filter) {
    case evfilt.EVFILT_READ:
      kn.fop = {
        event: (k, hint) => {
          if (hint === notes.NOTE_REVOKE) {
            k.flags |= evFlags.EV_EOF | evFlags.EV_ONESHOT
            return true
          }
          k.data = BigInt(sizeOf(node)) - file.offset
          return k.data !== 0n
        },
        detach
      }
      break
    case evfilt.EVFILT_VNODE:
      kn.fop = {
        event: (k, hint) => {
          if ((k.sfflags & hint) !== 0) k.fflags |= hint
          if (hint === notes.NOTE_REVOKE) {
            k.flags |= evFlags.EV_EOF
            return true
          }
          return k.fflags !== 0
        },
        detach
      }
      break
    default:
      return Errno.EINVAL
  }
  node.knotes.add(kn)
  return 0
}

/** seltrue_kqfilter: readable and writable, always, with nothing to count. */
export const seltrueKqfilter = (_file: File, kn: Knote): number => {
  if (kn.filter !== evfilt.EVFILT_READ && kn.filter !== evfilt.EVFILT_WRITE) return Errno.EINVAL
  kn.fop = {
    event: (k) => {
      k.data = 0n
      return true
    },
    detach: () => {}
  }
  return 0
}
